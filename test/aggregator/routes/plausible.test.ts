import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, settle, testApp } from '../../helpers/app.ts'
import { at, day, eventRow, insertEvents } from '../../helpers/fixtures.ts'

/**
 * Plausible's stats API, v1 and v2, asked as Plausible documents it, over a store counted here
 * by hand: two days ago (UTC), 26 visitors of plausible.example.com, each from a network of its own.
 *
 *  DE 12 visitors via Google, Firefox 132, at 09:xx: /, and 7 of them /pricing; 6 send Signup plan=pro
 *  US  8 visitors via newsletter, Chrome 131, at 11:xx: /, and 5 of them /pricing; 5 send Signup plan=free
 *  FR  6 visitors direct, Chrome 131, at 10:xx: /blog
 *
 * Every group and every filter's complement holds at least k = 5, so the numbers are shown.
 */
const SITE = 'plausible.example.com'
const OTHER_SITE = 'example.com'
const WITHHELD = 'fewer than 5 visitors behind this number or its neighbours'
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
/** Visitor `id`'s event, from a network of its own. */
const visitor = (id: number, ts: number, path: string, extra: Record<string, unknown>) => eventRow(SITE, id, ts, path, { network_id: String(10_000 + id), ...extra })

const DE = { country: 'DE', browser: 'Firefox', browser_version: '132' }
const US = { country: 'US', browser: 'Chrome', browser_version: '131' }
const FR = { country: 'FR', browser: 'Chrome', browser_version: '131' }
const EVENTS = [
  ...range(12).flatMap((i) => [
    visitor(100 + i, at(9, i), '/', { ...DE, source: 'Google', channel: 'search', referrer_host: 'google.com' }),
    ...(i < 7 ? [visitor(100 + i, at(9, i, 30), '/pricing', DE)] : []),
    ...(i < 6 ? [{ ...visitor(100 + i, at(9, i, 40), '/pricing', DE), name: 'Signup', props: { plan: 'pro' } }] : []),
  ]),
  ...range(8).flatMap((i) => [
    visitor(200 + i, at(11, i), '/', { ...US, source: 'newsletter', utm_source: 'newsletter' }),
    ...(i < 5 ? [visitor(200 + i, at(11, i, 30), '/pricing', US), { ...visitor(200 + i, at(11, i, 40), '/pricing', US), name: 'Signup', props: { plan: 'free' } }] : []),
  ]),
  ...range(6).map((i) => visitor(300 + i, at(10, i), '/blog', FR)),
]

let app: FastifyInstance
let siteToken: string
let otherToken: string
beforeAll(async () => {
  app = await testApp({}, [SITE, OTHER_SITE])
  await insertEvents(app.runtime.store.client, EVENTS)
  await settle(app)
  const goal = await app.inject({ method: 'POST', url: '/api/v1/goals', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { site: SITE, event: 'Signup' } })
  expect(goal.statusCode).toBe(201)
  siteToken = (await app.tokens.create({ site: SITE, scopes: ['stats'], name: 'plausible script' })).token
  otherToken = (await app.tokens.create({ site: OTHER_SITE, scopes: ['stats'], name: 'another site' })).token
})
afterAll(async () => {
  await app?.close()
})

const get = async (url: string, token = ADMIN_TOKEN) => {
  const res = await app.inject({ url, headers: { authorization: `Bearer ${token}` } })
  return { status: res.statusCode, body: res.json() }
}
/** A v1 request as Plausible's documentation writes it: `site_id`, a custom period as `date=A,B`. */
const v1 = (endpoint: string, params: string, token?: string) => get(`/api/v1/stats/${endpoint}?site_id=${SITE}&period=custom&date=${day},${day}&${params}`, token)
const v2 = async (query: Record<string, unknown>, token = ADMIN_TOKEN) => {
  const res = await app.inject({ method: 'POST', url: '/api/v2/query', headers: { authorization: `Bearer ${token}` }, payload: { site_id: SITE, date_range: [day, day], ...query } })
  return { status: res.statusCode, body: res.json() }
}

describe('stats API v1 with Plausible names', () => {
  it('aggregate: site_id, date=A,B, visitors by default', async () => {
    const { status, body } = await v1('aggregate', '')
    expect(status).toBe(200)
    expect(Object.keys(body.results)).toEqual(['visitors'])
    expect(body.results.visitors.value).toBe(26)
    const more = await v1('aggregate', 'metrics=visitors,pageviews,events,bounce_rate')
    // pageviews: 12 + 7 + 8 + 5 + 6; events: the pageviews and 11 Signups
    expect(more.body.results).toMatchObject({ visitors: { value: 26 }, pageviews: { value: 38 }, events: { value: 49 } })
  })

  it('filters in visit:/event: syntax, as the documented examples write them', async () => {
    const value = async (filters: string) => (await v1('aggregate', `metrics=visitors&filters=${encodeURIComponent(filters)}`)).body.results.visitors.value
    expect(await value('visit:country==DE;event:page==/pricing')).toBe(7)
    expect(await value('visit:source==Google|newsletter')).toBe(20)
    expect(await value('visit:country!=FR')).toBe(20)
    expect(await value('event:goal==Signup')).toBe(11)
    expect(await value('event:page==/pri*')).toBe(12)
    // our own names still work, also mixed with Plausible's
    expect(await value('source==Google;event:page==/pricing')).toBe(7)
  })

  it('a number about too few visitors is null with the reason, as on our routes', async () => {
    const { body } = await v1('aggregate', `metrics=visitors&filters=${encodeURIComponent('visit:country==JP')}`)
    expect(body.results.visitors).toEqual({ value: null, change: null, withheld: WITHHELD })
  })

  it('breakdown: property=visit:source, rows keyed as Plausible keys them', async () => {
    const { status, body } = await v1('breakdown', 'property=visit:source&metrics=visitors,bounce_rate')
    expect(status).toBe(200)
    expect(body.results.map((r: { source: string; visitors: number }) => [r.source, r.visitors])).toEqual([['Google', 12], ['newsletter', 8], ['(none)', 6]])
    const props = await v1('breakdown', `property=event:props:plan&filters=${encodeURIComponent('event:name==Signup')}`)
    expect(props.body.results).toEqual([{ plan: 'pro', visitors: 6 }, { plan: 'free', visitors: 5 }])
    const versions = await v1('breakdown', 'property=visit:browser_version')
    expect(versions.body.results).toEqual([{ browser: 'Chrome', browser_version: '131', visitors: 14 }, { browser: 'Firefox', browser_version: '132', visitors: 12 }])
    const pages = await v1('breakdown', 'property=event:page&limit=5')
    expect(pages.body.results[0]).toEqual({ page: '/', visitors: 20 })
  })

  it('breakdown pages: page counts from 1, limit rows each', async () => {
    const second = await v1('breakdown', 'property=visit:source&limit=1&page=2')
    expect(second.body.results).toEqual([{ source: 'newsletter', visitors: 8 }])
    expect((await v1('breakdown', 'property=visit:source&limit=2&page=3')).body.results).toEqual([])
  })

  it('timeseries: interval=date is a day', async () => {
    const { status, body } = await v1('timeseries', 'interval=date&metrics=visitors,pageviews')
    expect(status).toBe(200)
    expect(body.results).toEqual([{ date: day, visitors: 26, pageviews: 38 }])
  })

  it('a per-site token is checked against site_id', async () => {
    expect((await v1('aggregate', '', siteToken)).body.results.visitors.value).toBe(26)
    expect((await v1('aggregate', '', otherToken)).status).toBe(403)
  })

  it('what has no counterpart is a 400 naming it', async () => {
    const city = await v1('aggregate', `filters=${encodeURIComponent('visit:city==2950159')}`)
    expect(city.status).toBe(400)
    expect(city.body.error).toContain('visit:city')
    const all = await get(`/api/v1/stats/aggregate?site_id=${SITE}&period=all`)
    expect(all.status).toBe(400)
    expect(all.body.error).toContain('period=all')
    const goals = await v1('breakdown', 'property=event:goal')
    expect(goals.status).toBe(400)
    expect(goals.body.error).toContain('/api/v1/stats/goals')
    // and the unknown-parameter check still names what is left
    const unknown = await v1('aggregate', 'colour=blue')
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toContain('"colour"')
  })

  it('realtime/visitors: a bare number, null when withheld', async () => {
    const none = await get(`/api/v1/stats/realtime/visitors?site_id=${SITE}`)
    expect(none).toEqual({ status: 200, body: null })
    const now = Date.now()
    await insertEvents(app.runtime.store.client, range(6).map((i) => visitor(900 + i, now - 60_000, '/', DE)))
    expect(await get(`/api/v1/stats/realtime/visitors?site_id=${SITE}`)).toEqual({ status: 200, body: 6 })
    expect((await get(`/api/v1/stats/realtime/visitors?site_id=${SITE}`, otherToken)).status).toBe(403)
  })
})

describe('stats API v2: POST /api/v2/query', () => {
  it('an aggregate, in Plausible\'s response shape', async () => {
    const { status, body } = await v2({ metrics: ['visitors', 'events'] })
    expect(status).toBe(200)
    expect(body.results).toEqual([{ metrics: [26, 49], dimensions: [] }])
    expect(body.meta).toEqual({})
    expect(body.query).toMatchObject({ site_id: SITE, metrics: ['visitors', 'events'], date_range: [`${day}T00:00:00+00:00`, `${day}T23:59:59+00:00`], filters: [], dimensions: [], order_by: [['visitors', 'desc']] })
  })

  it('a property dimension, with percentage; pagination and total_rows', async () => {
    const { body } = await v2({ metrics: ['visitors', 'percentage'], dimensions: ['visit:country'] })
    expect(body.results).toEqual([
      { dimensions: ['DE'], metrics: [12, 46.2] },
      { dimensions: ['US'], metrics: [8, 30.8] },
      { dimensions: ['FR'], metrics: [6, 23.1] },
    ])
    const page = await v2({ metrics: ['visitors'], dimensions: ['visit:country'], order_by: [['visitors', 'asc']], pagination: { limit: 1, offset: 1 }, include: { total_rows: true } })
    expect(page.body.results).toEqual([{ dimensions: ['US'], metrics: [8] }])
    expect(page.body.meta).toEqual({ total_rows: 3 })
    const sources = await v2({ metrics: ['visitors'], dimensions: ['visit:source'] })
    expect(sources.body.results.map((r: { dimensions: string[] }) => r.dimensions[0])).toEqual(['Google', 'newsletter', 'Direct / None'])
  })

  it('filters: is, contains, or, not, and a goal', async () => {
    const visitors = async (filters: unknown[]) => (await v2({ metrics: ['visitors'], filters })).body.results[0].metrics[0]
    expect(await visitors([['is', 'visit:country', ['DE']], ['contains', 'event:page', ['/pri']]])).toBe(7)
    expect(await visitors([['or', [['is', 'visit:country', ['DE']], ['is', 'visit:country', ['US']]]]])).toBe(20)
    expect(await visitors([['not', ['is', 'visit:country', ['FR']]]])).toBe(20)
    expect(await visitors([['and', [['is', 'event:goal', ['Signup']]]]])).toBe(11)
    const rate = await v2({ metrics: ['visitors', 'conversion_rate'], filters: [['is', 'event:goal', ['Signup']]] })
    expect(rate.body.results[0].metrics).toEqual([11, 42.3])
  })

  it('time:hour with time_labels: every hour, the empty ones null like the small ones', async () => {
    const { body } = await v2({ metrics: ['visitors'], dimensions: ['time:hour'], include: { time_labels: true } })
    expect(body.meta.time_labels).toHaveLength(24)
    expect(body.meta.time_labels[9]).toBe(`${day} 09:00:00`)
    expect(body.meta.withheld).toBe(WITHHELD)
    const byHour = Object.fromEntries(body.results.map((r: { dimensions: string[]; metrics: number[] }) => [r.dimensions[0], r.metrics[0]]))
    expect(byHour).toMatchObject({ [`${day} 09:00:00`]: 12, [`${day} 10:00:00`]: 6, [`${day} 11:00:00`]: 8, [`${day} 03:00:00`]: null })
    expect(body.results[0].dimensions).toEqual([`${day} 00:00:00`])
  })

  it('event:goal and custom-property dimensions', async () => {
    const goals = await v2({ metrics: ['visitors', 'events', 'conversion_rate'], dimensions: ['event:goal'] })
    expect(goals.body.results).toEqual([{ dimensions: ['Signup'], metrics: [11, 11, 42.3] }])
    const plans = await v2({ metrics: ['visitors'], dimensions: ['event:props:plan'], filters: [['is', 'event:name', ['Signup']]] })
    expect(plans.body.results).toEqual([{ dimensions: ['pro'], metrics: [6] }, { dimensions: ['free'], metrics: [5] }])
  })

  it('withheld numbers stay null, with the reason in meta', async () => {
    const { body } = await v2({ metrics: ['visitors', 'pageviews'], filters: [['is', 'visit:country', ['JP']]] })
    expect(body.results).toEqual([{ dimensions: [], metrics: [null, null] }])
    expect(body.meta.withheld).toBe(WITHHELD)
  })

  it('the token: a per-site token for its own site only', async () => {
    expect((await v2({ metrics: ['visitors'] }, siteToken)).body.results[0].metrics).toEqual([26])
    expect((await v2({ metrics: ['visitors'] }, otherToken)).status).toBe(403)
    const none = await app.inject({ method: 'POST', url: '/api/v2/query', payload: { site_id: SITE, metrics: ['visitors'], date_range: '7d' } })
    expect(none.statusCode).toBe(401)
  })

  it('what is not supported is a 400 naming it', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ metrics: ['visitors'], dimensions: ['visit:country', 'visit:city_name'] }, 'one dimension'],
      [{ metrics: ['visitors'], filters: [['matches', 'event:page', ['^/p']]] }, 'regular expressions'],
      [{ metrics: ['visitors'], date_range: 'all' }, 'date_range "all"'],
      [{ metrics: ['visitors', 'sessions'] }, '"sessions"'],
      [{ metrics: ['visitors'], order_by: [['pageviews', 'desc']] }, 'order_by'],
      [{ metrics: ['percentage'] }, 'percentage'],
      [{ metrics: ['visitors'], dimensions: ['visit:region'] }, 'visit:region_name'],
      [{ metrics: ['visitors'], colour: 'blue' }, 'colour'],
    ]
    for (const [query, words] of cases) {
      const { status, body } = await v2(query)
      expect(status, words).toBe(400)
      expect(body.error, words).toContain(words)
    }
  })
})
