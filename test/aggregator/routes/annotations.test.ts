import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, rows, testApp } from '../../helpers/app.ts'

/**
 * Annotations through the API: dated notes on a site's chart, listed for a period as the stats
 * API takes it (days of the site's time zone), managed by admins and signed-in users, read by the
 * site's per-site tokens and shared links only, and removed with their site.
 */
const SITE = 'notes.example.com'
const TOKYO = 'tokyo.example.com'
const GONE = 'gone.example.com'

let app: FastifyInstance
const tok: Record<string, string> = {}

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token = ADMIN_TOKEN, payload?: unknown) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) })
const add = (date: string, note: string, site = SITE, token = ADMIN_TOKEN) => call('POST', '/api/v1/annotations', token, { site, date, note })
const list = (query: string, token = ADMIN_TOKEN, site = SITE) => call('GET', `/api/v1/annotations?site=${site}&${query}`, token)
const notes = async (query: string, site = SITE) => (await list(query, ADMIN_TOKEN, site)).json().annotations.map((a: { date: string; note: string }) => `${a.date} ${a.note}`)

beforeAll(async () => {
  app = await testApp({}, [SITE, GONE])
  await app.runtime.sites.add(TOKYO, 'Asia/Tokyo')
  tok.stats = (await app.tokens.create({ site: SITE, scopes: ['stats'], name: 'ci' })).token
  tok.exportOnly = (await app.tokens.create({ site: SITE, scopes: ['export'], name: 'export' })).token
  tok.shared = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'partner' })).token
  tok.sharedTokyo = (await app.tokens.create({ site: TOKYO, scopes: ['shared'], name: 'partner' })).token
  // a signed-in user who administers the site (roles: accounts/roles.ts)
  await app.memberships.set('marketing', SITE, 'admin')
  tok.session = (await app.tokens.createSession('marketing')).token
})
afterAll(async () => {
  await app?.close()
})

describe('annotations', () => {
  it('are listed for the days of a period, by date, and deleted', async () => {
    const made = await add('2026-03-10', '  Spring campaign starts ')
    expect(made.statusCode, made.body).toBe(201)
    expect(made.json()).toMatchObject({ site: SITE, date: '2026-03-10', note: 'Spring campaign starts' })
    expect((await add('2026-03-01', 'Pricing page redesign')).statusCode).toBe(201)
    expect((await add('2026-03-31', 'Quarter ends')).statusCode).toBe(201)
    expect((await add('2026-04-01', 'v2 launch', SITE, tok.session)).statusCode).toBe(201)

    expect(await notes('period=custom&from=2026-03-01&to=2026-03-31')).toEqual(['2026-03-01 Pricing page redesign', '2026-03-10 Spring campaign starts', '2026-03-31 Quarter ends'])
    expect(await notes('period=month&date=2026-04-15')).toEqual(['2026-04-01 v2 launch'])
    expect(await notes('period=day&date=2026-03-10')).toEqual(['2026-03-10 Spring campaign starts'])
    const answer = (await list('from=2026-03-02&to=2026-03-30')).json()
    expect(answer).toMatchObject({ period: '2026-03-02..2026-03-30', annotations: [{ date: '2026-03-10' }] })

    const id = made.json().id
    expect((await call('DELETE', `/api/v1/annotations/${id}`)).json()).toEqual({ id, deleted: true })
    expect(await notes('period=custom&from=2026-03-01&to=2026-03-31')).toEqual(['2026-03-01 Pricing page redesign', '2026-03-31 Quarter ends'])
    expect((await call('DELETE', `/api/v1/annotations/${id}`)).statusCode).toBe(404)
  })

  it("count today in the site's time zone", async () => {
    const tokyoToday = () => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(Date.now())
    let today = tokyoToday()
    expect((await add(today, 'Tokyo office opens', TOKYO)).statusCode).toBe(201)
    let listed = await notes('period=day', TOKYO)
    // asked across midnight in Tokyo (15:00 UTC): the note is of yesterday there now, so note the new day and ask again
    if (tokyoToday() !== today) {
      today = tokyoToday()
      expect((await add(today, 'Tokyo office opens', TOKYO)).statusCode).toBe(201)
      listed = await notes('period=day', TOKYO)
    }
    expect(listed).toEqual([`${today} Tokyo office opens`])
    expect(await notes('period=day')).toEqual([])
  })

  it('refuse dates that are no day and notes that are empty, long, multi-line or personal, with a 400 saying why', async () => {
    const bad: [string, string, RegExp][] = [
      ['2026-02-30', 'x', /date is a day/],
      ['2026-13-01', 'x', /date is a day/],
      ['26-03-01', 'x', /date is a day/],
      ['1999-12-31', 'x', /date is a day/],
      ['2026-03-01', '', /note/],
      ['2026-03-01', 'n'.repeat(281), /note/],
      ['2026-03-01', 'line one\rline two', /one line/],
      ['2026-03-01', 'Call 192.0.2.10 back', /personal data \(IP/],
    ]
    for (const [date, note, error] of bad) {
      const res = await add(date, note)
      expect(res.statusCode, `${date} ${note}`).toBe(400)
      expect(res.json().error, `${date} ${note}`).toMatch(error)
    }
    expect((await add('2026-03-01', 'x', 'nowhere.example.com')).statusCode).toBe(400)
    expect((await list('period=7d', ADMIN_TOKEN, 'nowhere.example.com')).statusCode).toBe(404)
    expect((await list('period=custom&from=2026-03-05&to=2026-03-01')).statusCode).toBe(400)
  })

  it("are read with the site's per-site token and shared link only, and changed by no token but an admin's or a user's", async () => {
    const query = 'period=custom&from=2026-03-01&to=2026-04-30'
    for (const token of [tok.stats, tok.shared]) {
      const res = await list(query, token)
      expect(res.statusCode).toBe(200)
      expect(res.json().annotations.length).toBeGreaterThan(0)
      expect((await add('2026-03-02', 'not allowed', SITE, token)).statusCode).toBe(403)
    }
    expect((await list(query, tok.exportOnly)).statusCode).toBe(403)
    expect((await list(query, tok.sharedTokyo)).statusCode).toBe(403)
    const id = (await list(query)).json().annotations[0].id
    expect((await call('DELETE', `/api/v1/annotations/${id}`, tok.shared)).statusCode).toBe(403)
    expect((await call('DELETE', `/api/v1/annotations/${id}`, tok.session)).statusCode).toBe(200)
  })

  it('leave with their site', async () => {
    expect((await add('2026-03-01', 'About to go', GONE)).statusCode).toBe(201)
    const removed = await call('DELETE', `/api/v1/sites/${GONE}?confirm=${GONE}`)
    expect(removed.statusCode, removed.body).toBe(200)
    expect(removed.json().tables).toContain('annotations')
    expect(await rows(app, 'SELECT id FROM annotations WHERE site = {site:String}', { site: GONE })).toEqual([])
  })
})
