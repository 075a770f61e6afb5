import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, rows, testApp } from '../../helpers/app.ts'

/**
 * Saved segments through the API: named filter sets per site, checked by the stats API's own
 * filter parser, managed by admins and signed-in users, read by the site's per-site tokens and
 * shared links (and by no one else's).
 */
const SITE = 'segments.example.com'
const OTHER = 'other.example.com'

let app: FastifyInstance
const tok: Record<string, string> = {}

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token = ADMIN_TOKEN, payload?: unknown) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) })
const list = async (token = ADMIN_TOKEN, site = SITE) => call('GET', `/api/v1/segments?site=${site}`, token)
const create = (payload: Record<string, unknown>, token = ADMIN_TOKEN) => call('POST', '/api/v1/segments', token, { site: SITE, ...payload })

beforeAll(async () => {
  app = await testApp({}, [SITE, OTHER])
  tok.stats = (await app.tokens.create({ site: SITE, scopes: ['stats'], name: 'ci' })).token
  tok.exportOnly = (await app.tokens.create({ site: SITE, scopes: ['export'], name: 'export' })).token
  tok.shared = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'partner' })).token
  tok.sharedOther = (await app.tokens.create({ site: OTHER, scopes: ['shared'], name: 'partner' })).token
  // a signed-in user who administers the site (roles: accounts/roles.ts)
  await app.memberships.set('marketing', SITE, 'admin')
  tok.session = (await app.tokens.createSession('marketing')).token
})
afterAll(async () => {
  await app?.close()
})

describe('saved segments', () => {
  it('are created with their filters in one spelling, listed, renamed, changed and deleted', async () => {
    const made = await create({ name: '  German Chrome users ', filters: 'country==DE; browser == Chrome ;page~/blog|/docs' })
    expect(made.statusCode, made.body).toBe(201)
    const seg = made.json()
    expect(seg).toMatchObject({ site: SITE, name: 'German Chrome users', filters: 'country==DE;browser==Chrome;page~/blog|/docs' })
    expect(seg.id).toMatch(/^[0-9a-f]{12}$/)
    expect(Date.parse(seg.created_at)).toBeGreaterThan(Date.now() - 60_000)

    // the saved filters are what the stats API takes
    const agg = await call('GET', `/api/v1/stats/aggregate?site=${SITE}&period=7d&filters=${encodeURIComponent(seg.filters)}`)
    expect(agg.statusCode, agg.body).toBe(200)

    const renamed = await call('PATCH', `/api/v1/segments/${seg.id}`, ADMIN_TOKEN, { name: 'DE on Chrome' })
    expect(renamed.statusCode, renamed.body).toBe(200)
    expect(renamed.json()).toMatchObject({ id: seg.id, name: 'DE on Chrome', filters: seg.filters, created_at: seg.created_at })
    const changed = await call('PATCH', `/api/v1/segments/${seg.id}`, ADMIN_TOKEN, { filters: 'country==DE|AT;source==(none)' })
    expect(changed.json()).toMatchObject({ name: 'DE on Chrome', filters: 'country==DE|AT;source==(none)' })
    expect(Date.parse(changed.json().updated_at)).toBeGreaterThan(Date.parse(seg.updated_at))

    expect((await list()).json().segments).toEqual([changed.json()])
    const gone = await call('DELETE', `/api/v1/segments/${seg.id}`)
    expect(gone.json()).toEqual({ id: seg.id, deleted: true })
    expect((await list()).json().segments).toEqual([])
    expect((await call('DELETE', `/api/v1/segments/${seg.id}`)).statusCode).toBe(404)
    expect((await call('PATCH', `/api/v1/segments/${seg.id}`, ADMIN_TOKEN, { name: 'again' })).statusCode).toBe(404)
  })

  it('refuse filters the stats API would refuse, and names that are empty, long, multi-line, taken or personal, with a 400 saying why', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ name: 'x', filters: 'shoe_size==42' }, /unknown filter property/],
      [{ name: 'x', filters: 'country=DE' }, /property==value/],
      [{ name: 'x', filters: ';;' }, /at least one filter/],
      [{ name: 'x', filters: 'page~' }, /contains filter needs some text/],
      [{ name: '   ', filters: 'country==DE' }, /name is a text of 1 to 80/],
      [{ name: 'x'.repeat(81), filters: 'country==DE' }, /name/],
      [{ name: 'two\nlines', filters: 'country==DE' }, /one line/],
      [{ name: 'ask jane.doe@example.com', filters: 'country==DE' }, /personal data \(E-mail/],
      [{ filters: 'country==DE' }, /name/],
    ]
    for (const [payload, error] of bad) {
      const res = await create(payload)
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().error, JSON.stringify(payload)).toMatch(error)
    }
    expect((await create({ name: 'Mobile', filters: 'device==Mobile' })).statusCode).toBe(201)
    const twice = await create({ name: 'mobile', filters: 'device==Tablet' })
    expect(twice.statusCode).toBe(400)
    expect(twice.json().error).toBe('this site already has a segment of that name')
    const unknown = await call('POST', '/api/v1/segments', ADMIN_TOKEN, { site: 'nowhere.example.com', name: 'x', filters: 'country==DE' })
    expect(unknown.statusCode).toBe(400)
    expect((await list(ADMIN_TOKEN, 'nowhere.example.com')).statusCode).toBe(404)
    expect((await call('PATCH', '/api/v1/segments/not-an-id', ADMIN_TOKEN, { name: 'x' })).statusCode).toBe(400)
    const empty = await call('PATCH', `/api/v1/segments/${(await list()).json().segments[0].id}`, ADMIN_TOKEN, {})
    expect(empty.statusCode).toBe(400)
  })

  it('keep names as text: quotes and markup are stored and answered as typed, never as SQL', async () => {
    const name = `Q4 "launch" <b>'); DROP TABLE events; --`
    const res = await create({ name, filters: "utm_campaign==spring'24" })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json()).toMatchObject({ name, filters: "utm_campaign==spring'24" })
    expect((await rows(app, 'SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = {t:String}', { t: 'events' }))[0]).toEqual({ n: 1 })
    expect((await list()).json().segments.map((s: { name: string }) => s.name)).toContain(name)
  })

  it('are managed by admins and signed-in users, read by the site\'s tokens and shared links only', async () => {
    const bySession = await create({ name: 'Made while signed in', filters: 'country==FR' }, tok.session)
    expect(bySession.statusCode).toBe(201)
    const id = bySession.json().id
    for (const token of [tok.stats, tok.shared]) {
      const res = await list(token)
      expect(res.statusCode).toBe(200)
      expect(res.json().segments.map((s: { id: string }) => s.id)).toContain(id)
    }
    expect((await list(tok.exportOnly)).statusCode).toBe(403)
    expect((await list(tok.sharedOther)).statusCode).toBe(403)
    expect((await list(tok.shared, OTHER)).statusCode).toBe(403)
    expect((await list('pat_000000000000_nope')).statusCode).toBe(401)
    for (const token of [tok.stats, tok.shared]) {
      expect((await create({ name: 'not allowed', filters: 'country==DE' }, token)).statusCode).toBe(403)
      expect((await call('PATCH', `/api/v1/segments/${id}`, token, { name: 'not allowed' })).statusCode).toBe(403)
      expect((await call('DELETE', `/api/v1/segments/${id}`, token)).statusCode).toBe(403)
    }
    // each site its own: another site lists none of these
    expect((await list(ADMIN_TOKEN, OTHER)).json().segments).toEqual([])
  })
})
