import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { likePattern } from '../../../aggregator/stats/goal-match.ts'
import { ADMIN_TOKEN, settle, testApp } from '../../helpers/app.ts'
import { at, day, eventRow, insertEvents } from '../../helpers/fixtures.ts'

/**
 * Goals, funnels and page flow over a small store computed here by hand: two days ago (UTC),
 * 31 visitors of goals.example.com, rows straight into `events` as the pipeline writes them.
 *
 *  A  8 visitors (DE): /  →  /pricing  →  /signup/start  →  Signup (6 plan=pro, 2 plan=free;
 *     the first two send a second Signup plan=pro)
 *  B  6 visitors:      /  →  /pricing
 *  C  5 visitors:      /signup/start  →  /pricing                      (the other order)
 *  D  5 visitors:      /pricing, and 45 minutes later /signup/start    (two visits)
 *  F  5 visitors:      /promoA1
 *  H  2 visitors:      /promoA1  →  /pricing
 */
const SITE = 'goals.example.com'
const OTHER_SITE = 'example.com'
function pageview(visitor: number, ts: number, pathname: string, country = 'US') {
  return eventRow(SITE, visitor, ts, pathname, { country })
}
function custom(visitor: number, ts: number, name: string, props: Record<string, string>, country = 'US') {
  return { ...pageview(visitor, ts, '/signup/start', country), name, props }
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const EVENTS = [
  ...range(8).flatMap((i) => [
    pageview(100 + i, at(9, 2 * i), '/', 'DE'),
    pageview(100 + i, at(9, 2 * i, 60), '/pricing', 'DE'),
    pageview(100 + i, at(9, 2 * i, 100), '/signup/start', 'DE'),
    custom(100 + i, at(9, 2 * i, 110), 'Signup', { plan: i < 6 ? 'pro' : 'free' }, 'DE'),
    ...(i < 2 ? [custom(100 + i, at(9, 2 * i, 115), 'Signup', { plan: 'pro' }, 'DE')] : []),
  ]),
  ...range(6).flatMap((i) => [pageview(200 + i, at(10, 2 * i), '/'), pageview(200 + i, at(10, 2 * i, 60), '/pricing')]),
  ...range(5).flatMap((i) => [pageview(300 + i, at(11, 2 * i), '/signup/start'), pageview(300 + i, at(11, 2 * i, 60), '/pricing')]),
  ...range(5).flatMap((i) => [pageview(400 + i, at(12, 2 * i), '/pricing'), pageview(400 + i, at(12, 2 * i + 45), '/signup/start')]),
  ...range(5).map((i) => pageview(500 + i, at(14, 2 * i), '/promoA1')),
  ...range(2).flatMap((i) => [pageview(600 + i, at(15, 2 * i), '/promoA1'), pageview(600 + i, at(15, 2 * i, 60), '/pricing')]),
]

let app: FastifyInstance
const ids: Record<string, string> = {}
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/v1/goals', headers: admin, payload: payload as object })
const get = async (path: string) => {
  const res = await app.inject({ url: path, headers: admin })
  return { status: res.statusCode, body: res.json() }
}
const period = `period=custom&from=${day}&to=${day}`
const goalsOf = (params = '') => get(`/api/v1/stats/goals?site=${SITE}&${period}&${params}`)
const funnelOf = (steps: unknown[] | string, params = '') =>
  get(`/api/v1/funnel?site=${SITE}&${period}&steps=${encodeURIComponent(typeof steps === 'string' ? steps : JSON.stringify(steps))}&${params}`)
const flowOf = (page: string, params = '') => get(`/api/v1/stats/page-flow?site=${SITE}&${period}&page=${encodeURIComponent(page)}&${params}`)

beforeAll(async () => {
  app = await testApp({}, [SITE, OTHER_SITE])
  await insertEvents(app.runtime.store.client, EVENTS)
  await settle(app)
  const goals: [string, unknown][] = [
    ['signup page', { page: '/signup/*' }],
    ['signup', { event: 'Signup' }],
    ['pro', { event: 'Signup', prop: { key: 'plan', value: 'pro' } }],
    ['free', { event: 'Signup', prop: { key: 'plan', value: 'free' } }],
    ['promo', { page: '/promo_1' }],
    ['pricing', { page: '/pricing' }],
  ]
  for (const [name, goal] of goals) {
    const res = await post({ site: SITE, ...(goal as object) })
    expect(res.statusCode, name).toBe(201)
    ids[name] = res.json().id
  }
})
afterAll(async () => {
  await app?.close()
})

const WITHHELD = 'fewer than 5 visitors behind this number or its neighbours'
const byGoal = (results: { goal: string }[]) => Object.fromEntries(results.map(({ goal, ...rest }) => [goal, rest]))

describe('goal conversions', () => {
  it('count converting visitors and completions, with conversion rates of all 31 visitors', async () => {
    const { status, body } = await goalsOf()
    expect(status).toBe(200)
    expect(body.visitors).toBe(31)
    expect(body.period).toBe(day)
    expect(byGoal(body.results)).toEqual({
      // A 8 + C 5 + D 5 = 18 of 31
      'Visit /signup/*': { id: ids['signup page'], visitors: 18, events: 18, conversion_rate: 58.1 },
      // A 8 visitors sent 10 Signups
      Signup: { id: ids.signup, visitors: 8, events: 10, conversion_rate: 25.8 },
      'Signup (plan=pro)': { id: ids.pro, visitors: 6, events: 8, conversion_rate: 19.4 },
      // 2 visitors: withheld, not shown small
      'Signup (plan=free)': { id: ids.free, visitors: null, events: null, conversion_rate: null, withheld: WITHHELD },
      // `_` is no wildcard: /promoA1 is not /promo_1 (F 5 + H 2 would show); nobody looks like a few
      'Visit /promo_1': { id: ids.promo, visitors: null, events: null, conversion_rate: null, withheld: WITHHELD },
      // everyone but F: 31 - 5, and F's 5 are enough outside it (R4)
      'Visit /pricing': { id: ids.pricing, visitors: 26, events: 26, conversion_rate: 83.9 },
    })
  })

  it('apply filters to the population and the conversions', async () => {
    // B 6 + C 5 + D 5 + F 5 + H 2 = 23; nobody of them signs up
    const { body } = await goalsOf('filters=country!=DE')
    expect(body.visitors).toBe(23)
    expect(byGoal(body.results)).toMatchObject({
      'Visit /signup/*': { visitors: 10, events: 10, conversion_rate: 43.5 },
      Signup: { visitors: null, withheld: WITHHELD },
      'Signup (plan=pro)': { visitors: null, withheld: WITHHELD },
      'Visit /pricing': { visitors: 18, events: 18, conversion_rate: 78.3 },
    })
    // in DE every goal is reached by all 8 visitors, by all but 2 (pro) or by fewer than k: each is withheld (R4, R1)
    const de = await goalsOf('filters=country==DE')
    expect(de.body.visitors).toBe(8)
    for (const r of de.body.results) expect(r, r.goal).toMatchObject({ visitors: null, withheld: WITHHELD })
    // a prop filter selects visits through an events subquery: A0..A5, each of whom sent a Signup
    const pro = await goalsOf('filters=prop:plan==pro')
    expect(pro.body.visitors).toBe(6)
    expect(byGoal(pro.body.results).Signup).toMatchObject({ visitors: null, withheld: WITHHELD })
    // an event dimension selects visits too: those that hold no view of / (C, both visits of D, F, H)
    const notHome = await goalsOf('filters=page!=/')
    expect(notHome.body.visitors).toBe(17)
    expect(byGoal(notHome.body.results)).toMatchObject({ 'Visit /signup/*': { visitors: 10, conversion_rate: 58.8 }, 'Visit /pricing': { visitors: 12, conversion_rate: 70.6 } })
  })

  it('withhold everything when the population is under k, alike for none and a few', async () => {
    const { body } = await goalsOf('filters=country==FR')
    expect(body).toMatchObject({ visitors: null, withheld: WITHHELD })
    expect(body.results).toHaveLength(6)
    for (const r of body.results) expect(r).toMatchObject({ visitors: null, events: null, conversion_rate: null, withheld: WITHHELD })
    // A6 and A7 sent plan=free
    expect((await goalsOf('filters=prop:plan==free')).body).toEqual(body)
  })

  it('translate page patterns to LIKE patterns with % and _ escaped', () => {
    expect(likePattern('/signup/*')).toBe('/signup/%')
    expect(likePattern('*')).toBe('%')
    expect(likePattern('/100%_off\\x/*/end')).toBe('/100\\%\\_off\\\\x/%/end')
  })
})

describe('goals admin API', () => {
  it('creates, lists and deletes goals; an identical goal answers with the existing one', async () => {
    const made = await post({ site: OTHER_SITE, event: 'Download', prop: { key: 'file', value: 'a.pdf' } })
    expect(made.statusCode).toBe(201)
    const goal = made.json()
    expect(goal).toMatchObject({ site: OTHER_SITE, event: 'Download', prop: { key: 'file', value: 'a.pdf' }, label: 'Download (file=a.pdf)' })
    expect(goal.id).toMatch(/^[0-9a-f]{12}$/)
    const again = await post({ site: OTHER_SITE, event: 'Download', prop: { key: 'file', value: 'a.pdf' } })
    expect(again.statusCode).toBe(200)
    expect(again.json().id).toBe(goal.id)

    const page = (await post({ site: OTHER_SITE, page: '/docs/*' })).json()
    expect(page).toMatchObject({ page: '/docs/*', label: 'Visit /docs/*' })
    expect(page).not.toHaveProperty('event')

    const listed = await get(`/api/v1/goals?site=${OTHER_SITE}`)
    expect(listed.body.goals.map((g: { id: string }) => g.id).sort()).toEqual([goal.id, page.id].sort())
    // goals belong to their site
    expect((await get(`/api/v1/goals?site=${SITE}`)).body.goals).toHaveLength(6)

    const del = await app.inject({ method: 'DELETE', url: `/api/v1/goals/${goal.id}`, headers: admin })
    expect(del.statusCode).toBe(200)
    expect(del.json()).toEqual({ id: goal.id, deleted: true })
    expect((await get(`/api/v1/goals?site=${OTHER_SITE}`)).body.goals.map((g: { id: string }) => g.id)).toEqual([page.id])
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/goals/${goal.id}`, headers: admin })).statusCode).toBe(404)
    // a deleted goal is no funnel step
    const funnel = await get(`/api/v1/funnel?site=${OTHER_SITE}&${period}&goals=${page.id},${goal.id}`)
    expect(funnel.status).toBe(400)
    expect(funnel.body.error).toMatch(/not a saved goal/)
    // and can be made again
    expect((await post({ site: OTHER_SITE, event: 'Download', prop: { key: 'file', value: 'a.pdf' } })).statusCode).toBe(201)
  })

  it.each([
    [{ site: SITE }, /either "page" or "event"/],
    [{ site: SITE, page: '/a', event: 'B' }, /either "page" or "event"/],
    [{ site: SITE, page: 'pricing' }, /starting with \//],
    [{ site: SITE, event: 'pageview' }, /not a custom event/],
    [{ site: SITE, page: '/a', prop: { key: 'k', value: 'v' } }, /event/],
    [{ site: SITE, event: 'Signup', prop: { key: 'bad key!', value: 'v' } }, /prop.key/],
    [{ site: 'nobody.example.net', page: '/' }, /unknown site/],
    [{ site: SITE, page: `/${'x'.repeat(600)}` }, /.+/],
  ])('refuses %j', async (payload, error) => {
    const res = await post(payload)
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toMatch(error)
  })
})

describe('funnels', () => {
  it('count visitors through steps in order, with conversion and drop-off', async () => {
    // A 8 + B 6 start at /, only A goes on to /signup/*
    const { status, body } = await funnelOf([{ page: '/' }, { page: '/signup/*' }])
    expect(status).toBe(200)
    expect(body).toEqual({
      period: day,
      steps: [
        { label: 'Visit /', visitors: 14, conversion_rate: 100, dropoff: 0, dropoff_rate: 0 },
        { label: 'Visit /signup/*', visitors: 8, conversion_rate: 57.1, dropoff: 6, dropoff_rate: 42.9 },
      ],
    })
    // both A and B go on from / to /pricing, and A from /signup/* to Signup: a step that loses
    // fewer than k visitors (none here) is withheld, and every step after it (R7)
    const hidden = { visitors: null, conversion_rate: null, dropoff: null, dropoff_rate: null, withheld: WITHHELD }
    const longer = await funnelOf([{ page: '/' }, { page: '/pricing' }, { page: '/signup/*' }, { event: 'Signup' }])
    expect(longer.body).toEqual({
      period: day,
      steps: [
        { label: 'Visit /', visitors: 14, conversion_rate: 100, dropoff: 0, dropoff_rate: 0 },
        { label: 'Visit /pricing', ...hidden },
        { label: 'Visit /signup/*', ...hidden },
        { label: 'Signup', ...hidden },
      ],
    })
  })

  it('need the steps in order, and within one visit', async () => {
    // /pricing: A 8 + B 6 + C 5 + D 5 + H 2 = 26; then /signup/*: only A (C has it before, D in another visit)
    const forward = await funnelOf([{ page: '/pricing' }, { page: '/signup/*' }])
    expect(forward.body.steps).toEqual([
      { label: 'Visit /pricing', visitors: 26, conversion_rate: 100, dropoff: 0, dropoff_rate: 0 },
      { label: 'Visit /signup/*', visitors: 8, conversion_rate: 30.8, dropoff: 18, dropoff_rate: 69.2 },
    ])
    // the other way round: A 8 + C 5 + D 5 = 18 reach /signup/*, only C goes on to /pricing
    const backward = await funnelOf([{ page: '/signup/*' }, { page: '/pricing' }])
    expect(backward.body.steps).toEqual([
      { label: 'Visit /signup/*', visitors: 18, conversion_rate: 100, dropoff: 0, dropoff_rate: 0 },
      { label: 'Visit /pricing', visitors: 5, conversion_rate: 27.8, dropoff: 13, dropoff_rate: 72.2 },
    ])
  })

  it('take saved goals as steps, and filters', async () => {
    const saved = await get(`/api/v1/funnel?site=${SITE}&${period}&goals=${ids.pricing},${ids['signup page']}`)
    expect(saved.status).toBe(200)
    expect(saved.body.steps.map((s: { visitors: number }) => s.visitors)).toEqual([26, 8])
    // outside DE: C 5 + D 5 reach /signup/*, only C goes on to /pricing
    const notDe = await funnelOf([{ page: '/signup/*' }, { page: '/pricing' }], 'filters=country!=DE')
    expect(notDe.body.steps.map((s: { visitors: number }) => s.visitors)).toEqual([10, 5])
  })

  it('withhold a step under k and every step after it', async () => {
    const { body } = await funnelOf([
      { page: '/pricing' },
      { page: '/signup/*' },
      { event: 'Signup', prop: { key: 'plan', value: 'free' } },
      // nobody sends Signup after a free one: 0, yet withheld with the step before it
      { event: 'Signup' },
    ])
    const hidden = { visitors: null, conversion_rate: null, dropoff: null, dropoff_rate: null, withheld: WITHHELD }
    expect(body.steps).toEqual([
      { label: 'Visit /pricing', visitors: 26, conversion_rate: 100, dropoff: 0, dropoff_rate: 0 },
      { label: 'Visit /signup/*', visitors: 8, conversion_rate: 30.8, dropoff: 18, dropoff_rate: 69.2 },
      { label: 'Signup (plan=free)', ...hidden },
      { label: 'Signup', ...hidden },
    ])
    expect(body.withheld).toBeUndefined()
  })

  it('withhold the whole funnel when step 1 is under k, alike for none and a few', async () => {
    const { body } = await funnelOf([{ event: 'Signup', prop: { key: 'plan', value: 'free' } }, { page: '/' }])
    expect(body.withheld).toBe(WITHHELD)
    for (const s of body.steps) expect(s).toMatchObject({ visitors: null, withheld: WITHHELD })
    const none = await funnelOf([{ event: 'Signup', prop: { key: 'plan', value: 'none' } }, { page: '/' }])
    const unlabelled = (b: { steps: { label: string }[] }) => ({ ...b, steps: b.steps.map(({ label: _, ...rest }) => rest) })
    expect(unlabelled(none.body)).toEqual(unlabelled(body))
  })

  it.each([
    [[{ page: '/' }], /2 to 8 steps, not 1/],
    [Array.from({ length: 9 }, (_, i) => ({ page: `/${i}` })), /2 to 8 steps, not 9/],
    [[{ click: '#buy' }, { page: '/' }], /step 1: unknown goal field "click"/],
    [[{ page: '/' }, {}], /step 2: a goal has either/],
    [[{ page: '/' }, { page: '/a', event: 'B' }], /step 2/],
    [[{ page: '/' }, 'Signup'], /step 2: a goal is an object/],
    [[{ page: '/' }, { page: `/${'x'.repeat(600)}` }], /longer than 500/],
    ['not json', /JSON array/],
    ['{"page":"/"}', /JSON array/],
  ])('refuses steps %j', async (steps, error) => {
    const res = await funnelOf(steps as unknown[])
    expect(res.status).toBe(400)
    expect(res.body.error).toMatch(error)
  })

  it('refuses over-long steps, both or neither of steps and goals, unknown goal ids', async () => {
    const long = await funnelOf(Array.from({ length: 8 }, () => ({ page: `/${'y'.repeat(499)}` })))
    expect(long.status).toBe(400)
    expect((await get(`/api/v1/funnel?site=${SITE}&${period}`)).status).toBe(400)
    const both = await get(`/api/v1/funnel?site=${SITE}&${period}&goals=${ids.pricing},${ids.signup}&steps=${encodeURIComponent('[{"page":"/"},{"page":"/a"}]')}`)
    expect(both.status).toBe(400)
    expect((await get(`/api/v1/funnel?site=${SITE}&${period}&goals=${ids.pricing}`)).body.error).toMatch(/2 to 8 steps/)
    expect((await get(`/api/v1/funnel?site=${SITE}&${period}&goals=${ids.pricing},abcdefabcdef`)).body.error).toBe("goals: step 2 is not a saved goal of this site")
    expect((await get(`/api/v1/funnel?site=nobody.example.net&${period}&goals=${ids.pricing},${ids.signup}`)).status).toBe(404)
  })
})

describe('page flow', () => {
  it('lists the pages before and after a page within visits, small ones folded', async () => {
    const { status, body } = await flowOf('/pricing')
    expect(status).toBe(200)
    expect(body).toEqual({
      page: '/pricing',
      visitors: 26,
      period: day,
      // / 14 (A, B), (entrance) 5 (D), /signup/start 5 (C), /promoA1 2 (H): 2 is under k, and
      // (other) needs the smallest visible row with it so that it cannot be subtracted out
      previous: [{ page: '/', visitors: 14 }, { page: '(entrance)', visitors: 5 }, { page: '(other)', visitors: 7 }],
      // (exit) B 6 + C 5 + D 5 + H 2; /signup/start A 8
      next: [{ page: '(exit)', visitors: 18 }, { page: '/signup/start', visitors: 8 }],
    })
    expect(JSON.stringify(body)).not.toContain('promoA1')
  })

  it('starts a new visit after the timeout: (entrance), not the page of the visit before', async () => {
    const { body } = await flowOf('/signup/start')
    expect(body.visitors).toBe(18)
    // C 5 + D 5 enter on it; A 8 come from /pricing
    expect(body.previous).toEqual([{ page: '(entrance)', visitors: 10 }, { page: '/pricing', visitors: 8 }])
    // A 8 (a custom event is no page) + D 5 leave; C 5 go on to /pricing
    expect(body.next).toEqual([{ page: '(exit)', visitors: 13 }, { page: '/pricing', visitors: 5 }])
  })

  it('applies filters and limit; withholds a page of fewer than k visitors', async () => {
    // outside DE: B 6, C 5, D 5 and H 2 view /pricing, and all of them leave after it
    const notDe = await flowOf('/pricing', 'filters=country!=DE')
    expect(notDe.body).toMatchObject({
      visitors: 18,
      previous: [{ page: '/', visitors: 6 }, { page: '(entrance)', visitors: 5 }, { page: '(other)', visitors: 7 }],
      next: [{ page: '(other)', visitors: 18 }],
    })
    expect((await flowOf('/pricing', 'limit=1')).body.next).toEqual([{ page: '(exit)', visitors: 18 }])
    const none = await flowOf('/nowhere')
    expect(none.body).toEqual({ page: '/nowhere', period: day, visitors: null, previous: [], next: [], withheld: WITHHELD })
    // a page of 2 visitors looks the same (A6 and A7, who sent plan=free)
    expect((await flowOf('/signup/start', 'filters=prop:plan==free')).body).toEqual({ ...none.body, page: '/signup/start' })
  })

  it('refuses a page that is no path and a bad limit', async () => {
    expect((await flowOf('pricing')).status).toBe(400)
    expect((await flowOf('/pricing', 'limit=0')).status).toBe(400)
    expect((await get(`/api/v1/stats/page-flow?site=${SITE}&${period}`)).status).toBe(400)
  })
})

describe('access', () => {
  it.each([
    ['GET', `/api/v1/goals?site=${SITE}`],
    ['POST', '/api/v1/goals'],
    ['DELETE', '/api/v1/goals/abcdefabcdef'],
    ['GET', `/api/v1/stats/goals?site=${SITE}`],
    ['GET', `/api/v1/funnel?site=${SITE}&steps=%5B%5D`],
    ['GET', `/api/v1/stats/page-flow?site=${SITE}&page=/`],
  ])('%s %s answers 401 without the token', async (method, url) => {
    const res = await app.inject({ method: method as 'GET', url, ...(method === 'POST' ? { payload: { site: SITE, page: '/' } } : {}) })
    expect(res.statusCode).toBe(401)
    const wrong = await app.inject({ method: method as 'GET', url, headers: { authorization: 'Bearer nope' } })
    expect(wrong.statusCode).toBe(401)
  })
})
