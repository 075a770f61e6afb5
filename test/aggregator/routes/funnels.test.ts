import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, settle, testApp } from '../../helpers/app.ts'
import { at, day, eventRow, insertEvents } from '../../helpers/fixtures.ts'

/**
 * Saved funnels through the API, and run by `GET /api/v1/funnel?funnel=<id>`, with and without a
 * conversion window, over a store counted here by hand (two days ago, UTC, one visit each):
 *
 *  A 10 visitors: /pricing, /signup 1 minute later
 *  B  6 visitors: /pricing, /signup 20 minutes later                 (outside a 5-minute window)
 *  D  5 visitors: /pricing, /pricing again 20 minutes later, /signup a minute after that
 *                 (inside a 5-minute window, counted from the second /pricing)
 *  C  5 visitors: /pricing only
 *  E  5 visitors: / only                                             (not in the funnel at all)
 */
const SITE = 'funnels.example.com'
const OTHER = 'other.example.com'
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const view = (visitor: number, ts: number, path: string) => eventRow(SITE, visitor, ts, path)

const EVENTS = [
  ...range(10).flatMap((i) => [view(100 + i, at(8, 2 * i), '/pricing'), view(100 + i, at(8, 2 * i + 1), '/signup')]),
  ...range(6).flatMap((i) => [view(200 + i, at(10, 2 * i), '/pricing'), view(200 + i, at(10, 2 * i + 20), '/signup')]),
  ...range(5).flatMap((i) => [view(300 + i, at(12, 2 * i), '/pricing'), view(300 + i, at(12, 2 * i + 20), '/pricing'), view(300 + i, at(12, 2 * i + 21), '/signup')]),
  ...range(5).map((i) => view(400 + i, at(14, 2 * i), '/pricing')),
  ...range(5).map((i) => view(500 + i, at(15, 2 * i), '/')),
]
const STEPS = [{ page: '/pricing' }, { page: '/signup' }]

let app: FastifyInstance
const tok: Record<string, string> = {}

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token = ADMIN_TOKEN, payload?: unknown) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) })
const create = (payload: Record<string, unknown>, token = ADMIN_TOKEN) => call('POST', '/api/v1/funnels', token, { site: SITE, ...payload })
const period = `period=custom&from=${day}&to=${day}`
const run = (query: string, token = ADMIN_TOKEN, site = SITE) => call('GET', `/api/v1/funnel?site=${site}&${period}&${query}`, token)
const visitorsOf = (body: { steps: { visitors: number | null }[] }) => body.steps.map((s) => s.visitors)

beforeAll(async () => {
  app = await testApp({}, [SITE, OTHER])
  await insertEvents(app.runtime.store.client, EVENTS)
  await settle(app)
  tok.stats = (await app.tokens.create({ site: SITE, scopes: ['stats'], name: 'ci' })).token
  tok.shared = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'partner' })).token
  tok.sharedOther = (await app.tokens.create({ site: OTHER, scopes: ['shared'], name: 'partner' })).token
})
afterAll(async () => {
  await app?.close()
})

describe('saved funnels', () => {
  it('are saved with their steps and window, listed with step labels, and deleted', async () => {
    const made = await create({ name: 'Pricing to signup', steps: [{ page: '/pricing' }, { event: 'Signup', prop: { key: 'plan', value: 'pro' } }], window_minutes: 30 })
    expect(made.statusCode, made.body).toBe(201)
    const f = made.json()
    expect(f).toMatchObject({
      site: SITE,
      name: 'Pricing to signup',
      steps: [{ page: '/pricing', label: 'Visit /pricing' }, { event: 'Signup', prop: { key: 'plan', value: 'pro' }, label: 'Signup (plan=pro)' }],
      window_minutes: 30,
    })
    const plain = (await create({ name: 'No window', steps: STEPS })).json()
    expect(plain.window_minutes).toBeNull()
    const listed = (await call('GET', `/api/v1/funnels?site=${SITE}`)).json().funnels
    expect(listed).toEqual([f, plain])
    expect((await call('DELETE', `/api/v1/funnels/${f.id}`)).json()).toEqual({ id: f.id, deleted: true })
    expect((await call('DELETE', `/api/v1/funnels/${f.id}`)).statusCode).toBe(404)
    expect((await call('GET', `/api/v1/funnels?site=${SITE}`)).json().funnels).toEqual([plain])
    expect((await call('DELETE', `/api/v1/funnels/${plain.id}`)).statusCode).toBe(200)
  })

  it('refuse what /api/v1/funnel would refuse, windows out of range, taken names, with a 400 saying why', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ name: 'x', steps: [{ page: '/pricing' }] }, /steps/],
      [{ name: 'x', steps: Array.from({ length: 9 }, () => ({ page: '/a' })) }, /steps/],
      [{ name: 'x', steps: [{ page: '/pricing' }, { page: 'signup' }] }, /step 2: "page" is a path/],
      [{ name: 'x', steps: [{ page: '/pricing' }, { event: 'pageview' }] }, /step 2: "pageview" is not a custom event/],
      [{ name: 'x', steps: STEPS, window_minutes: 0 }, /window_minutes/],
      [{ name: 'x', steps: STEPS, window_minutes: 1441 }, /window_minutes/],
      [{ name: 'x', steps: STEPS, window_minutes: 2.5 }, /window_minutes/],
      [{ name: '', steps: STEPS }, /name/],
      [{ name: 'call +44 20 7946 0958', steps: STEPS }, /personal data \(Phone/],
    ]
    for (const [payload, error] of bad) {
      const res = await create(payload)
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().error, JSON.stringify(payload)).toMatch(error)
    }
    expect((await create({ name: 'Once', steps: STEPS })).statusCode).toBe(201)
    const twice = await create({ name: 'ONCE', steps: STEPS })
    expect(twice.statusCode).toBe(400)
    expect(twice.json().error).toBe('this site already has a funnel of that name')
  })
})

describe('GET /api/v1/funnel?funnel=<id>', () => {
  it('runs a saved funnel as its steps would run, and honours its conversion window', async () => {
    const plain = (await create({ name: 'Pricing, signup', steps: STEPS })).json()
    const windowed = (await create({ name: 'Pricing, signup within 5 minutes', steps: STEPS, window_minutes: 5 })).json()
    const bySteps = await run(`steps=${encodeURIComponent(JSON.stringify(STEPS))}`)
    expect(bySteps.statusCode, bySteps.body).toBe(200)
    // 26 reach /pricing (E's 5 do not: step 1 may be shown), 21 reach /signup after it
    expect(visitorsOf(bySteps.json())).toEqual([26, 21])
    const saved = await run(`funnel=${plain.id}`)
    expect(saved.json()).toEqual(bySteps.json())
    // within 5 minutes: A 10 and D 5 (from their second /pricing), not B
    const within = await run(`funnel=${windowed.id}`)
    expect(within.statusCode, within.body).toBe(200)
    expect(within.json().steps).toEqual([
      { label: 'Visit /pricing', visitors: 26, conversion_rate: 100, dropoff: 0, dropoff_rate: 0 },
      { label: 'Visit /signup', visitors: 15, conversion_rate: 57.7, dropoff: 11, dropoff_rate: 42.3 },
    ])
  })

  it("is read with the site's per-site token and shared link, never another site's; a bad id is a 400", async () => {
    const f = (await create({ name: 'For readers', steps: STEPS })).json()
    expect((await run(`funnel=${f.id}`, tok.stats)).json().steps.map((s: { label: string }) => s.label)).toEqual(['Visit /pricing', 'Visit /signup'])
    const shared = await run(`funnel=${f.id}`, tok.shared)
    expect(shared.statusCode, shared.body).toBe(200)
    expect(shared.json().steps).toHaveLength(2)
    const listed = await call('GET', `/api/v1/funnels?site=${SITE}`, tok.shared)
    expect(listed.json().funnels.map((x: { id: string }) => x.id)).toContain(f.id)
    expect((await call('GET', `/api/v1/funnels?site=${SITE}`, tok.sharedOther)).statusCode).toBe(403)
    expect((await create({ name: 'by a link', steps: STEPS }, tok.shared)).statusCode).toBe(403)
    expect((await call('DELETE', `/api/v1/funnels/${f.id}`, tok.stats)).statusCode).toBe(403)

    // a funnel of one site is not a funnel of another
    const elsewhere = await run(`funnel=${f.id}`, ADMIN_TOKEN, OTHER)
    expect(elsewhere.statusCode).toBe(400)
    expect(elsewhere.json().error).toBe('funnel is not a saved funnel of this site')
    for (const q of ['funnel=zzzz', 'funnel=000000000000', `funnel=${f.id}&steps=${encodeURIComponent(JSON.stringify(STEPS))}`, '']) {
      const res = await run(q)
      expect(res.statusCode, q).toBe(400)
    }
  })
})
