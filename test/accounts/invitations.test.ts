import type { FastifyInstance } from 'fastify'
import type { ParsedMail } from 'mailparser'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { INVITATION_TTL_MS } from '../../accounts/invitations.ts'
import { ADMIN_TOKEN, rows, testApp, visitorIp } from '../helpers/app.ts'
import { startMailServer, type MailServer } from '../helpers/smtp.ts'

/**
 * Invitations through the whole app on the embedded store: a link is good once and for 7 days, a
 * withdrawn one stops working, a name taken meanwhile leaves the link unspent, a role changed or
 * taken away applies to the user's open session at once, and the e-mail with the link reaches a
 * real SMTP server this test starts (`smtp-server`), read back as a mail client would (`mailparser`).
 */
const SITE = 'example.com'
const OTHER = 'other.example.com'

interface Made { id: string; token: string; accept_path: string; emailed: boolean; created_at: string; expires_at: string }

const inbox: ParsedMail[] = []
let mailServer: MailServer
let app: FastifyInstance
beforeAll(async () => {
  mailServer = await startMailServer(inbox)
  app = await testApp({ smtp: mailServer.settings }, [SITE, OTHER])
})
afterAll(async () => {
  await app?.close()
  await mailServer?.close()
})
beforeEach(() => {
  inbox.length = 0
})
afterEach(() => {
  vi.useRealTimers()
})

// each call from a client of its own: accepting and signing in are rate-limited per client
let clients = 0
const fromNewClient = () => ({ 'x-forwarded-for': visitorIp(clients++) })

function asAdmin(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = {}) {
  return app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers }, ...(payload ? { payload } : {}) })
}
function as(bearer: string, method: 'GET' | 'POST', url: string, payload?: object) {
  return app.inject({ method, url, headers: { authorization: `Bearer ${bearer}` }, ...(payload ? { payload } : {}) })
}
async function invite(name: string, role: 'viewer' | 'admin' = 'viewer', extra: object = {}, headers: Record<string, string> = {}): Promise<Made> {
  const res = await asAdmin('POST', '/api/v1/invitations', { name, site: SITE, role, ...extra }, headers)
  expect(res.statusCode, res.body).toBe(201)
  return res.json()
}
const accept = (token: string, password: string) =>
  app.inject({ method: 'POST', url: '/api/v1/invitations/accept', headers: fromNewClient(), payload: { token, password } })
const signIn = async (user: string, password: string) =>
  (await app.inject({ method: 'POST', url: '/api/v1/login', headers: fromNewClient(), payload: { user, password } })).statusCode
const pending = async (): Promise<string[]> => (await asAdmin('GET', '/api/v1/invitations')).json().invitations.map((i: { id: string }) => i.id)
const rolesOf = async (name: string) =>
  (await asAdmin('GET', '/api/v1/users')).json().users.find((u: { name: string }) => u.name === name)?.roles

describe('an invitation link', () => {
  it('works once: the second use answers 400 and sets no password', async () => {
    const made = await invite('ivy')
    const first = await accept(made.token, 'the password ivy chose')
    expect(first.statusCode, first.body).toBe(200)
    expect((await as(first.json().token, 'GET', '/api/v1/me')).json()).toEqual({ user: 'ivy', roles: [{ site: SITE, role: 'viewer' }] })
    const second = await accept(made.token, 'a password someone else chose')
    expect(second.statusCode).toBe(400)
    expect(second.json().error).toMatch(/used or withdrawn/)
    expect(await signIn('ivy', 'a password someone else chose')).toBe(401)
    expect(await signIn('ivy', 'the password ivy chose')).toBe(200)
    expect(await pending()).not.toContain(made.id)
  })

  it('stops working once withdrawn', async () => {
    const made = await invite('wendy')
    expect(await pending()).toContain(made.id)
    const withdrawn = await asAdmin('DELETE', `/api/v1/invitations/${made.id}`)
    expect(withdrawn.json()).toEqual({ id: made.id, withdrawn: true })
    expect(await pending()).not.toContain(made.id)
    const res = await accept(made.token, 'a password for wendy')
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toMatch(/used or withdrawn/)
    expect(await rolesOf('wendy')).toBeUndefined()
    expect((await asAdmin('DELETE', `/api/v1/invitations/${made.id}`)).statusCode).toBe(404)
  })

  it('a name taken meanwhile answers 409, leaves that user as they were, and leaves the link good', async () => {
    const made = await invite('taken', 'admin')
    const meanwhile = await asAdmin('POST', '/api/v1/users', { name: 'taken', password: 'the first to take the name', role: 'viewer', site: OTHER })
    expect(meanwhile.statusCode).toBe(201)
    const refused = await accept(made.token, 'the invitee password')
    expect(refused.statusCode).toBe(409)
    // neither their password nor their roles changed
    expect(await signIn('taken', 'the invitee password')).toBe(401)
    expect(await signIn('taken', 'the first to take the name')).toBe(200)
    expect(await rolesOf('taken')).toEqual([{ site: OTHER, role: 'viewer' }])
    // nothing was made, so nothing was spent: the link works once the name is free again
    expect(await pending()).toContain(made.id)
    expect((await asAdmin('DELETE', '/api/v1/users/taken')).statusCode).toBe(200)
    const joined = await accept(made.token, 'the invitee password')
    expect(joined.statusCode, joined.body).toBe(200)
    expect(await rolesOf('taken')).toEqual([{ site: SITE, role: 'admin' }])
    expect((await accept(made.token, 'the invitee password')).statusCode).toBe(400)
  })
})

describe("a role changed or taken away applies to the user's open session at once", () => {
  it('a demotion from admin to viewer, then the removal of the role', async () => {
    const session = (await accept((await invite('demoted', 'admin')).token, 'the password of demoted')).json().token as string
    const addGoal = (page: string) => as(session, 'POST', '/api/v1/goals', { site: SITE, page })
    const readStats = () => as(session, 'GET', `/api/v1/stats/aggregate?site=${SITE}&period=day&metrics=visitors`)
    expect((await addGoal('/as-admin')).statusCode).toBe(201)

    expect((await asAdmin('PUT', '/api/v1/users/demoted/roles', { site: SITE, role: 'viewer' })).statusCode).toBe(200)
    const refused = await addGoal('/as-viewer')
    expect(refused.statusCode).toBe(403)
    expect(refused.json().error).toBe('your role does not allow this here')
    expect((await readStats()).statusCode).toBe(200)

    expect((await asAdmin('DELETE', `/api/v1/users/demoted/roles?site=${SITE}`)).statusCode).toBe(200)
    expect((await readStats()).statusCode).toBe(403)
    expect((await as(session, 'GET', '/api/v1/me')).json()).toEqual({ user: 'demoted', roles: [] })
  })
})

describe('the invitation e-mail', () => {
  it('reaches the SMTP server with the link in its HTML and text parts, on the host the request was made to', async () => {
    const made = await invite('mailed', 'viewer', { email: 'invitee@example.com' }, { host: 'analytics.example.com:8443' })
    expect(made.emailed).toBe(true)
    await expect.poll(() => inbox.length).toBe(1)
    const [mail] = inbox
    const link = `http://analytics.example.com:8443/accept#${made.token}`
    expect(made.accept_path).toBe(`/accept#${made.token}`)
    expect([mail.to].flat().flatMap((a) => a?.value.map((v) => v.address))).toEqual(['invitee@example.com'])
    expect(mail.from?.value[0].address).toBe('analytics@example.com')
    expect(mail.subject).toBe(`Invitation to the analytics of ${SITE}`)
    expect(mail.text).toContain(link)
    expect(mail.text).toContain('7 days')
    expect(String(mail.html)).toContain(`<a href="${link}">`)
    // the address went to the SMTP server only
    expect(JSON.stringify(await rows(app, 'SELECT * FROM invitations'))).not.toContain('invitee@example.com')
    // and the link in it works
    expect((await accept(new URL(link).hash.slice(1), 'the password from the mail')).statusCode).toBe(200)
  })

  it('behind a trusted proxy, on the scheme and host the proxy names', async () => {
    const made = await invite('proxied', 'viewer', { email: 'invitee@example.com' }, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'stats.example.com' })
    await expect.poll(() => inbox.length).toBe(1)
    const link = `https://stats.example.com/accept#${made.token}`
    expect(inbox[0].text).toContain(link)
    expect(String(inbox[0].html)).toContain(`<a href="${link}">`)
  })

  it('is not sent without an address', async () => {
    const made = await invite('unmailed')
    expect(made.emailed).toBe(false)
    await new Promise((r) => setTimeout(r, 200))
    expect(inbox).toEqual([])
  })
})

describe('an invitation expires', () => {
  // the code's clock is Date.now: set ahead here, and never back while rows written meanwhile matter
  it('after 7 days: good a minute before, refused (and no longer listed) from then on', async () => {
    const start = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now: start })
    const early = await invite('early')
    const late = await invite('late')
    expect(Date.parse(late.expires_at) - Date.parse(late.created_at)).toBe(INVITATION_TTL_MS)
    expect(INVITATION_TTL_MS).toBe(7 * 86_400_000)

    vi.setSystemTime(Date.parse(early.created_at) + INVITATION_TTL_MS - 60_000)
    expect((await accept(early.token, 'the password of early')).statusCode).toBe(200)
    expect(await pending()).toContain(late.id)

    vi.setSystemTime(Date.parse(late.created_at) + INVITATION_TTL_MS)
    expect(await pending()).not.toContain(late.id)
    const res = await accept(late.token, 'the password of late')
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toBe('this invitation has expired: ask for a new one')
    expect(await rolesOf('late')).toBeUndefined()
  })
})
