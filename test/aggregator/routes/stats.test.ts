import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, UA, beacon, rows, settle, testApp } from '../../helpers/app.ts'
import { at, day, dayBefore, dayStart, eventRow, handCountedVisits, insertEvents, utcDay } from '../../helpers/fixtures.ts'

/**
 * The hand-counted store of test/helpers/fixtures.ts: 19 visitors of stats.example.com in 25
 * visits. Two days before it (the day between them empty), 5 visitors from GB view /about once,
 * coming from example.net: over the three days no page is viewed by all but a few visitors, so
 * the page breakdown has rows to show (R4 `row-vs-total`).
 */
const SITE = 'stats.example.com'
const DAY = 86_400_000
const twoBefore = utcDay(dayStart - 2 * DAY)
const EARLIER = Array.from({ length: 5 }, (_, i) =>
  eventRow(SITE, 5000 + i, at(9, i) - 2 * DAY, '/about', { country: 'GB', source: 'example.net', channel: 'referral', referrer_host: 'example.net' }),
)
const EVENTS = [...handCountedVisits(SITE), ...EARLIER]
const WITHHELD = 'fewer than 5 visitors behind this number or its neighbours'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({}, [SITE, 'example.com'])
  await insertEvents(app.runtime.store.client, EVENTS)
  await settle(app)
})
afterAll(async () => {
  await app?.close()
})

const get = async (path: string) => {
  const res = await app.inject({ url: path, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  return { status: res.statusCode, body: res.json() }
}
const q = (endpoint: string, params: string) => get(`/api/v1/stats/${endpoint}?site=${SITE}&period=custom&from=${day}&to=${day}&${params}`)
/** The same over the three days from the GB visitors to the hand-counted day: 24 visitors. */
const q3 = (endpoint: string, params: string) => get(`/api/v1/stats/${endpoint}?site=${SITE}&period=custom&from=${twoBefore}&to=${day}&${params}`)

describe('aggregate', () => {
  it('matches the hand-computed totals', async () => {
    const { status, body } = await q('aggregate', 'metrics=visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration,events')
    expect(status).toBe(200)
    const v = Object.fromEntries(Object.entries(body.results).map(([k, x]) => [k, (x as { value: number }).value]))
    // visits: 10 + 3 + 12; pageviews: 20 + 3 + 24; bounces: 3 (FR) + 6 (second US visits)
    // duration: 10 × 60 s + 6 × 130 s (the US visits end with the engagement ping of one) ...
    expect(v).toMatchObject({ visitors: 19, visits: 25, pageviews: 47, views_per_visit: 1.88, bounce_rate: 36, events: 48 })
    // 10 × 60 s (DE) + 5 × 120 s + 140 s (US first visits, one ending with its ping) = 1340 s over 25 visits
    expect(v.visit_duration).toBe(Math.round(1340 / 25))
  })

  it('equals the same numbers computed from raw events', async () => {
    const [raw] = await rows<{ visitors: number; pageviews: number; events: number }>(
      app,
      `SELECT uniqExactIf(visitor_id, visitor_id != 0) visitors, countIf(name = 'pageview') pageviews, countIf(name != 'engagement') events
       FROM events WHERE site = {site:String} AND toDate(ts) = {day:Date}`,
      { site: SITE, day },
    )
    const { body } = await q('aggregate', 'metrics=visitors,pageviews,events')
    expect(body.results.visitors.value).toBe(Number(raw.visitors))
    expect(body.results.pageviews.value).toBe(Number(raw.pageviews))
    expect(body.results.events.value).toBe(Number(raw.events))
  })

  it('filters: is, is not, contains, alternatives; the filtered path agrees with the rollup', async () => {
    expect((await q('aggregate', 'metrics=visitors&filters=country==DE')).body.results.visitors.value).toBe(10)
    expect((await q('aggregate', 'metrics=visitors&filters=country!=DE')).body.results.visitors.value).toBe(9)
    expect((await q('aggregate', 'metrics=visitors&filters=country==FR|US')).body.results.visitors.value).toBe(9)
    // /blog: the 3 French visits and the 6 second visits of the US visitors
    expect((await q('aggregate', 'metrics=visitors,visits&filters=page~blo')).body.results).toMatchObject({ visitors: { value: 9 }, visits: { value: 9 } })
    // the filtered path (visits and events) answers what the rollup answers for the same visitors
    const metrics = ['visitors', 'visits', 'pageviews', 'bounce_rate']
    const filtered = (await q('aggregate', `metrics=${metrics.join(',')}&filters=country==DE`)).body.results
    const rolled = (await q('breakdown', `property=country&metrics=${metrics.join(',')}`)).body.results.find((r: { country: string }) => r.country === 'DE')
    expect(Object.fromEntries(metrics.map((m) => [m, filtered[m].value]))).toEqual({ visitors: 10, visits: 10, pageviews: 20, bounce_rate: 0 })
    expect(rolled).toEqual({ country: 'DE', ...Object.fromEntries(metrics.map((m) => [m, filtered[m].value])) })
  })

  it('withholds every value when fewer than k visitors stand behind them, or a filter sets apart fewer than k (R3)', async () => {
    const { body } = await q('aggregate', 'metrics=visitors,pageviews&filters=country==FR')
    expect(body.results.visitors).toEqual({ value: null, change: null, withheld: WITHHELD })
    expect(body.results.pageviews).toEqual({ value: null, change: null, withheld: WITHHELD })
    // none looks like a few (R2); so does a filter that sets apart only FR's 3 visitors, or nobody:
    // every visitor is somewhere but XX, and every Google visitor viewed /pricing
    for (const filters of ['country==JP', 'country==DE|US', 'country!=XX', 'source==Google;page==/pricing']) {
      expect((await q('aggregate', `metrics=visitors,pageviews&filters=${filters}`)).body, filters).toEqual(body)
    }
  })
})

describe('breakdown', () => {
  it('folds a country of 3 visitors into (other), and enough others with it that it cannot be recovered', async () => {
    const { body } = await q('breakdown', 'property=country&metrics=visitors,visits')
    // (other) is FR and US counted again over their union (R0)
    expect(body.results).toEqual([
      { country: 'DE', visitors: 10, visits: 10 },
      { country: '(other)', visitors: 9, visits: 15 },
    ])
    expect(body).not.toHaveProperty('folded')
    expect(JSON.stringify(body)).not.toContain('FR')
  })

  it('pages, entry and exit pages, sources', async () => {
    // on the hand-counted day alone, / and /pricing leave only FR's 3 visitors outside them (R4)
    expect((await q('breakdown', 'property=page&metrics=visitors,pageviews')).body.results).toEqual([{ page: '(other)', visitors: 19, pageviews: 47 }])
    const pages = (await q3('breakdown', 'property=page&metrics=visitors,pageviews')).body.results
    expect(pages).toEqual([
      { page: '/pricing', visitors: 16, pageviews: 16 },
      { page: '/', visitors: 16, pageviews: 16 },
      { page: '/blog', visitors: 9, pageviews: 9 },
      { page: '/signup', visitors: 6, pageviews: 6 },
      { page: '/about', visitors: 5, pageviews: 5 },
    ].sort((a, b) => b.visitors - a.visitors || (a.page < b.page ? -1 : 1)))
    const entry = (await q3('breakdown', 'property=entry_page&metrics=visits,bounce_rate')).body.results
    expect(entry).toContainEqual({ entry_page: '/', visits: 16, bounce_rate: 0 })
    expect(entry).toContainEqual({ entry_page: '/about', visits: 5, bounce_rate: 100 })
    const sources = (await q3('breakdown', 'property=source&metrics=visitors')).body.results
    expect(sources[0]).toEqual({ source: 'Google', visitors: 10 })
    expect(sources).toContainEqual({ source: 'example.net', visitors: 5 })
  })

  it('filters apply to breakdowns; a filtered population under k is withheld', async () => {
    const { body } = await q3('breakdown', 'property=page&metrics=visitors&filters=country!=DE')
    expect(body.results).toEqual([
      { page: '/blog', visitors: 9 }, { page: '/', visitors: 6 }, { page: '/pricing', visitors: 6 }, { page: '/signup', visitors: 6 }, { page: '/about', visitors: 5 },
    ])
    // each page holds all 6 US visitors: all fold into one (other) of 6 distinct visitors, not 4 × 6 (R0, R4)
    expect((await q('breakdown', 'property=page&metrics=visitors&filters=country==US')).body.results).toEqual([{ page: '(other)', visitors: 6 }])
    const small = await q('breakdown', 'property=page&filters=country==FR')
    expect(small.body).toEqual({ period: day, results: [], withheld: WITHHELD })
    // none looks like a few (R2)
    expect((await q('breakdown', 'property=page&filters=country==JP')).body).toEqual(small.body)
  })

  it('a filter on the broken-down property picking one value shows its row, the whole total by construction (R4)', async () => {
    expect((await q3('breakdown', 'property=page&metrics=visitors,pageviews&filters=page==/pricing')).body.results).toEqual([{ page: '/pricing', visitors: 16, pageviews: 16 }])
    expect((await q3('breakdown', 'property=country&metrics=visitors&filters=country==DE')).body.results).toEqual([{ country: 'DE', visitors: 10 }])
    // two values, each viewed by the same 16: a row equal to the total would tell that no visitor of the other value lacks it
    expect((await q3('breakdown', 'property=page&metrics=visitors&filters=page==/pricing|/')).body.results).toEqual([{ page: '(other)', visitors: 16 }])
    // a pattern picks several values: its one row is folded as any row equal to the total
    expect((await q3('breakdown', 'property=page&metrics=visitors&filters=page==/pri*')).body.results).toEqual([{ page: '(other)', visitors: 16 }])
  })
})

describe('property keys', () => {
  it('lists the custom-prop keys that at least k visitors sent', async () => {
    // one visitor sent plan=pro: under k, so not even the key is listed
    expect((await q('properties', '')).body.keys).toEqual([])
    // on another site, five visitors send two keys and one sends a third
    const signup = (v: number, props: Record<string, string>) => eventRow('example.com', v, at(13, 0, v % 60), '/signup', { name: 'Signup', props })
    const more = [...Array.from({ length: 5 }, (_, i) => signup(4000 + i, { plan: 'team', colour: 'blue' })), signup(4100, { secret_sauce: 'x' })]
    await insertEvents(app.runtime.store.client, more)
    await settle(app)
    const keys = await get(`/api/v1/stats/properties?site=example.com&period=custom&from=${day}&to=${day}`)
    expect(keys.body.keys.sort()).toEqual(['colour', 'plan'])
  })
})

describe('timeseries', () => {
  it('has one row per day of the range, an empty day withheld like a small one', async () => {
    const hidden = { visitors: null, pageviews: null, withheld: WITHHELD }
    const { body } = await q3('timeseries', 'metrics=visitors,pageviews')
    expect(body.results).toEqual([
      { date: twoBefore, visitors: 5, pageviews: 5 },
      { date: dayBefore, ...hidden },
      { date: day, visitors: 19, pageviews: 47 },
    ])
    // with the empty day alone beside it, the day holds every visitor of the range: it is withheld too (R5)
    const two = await get(`/api/v1/stats/timeseries?site=${SITE}&period=custom&from=${dayBefore}&to=${day}&metrics=visitors,pageviews`)
    expect(two.body.results).toEqual([{ date: dayBefore, ...hidden }, { date: day, ...hidden }])
  })

  it('by hour withholds hours of fewer than k visitors, and empty hours alike', async () => {
    const { body } = await q('timeseries', 'interval=hour&metrics=visitors')
    const byHour = Object.fromEntries(body.results.map(({ date, ...rest }: { date: string }) => [date.slice(11, 13), rest]))
    expect(byHour).toMatchObject({ '08': { visitors: null, withheld: WITHHELD }, '09': { visitors: 10 }, '10': { visitors: null, withheld: WITHHELD }, '11': { visitors: 6 } })
    expect(byHour['08']).toEqual(byHour['10'])
  })
})

describe('bad input', () => {
  it.each([
    ['period=fortnight', /period/],
    ['period=custom&from=2026-02-30&to=2026-03-01', /from/],
    ['metrics=visitors,money', /metrics/],
    ['filters=colour==red', /unknown filter property/],
    ['filters=country', /filter looks like/],
  ])('%s → 400 with a reason', async (params, reason) => {
    const res = await get(`/api/v1/stats/aggregate?site=${SITE}&${params}`)
    expect(res.status).toBe(400)
    expect(res.body.error).toMatch(reason)
  })

  it('an unknown property → 400, an unknown site → 404', async () => {
    expect((await q('breakdown', 'property=shoe_size')).status).toBe(400)
    for (const inherited of ['valueOf', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect((await q('breakdown', `property=${inherited}`)).status, inherited).toBe(400)
      expect((await q('aggregate', `filters=${inherited}==x`)).status, inherited).toBe(400)
    }
    expect((await get('/api/v1/stats/aggregate?site=nobody.example.net')).status).toBe(404)
  })
})

describe('realtime', () => {
  it('counts visitors of the last five minutes and their pages, k-thresholded', async () => {
    // 11 visitors, each from a network (/48) of its own: 5 on /live, 5 on /elsewhere, 1 alone
    const pages = [...Array(5).fill('live'), ...Array(5).fill('elsewhere'), 'alone']
    for (const [i, p] of pages.entries()) await beacon(app, { n: 'pageview', u: `https://example.com/${p}`, d: 'example.com' }, { ip: `2001:db8:${i + 1}::1`, ua: UA.firefoxLinux })
    await settle(app)
    const { body } = await get('/api/v1/stats/realtime?site=example.com')
    // /alone is folded, and /live with it so that (other) holds k: 6 distinct visitors
    expect(body).toEqual({ visitors: 11, pages: [{ page: '/elsewhere', visitors: 5 }, { page: '(other)', visitors: 6 }] })
    // filters on what every event carries; the 5 on /live all viewed it, so it is (other) (R4)
    expect((await get('/api/v1/stats/realtime?site=example.com&filters=page==/live')).body).toEqual({ visitors: 5, pages: [{ page: '(other)', visitors: 5 }] })
    const alone = (await get('/api/v1/stats/realtime?site=example.com&filters=page==/alone')).body
    expect(alone).toEqual({ visitors: null, pages: [], withheld: WITHHELD })
    expect((await get('/api/v1/stats/realtime?site=example.com&filters=page==/nowhere')).body).toEqual(alone)
    const bad = await get('/api/v1/stats/realtime?site=example.com&filters=source==Google')
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatch(/realtime filters take/)
  })

  it('a version breakdown row filters the view as it is shown', async () => {
    const rows2 = await q('breakdown', 'property=browser_version&metrics=visitors')
    expect(rows2.body.results).toEqual([{ browser_version: 'Firefox 132', visitors: 10 }, { browser_version: '(none)', visitors: 9 }])
    const { body } = await q('aggregate', `metrics=visitors&filters=${encodeURIComponent('browser_version==Firefox 132')}`)
    expect(body.results.visitors.value).toBe(10)
  })
})
