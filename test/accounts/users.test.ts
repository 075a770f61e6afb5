import { spawn } from 'node:child_process'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditStore } from '../../audit/audit.ts'
import { SCRYPT_CONCURRENCY, SCRYPT_QUEUE, scryptQueue } from '../../accounts/password-hash.ts'
import { ACCOUNT_LOGIN_LIMIT } from '../../accounts/routes/users.ts'
import { TokenStore } from '../../accounts/tokens.ts'
import { ADMIN_TOKEN, rows, tempDataDir, testApp } from '../helpers/app.ts'
import { freePort, runCli, startServer } from '../helpers/process.ts'

const SITE = 'example.com'
const USER = 'marketing'
const PASSWORD = 'plum tree in autumn'
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const root = path.resolve(import.meta.dirname, '../..')

let app: FastifyInstance
/** Each test signs in from its own documentation-range address: the rate limit is per client. */
let nextIp = 1
const ip = () => `198.51.100.${nextIp++}`

function login(user: string, password: string, from = '192.0.2.1') {
  return app.inject({ method: 'POST', url: '/api/v1/login', headers: { 'x-forwarded-for': from }, payload: { user, password } })
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

beforeAll(async () => {
  app = await testApp({}, [SITE])
  const made = await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { name: USER, password: PASSWORD } })
  expect(made.statusCode, made.body).toBe(201)
  expect(made.json()).toMatchObject({ name: USER })
})
afterAll(async () => {
  await app?.close()
})

describe('sign-in with a user name and password', () => {
  it('answers a session token that works as the admin token does', async () => {
    const res = await login(USER, PASSWORD, ip())
    expect(res.statusCode, res.body).toBe(200)
    const { token, expires_at } = res.json() as { token: string; expires_at: string }
    expect(token).toMatch(/^ses_[0-9a-f]{12}_/)
    const hours = (Date.parse(expires_at) - Date.now()) / 3600_000
    expect(hours).toBeGreaterThan(11.9)
    expect(hours).toBeLessThanOrEqual(12)
    expect((await app.inject({ url: `/api/v1/stats/aggregate?site=${SITE}&period=30d`, headers: bearer(token) })).statusCode).toBe(200)
    const sites = await app.inject({ url: '/api/v1/sites', headers: bearer(token) })
    expect(sites.statusCode).toBe(200)
    expect(JSON.stringify(sites.json())).toContain(SITE)
    // a session is no token an admin hands out: the token list never shows it
    const listed = (await app.inject({ url: '/api/v1/tokens', headers: admin })).json() as { tokens: { id: string }[] }
    expect(listed.tokens.map((t) => t.id)).not.toContain(token.split('_')[1])
  })

  it('gives one answer for a wrong password and an unknown user, after a delay', async () => {
    const from = ip()
    const started = Date.now()
    const wrong = await login(USER, 'not the password', from)
    const unknown = await login('nobody-here', PASSWORD, from)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 240)
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401)
      expect(res.json()).toEqual({ error: 'wrong user name or password' })
    }
    expect(wrong.body).toBe(unknown.body)
    expect(Object.keys(wrong.headers).sort()).toEqual(Object.keys(unknown.headers).sort())
  })

  it('signs out: the session stops working at once; the admin token is not affected', async () => {
    const { token } = (await login(USER, PASSWORD, ip())).json() as { token: string }
    expect((await app.inject({ url: '/api/v1/sites', headers: bearer(token) })).statusCode).toBe(200)
    const out = await app.inject({ method: 'POST', url: '/api/v1/logout', headers: bearer(token) })
    expect(out.statusCode, out.body).toBe(200)
    expect(out.json()).toEqual({ signed_out: true })
    const after = await app.inject({ url: '/api/v1/sites', headers: bearer(token) })
    expect(after.statusCode).toBe(401)
    expect(after.json()).toEqual({ error: 'token revoked' })
    expect((await app.inject({ method: 'POST', url: '/api/v1/logout', headers: bearer(token) })).statusCode).toBe(401)
    expect((await app.inject({ method: 'POST', url: '/api/v1/logout', headers: admin })).json()).toEqual({ signed_out: false })
    expect((await app.inject({ url: '/api/v1/sites', headers: admin })).statusCode).toBe(200)
  })

  it('refuses an expired session', async () => {
    const { token } = await app.tokens.createSession(USER, -1000)
    const res = await app.inject({ url: `/api/v1/stats/aggregate?site=${SITE}&period=30d`, headers: bearer(token) })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toEqual({ error: 'token expired' })
    // and one that ends later stops when its time is up
    const clock = { now: Date.now() }
    const store = new TokenStore(app.runtime.store.client, { now: () => clock.now })
    const later = await store.createSession(USER)
    expect((await store.check(later.token)).ok).toBe(true)
    clock.now += 12 * 3600_000 + 1
    expect(await store.check(later.token)).toEqual({ ok: false, reason: 'token expired' })
  })

  it('ends the sessions of a removed user, who can no longer sign in', async () => {
    await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { name: 'leaver', password: PASSWORD } })
    const from = ip()
    const { token } = (await login('leaver', PASSWORD, from)).json() as { token: string }
    const listed = (await app.inject({ url: '/api/v1/users', headers: admin })).json() as { users: { name: string }[] }
    expect(listed.users.map((u) => u.name)).toEqual(['leaver', USER])
    const del = await app.inject({ method: 'DELETE', url: '/api/v1/users/leaver', headers: admin })
    expect(del.json()).toEqual({ name: 'leaver', removed: true })
    expect((await app.inject({ url: '/api/v1/sites', headers: bearer(token) })).statusCode).toBe(401)
    expect((await login('leaver', PASSWORD, from)).statusCode).toBe(401)
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/users/leaver', headers: admin })).statusCode).toBe(404)
    // a session cannot manage users any more than the admin token's holder allows: it is admin
    const session = (await login(USER, PASSWORD, from)).json() as { token: string }
    expect((await app.inject({ url: '/api/v1/users', headers: bearer(session.token) })).statusCode).toBe(200)
  })

  it('refuses weak passwords and odd names', async () => {
    for (const payload of [{ name: 'x', password: 'short' }, { name: 'has space', password: PASSWORD }, { name: '', password: PASSWORD }]) {
      expect((await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload })).statusCode, JSON.stringify(payload)).toBe(400)
    }
  })

  it('stores no password: only a base64url scrypt hash, and the audit stays clean', async () => {
    const stored = await rows<{ name: string; passphrase_hash: string }>(app, 'SELECT * FROM users')
    expect(stored.length).toBeGreaterThan(0)
    const everything = JSON.stringify(stored)
    expect(everything).not.toContain(PASSWORD)
    expect(everything).not.toContain(Buffer.from(PASSWORD).toString('hex'))
    expect(everything).not.toMatch(/[0-9a-f]{32}/)
    const mine = stored.find((r) => r.name === USER)!
    expect(mine.passphrase_hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    expect(JSON.stringify(await rows(app, 'SELECT * FROM tokens'))).not.toContain(PASSWORD)
    const listed = (await app.inject({ url: '/api/v1/users', headers: admin })).body
    for (const s of ['scrypt$', 'passphrase_hash', PASSWORD]) expect(listed).not.toContain(s)
    const report = await auditStore(app.runtime.store.client, app.runtime.policy)
    expect(report.findings.filter((f) => /^(users|tokens)/.test(f.where))).toEqual([])
  })

  it('allows 10 sign-in attempts a minute per client, then answers 429 with Retry-After', async () => {
    const from = ip()
    for (let i = 0; i < 10; i++) expect((await login(USER, i === 9 ? PASSWORD : 'wrong password', from)).statusCode).not.toBe(429)
    const limited = await login(USER, PASSWORD, from)
    expect(limited.statusCode).toBe(429)
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60)
    // another client is not held back
    expect((await login(USER, PASSWORD, ip())).statusCode).toBe(200)
  }, 30_000)
})

describe('sign-in under attack (issue 13, point 1)', () => {
  const v6 = (n: number) => `2001:db8:${n.toString(16)}::1`

  it(`allows ${ACCOUNT_LOGIN_LIMIT.max} wrong passwords in 10 minutes per user name from all clients together, then 429 for every client, a right password too`, async () => {
    await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { name: 'target', password: PASSWORD } })
    // each guess from its own /48: no client comes near its own limit; an unknown name is counted alike
    for (const name of ['target', 'nobody-at-all']) {
      const guesses = await Promise.all(Array.from({ length: ACCOUNT_LOGIN_LIMIT.max }, (_, i) => login(name, `guess number ${i}`, v6(0x400 + i))))
      expect(guesses.map((r) => r.statusCode)).toEqual(guesses.map(() => 401))
      const held = await login(name, PASSWORD, v6(0x4ff))
      expect(held.statusCode).toBe(429)
      expect(held.json()).toEqual({ error: 'too many wrong passwords for this user name: try again later' })
      expect(Number(held.headers['retry-after'])).toBeGreaterThan(60)
      expect(Number(held.headers['retry-after'])).toBeLessThanOrEqual(600)
    }
    // another user, from the same address, is not held back
    expect((await login(USER, PASSWORD, v6(0x4ff))).statusCode).toBe(200)
  }, 60_000)

  it('checks passwords one at a time, and answers 503 with Retry-After past the queue rather than queue without end', async () => {
    let peak = 0
    const sampler = setInterval(() => (peak = Math.max(peak, scryptQueue().running)), 1)
    // a flood of sign-ins, each from its own /48 for its own name: no rate limit holds them
    const answers = await Promise.all(Array.from({ length: SCRYPT_QUEUE + 40 }, (_, i) => login(`flood-${i}`, 'a wrong password', v6(0x500 + i))))
    clearInterval(sampler)
    expect(peak).toBe(SCRYPT_CONCURRENCY)
    const busy = answers.filter((r) => r.statusCode === 503)
    expect(busy.length).toBeGreaterThan(0)
    expect(busy[0].json()).toEqual({ error: expect.stringMatching(/too many password checks/) })
    expect(Number(busy[0].headers['retry-after'])).toBeGreaterThan(0)
    expect(answers.filter((r) => r.statusCode !== 503).map((r) => r.statusCode)).toEqual(answers.filter((r) => r.statusCode !== 503).map(() => 401))
    expect(scryptQueue()).toEqual({ running: 0, waiting: 0 })
  }, 60_000)
})

describe('sessions and the tokens they make (issue 13, point 6)', () => {
  const sessionOf = async (user: string, password = PASSWORD) => {
    const res = await login(user, password, ip())
    expect(res.statusCode, res.body).toBe(200)
    const token = (res.json() as { token: string }).token
    return { token, id: token.split('_')[1] }
  }
  const works = async (token: string) => (await app.inject({ url: `/api/v1/stats/aggregate?site=${SITE}&period=day`, headers: bearer(token) })).statusCode
  const makeToken = async (by: string, scopes: string[]) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(by), payload: { site: SITE, scopes } })
    expect(res.statusCode, res.body).toBe(201)
    return res.json() as { token: string; id: string; created_by: string | null }
  }
  const addUser = (name: string, password = PASSWORD) => app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { name, password } })

  it("ends every session of a user whose password changes, and the tokens those sessions made; the admin's stay", async () => {
    expect((await addUser('changer')).statusCode).toBe(201)
    const [one, two] = [await sessionOf('changer'), await sessionOf('changer')]
    const made = await makeToken(one.token, ['stats'])
    expect(made.created_by).toBe('changer')
    const adminMade = await makeToken(ADMIN_TOKEN, ['stats'])
    expect(adminMade.created_by).toBeNull()
    for (const t of [one.token, two.token, made.token, adminMade.token]) expect(await works(t)).toBe(200)

    const changed = await addUser('changer', 'a brand new password')
    expect(changed.statusCode).toBe(200)
    expect(changed.json()).toMatchObject({ name: 'changer', sessions_ended: 2 })
    for (const t of [one.token, two.token, made.token]) expect(await works(t)).toBe(401)
    expect(await works(adminMade.token)).toBe(200)
    expect((await login('changer', PASSWORD, ip())).statusCode).toBe(401)
    expect(await works((await sessionOf('changer', 'a brand new password')).token)).toBe(200)
  })

  it("lists a user's open sessions, never a secret, and ends one or all of them, as the user or an admin", async () => {
    expect((await addUser('lister')).statusCode).toBe(201)
    const [a, b] = [await sessionOf('lister'), await sessionOf('lister')]
    await app.tokens.createSession('lister', -1000) // expired: not listed
    const mine = await app.inject({ url: '/api/v1/sessions?user=lister', headers: bearer(a.token) })
    expect(mine.statusCode).toBe(200)
    const listed = (mine.json() as { sessions: { id: string; user: string; current: boolean; expires_at: string }[] }).sessions
    expect(listed.map((x) => x.id).sort()).toEqual([a.id, b.id].sort())
    expect(listed.find((x) => x.id === a.id)).toMatchObject({ user: 'lister', current: true })
    expect(listed.find((x) => x.id === b.id)?.current).toBe(false)
    for (const secret of [a.token, b.token].map((t) => t.split('_').slice(2).join('_'))) expect(mine.body).not.toContain(secret)
    const all = (await app.inject({ url: '/api/v1/sessions', headers: admin })).json() as { sessions: { id: string; user: string; current: boolean }[] }
    expect(all.sessions.filter((x) => x.user === 'lister')).toHaveLength(2)
    expect(all.sessions.every((x) => !x.current)).toBe(true)

    // the user ends another of their sessions
    const ended = await app.inject({ method: 'DELETE', url: `/api/v1/sessions/${b.id}`, headers: bearer(a.token) })
    expect(ended.json()).toEqual({ id: b.id, ended: true })
    expect(await works(b.token)).toBe(401)
    expect(await works(a.token)).toBe(200)
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/sessions/${b.id}`, headers: admin })).statusCode).toBe(404)
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/sessions/abcdefabcdef', headers: admin })).statusCode).toBe(404)
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/sessions/not-an-id', headers: admin })).statusCode).toBe(400)
    // a token is no session
    const pat = await makeToken(ADMIN_TOKEN, ['stats'])
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/sessions/${pat.id}`, headers: admin })).statusCode).toBe(404)
    expect(await works(pat.token)).toBe(200)

    // an admin ends all of them; the user may sign in again
    const c = await sessionOf('lister')
    const out = await app.inject({ method: 'DELETE', url: '/api/v1/users/lister/sessions', headers: admin })
    expect(out.json()).toEqual({ name: 'lister', sessions_ended: 2 })
    for (const t of [a.token, c.token]) expect(await works(t)).toBe(401)
    expect(((await app.inject({ url: '/api/v1/sessions?user=lister', headers: admin })).json() as { sessions: unknown[] }).sessions).toEqual([])
    expect(await works((await sessionOf('lister')).token)).toBe(200)
  })

  it('revokes the tokens a session made when it signs out, and everything a user made when the user is removed', async () => {
    expect((await addUser('maker')).statusCode).toBe(201)
    const [one, two] = [await sessionOf('maker'), await sessionOf('maker')]
    const fromOne = await makeToken(one.token, ['stats'])
    const fromTwo = await makeToken(two.token, ['shared'])
    const listed = ((await app.inject({ url: `/api/v1/tokens?site=${SITE}`, headers: admin })).json() as { tokens: { id: string; created_by: string | null }[] }).tokens
    expect(listed.filter((t) => [fromOne.id, fromTwo.id].includes(t.id)).map((t) => t.created_by)).toEqual(['maker', 'maker'])

    expect((await app.inject({ method: 'POST', url: '/api/v1/logout', headers: bearer(one.token) })).json()).toEqual({ signed_out: true })
    expect(await works(fromOne.token)).toBe(401)
    expect(await works(fromTwo.token)).toBe(200)

    expect((await app.inject({ method: 'DELETE', url: '/api/v1/users/maker', headers: admin })).json()).toEqual({ name: 'maker', removed: true })
    for (const t of [two.token, fromTwo.token]) expect(await works(t)).toBe(401)
    const left = ((await app.inject({ url: `/api/v1/tokens?site=${SITE}`, headers: admin })).json() as { tokens: { created_by: string | null }[] }).tokens
    expect(left.filter((t) => t.created_by === 'maker')).toEqual([])
  })
})

describe('analytics user (no server running)', () => {
  function cli(args: string[], dataDir: string, input?: string) {
    return new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/analytics.js', ...args], {
        cwd: root,
        env: { ...process.env, ANALYTICS_DATA_DIR: dataDir, ANALYTICS_ADMIN_TOKEN: ADMIN_TOKEN, PORT: '1', LOG_LEVEL: 'silent' },
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      let out = ''
      c.stdout.on('data', (d) => (out += d))
      c.stderr.on('data', (d) => (out += d))
      c.stdin.end(input ?? '')
      c.on('exit', (code) => resolve({ code, out }))
    })
  }

  it('adds a user from a password on standard input, lists and removes it, through the store', async () => {
    const dataDir = tempDataDir()
    const added = await cli(['user', 'add', 'anna'], dataDir, `${PASSWORD}\n`)
    expect(added.code, added.out).toBe(0)
    expect(added.out).not.toContain(PASSWORD)
    const withFlag = await cli(['user', 'add', 'ben', '--password', 'another long one'], dataDir)
    expect(withFlag.code, withFlag.out).toBe(0)
    const listed = await cli(['user', 'list'], dataDir)
    expect(listed.out.split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual(['anna', 'ben'])
    expect((await cli(['user', 'add', 'short', '--password', 'x'], dataDir)).code).not.toBe(0)

    const removed = await cli(['user', 'remove', 'ben'], dataDir)
    expect(removed.code, removed.out).toBe(0)
    expect((await cli(['user', 'list'], dataDir)).out).not.toContain('ben')
    expect((await cli(['user', 'remove', 'ben'], dataDir)).code).not.toBe(0)

    // the server started on that data directory lets anna sign in, and the CLI now goes through it
    const port = await freePort()
    const server = await startServer(dataDir, port)
    try {
      const signIn = (password: string) => fetch(`${server.base}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'anna', password }) })
      expect((await signIn('wrong password')).status).toBe(401)
      const ok = await signIn(PASSWORD)
      expect(ok.status).toBe(200)
      const { token } = (await ok.json()) as { token: string }
      expect((await fetch(`${server.base}/api/v1/sites`, { headers: bearer(token) })).status).toBe(200)
      const viaServer = await runCli(['user', 'list'], dataDir, port)
      expect(viaServer).toContain('anna')
    } finally {
      server.child.kill('SIGTERM')
    }
  }, 120_000)
})
