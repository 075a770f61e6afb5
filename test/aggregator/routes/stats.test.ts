import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, DOC_IPS, UA, beacon, rows, settle, testApp } from '../../helpers/app.ts'
import { at, day, dayBefore, eventRow, handCountedVisits, insertEvents } from '../../helpers/fixtures.ts'

/** The hand-counted store of test/helpers/fixtures.ts: 19 visitors of stats.example.com in 25 visits. */
const SITE = 'stats.example.com'
const EVENTS = handCountedVisits(SITE)

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
       FROM events WHERE site = {site:String}`,
      { site: SITE },
    )
    const { body } = await q('aggregate', 'metrics=visitors,pageviews,events')
    expect(body.results.visitors.value).toBe(Number(raw.visitors))
    expect(body.results.pageviews.value).toBe(Number(raw.pageviews))
    expect(body.results.events.value).toBe(Number(raw.events))
  })

  it('filters: is, is not, contains, alternatives; the filtered path agrees with the rollup', async () => {
    expect((await q('aggregate', 'metrics=visitors&filters=country==DE')).body.results.visitors.value).toBe(10)
    expect((await q('aggregate', 'metrics=visitors&filters=country!=DE')).body.results.visitors.value).toBe(9)
    expect((await q('aggregate', 'metrics=visitors&filters=country==DE|US')).body.results.visitors.value).toBe(16)
    expect((await q('aggregate', 'metrics=visitors,visits&filters=page~pric')).body.results).toMatchObject({ visitors: { value: 16 }, visits: { value: 16 } })
    expect((await q('aggregate', 'metrics=visitors&filters=source==Google;page==/pricing')).body.results.visitors.value).toBe(10)
    // a filter that matches every visit answers what the rollup answers
    const all = (await q('aggregate', 'metrics=visitors,visits,pageviews,bounce_rate&filters=country!=XX')).body.results
    const rolled = (await q('aggregate', 'metrics=visitors,visits,pageviews,bounce_rate')).body.results
    expect(all).toEqual(rolled)
  })

  it('withholds every value when fewer than k visitors stand behind them', async () => {
    const { body } = await q('aggregate', 'metrics=visitors,pageviews&filters=country==FR')
    expect(body.results.visitors).toEqual({ value: null, change: null, withheld: 'fewer than 5 visitors' })
    expect(body.results.pageviews.value).toBeNull()
  })
})

describe('breakdown', () => {
  it('folds a country of 3 visitors into (other), and enough others with it that it cannot be recovered', async () => {
    const { body } = await q('breakdown', 'property=country&metrics=visitors,visits')
    expect(body.results).toEqual([
      { country: 'DE', visitors: 10, visits: 10 },
      { country: '(other)', visitors: 9, visits: 15 },
    ])
    expect(body.folded).toBe(2)
    expect(JSON.stringify(body)).not.toContain('FR')
  })

  it('pages, entry and exit pages, sources', async () => {
    const pages = (await q('breakdown', 'property=page&metrics=visitors,pageviews')).body.results
    expect(pages).toEqual([
      { page: '/pricing', visitors: 16, pageviews: 16 },
      { page: '/', visitors: 16, pageviews: 16 },
      { page: '/blog', visitors: 9, pageviews: 9 },
      { page: '/signup', visitors: 6, pageviews: 6 },
    ].sort((a, b) => b.visitors - a.visitors || (a.page < b.page ? -1 : 1)))
    const entry = (await q('breakdown', 'property=entry_page&metrics=visits,bounce_rate')).body.results
    expect(entry).toContainEqual({ entry_page: '/', visits: 16, bounce_rate: 0 })
    const sources = (await q('breakdown', 'property=source&metrics=visitors')).body.results
    expect(sources[0]).toEqual({ source: 'Google', visitors: 10 })
  })

  it('filters apply to breakdowns; a filtered population under k is withheld', async () => {
    const { body } = await q('breakdown', 'property=page&metrics=visitors&filters=country==US')
    expect(body.results).toEqual([
      { page: '/', visitors: 6 }, { page: '/blog', visitors: 6 }, { page: '/pricing', visitors: 6 }, { page: '/signup', visitors: 6 },
    ])
    const small = await q('breakdown', 'property=page&filters=country==FR')
    expect(small.body).toMatchObject({ results: [], withheld: 'fewer than 5 visitors' })
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
  it('has one row per day of the range, zero on empty days', async () => {
    const from = dayBefore
    const { body } = await get(`/api/v1/stats/timeseries?site=${SITE}&period=custom&from=${from}&to=${day}&metrics=visitors,pageviews`)
    expect(body.results).toEqual([
      { date: from, visitors: 0, pageviews: 0 },
      { date: day, visitors: 19, pageviews: 47 },
    ])
  })

  it('by hour withholds hours of fewer than k visitors', async () => {
    const { body } = await q('timeseries', 'interval=hour&metrics=visitors')
    const byHour = Object.fromEntries(body.results.map((r: { date: string; visitors: number | null }) => [r.date.slice(11, 13), r.visitors]))
    expect(byHour).toMatchObject({ '08': 0, '09': 10, '10': null, '11': 6 })
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
    for (let i = 0; i < 6; i++) await beacon(app, { n: 'pageview', u: `https://example.com/${i < 5 ? 'live' : 'alone'}`, d: 'example.com' }, { ip: DOC_IPS[i], ua: UA.firefoxLinux })
    await settle(app)
    const { body } = await get('/api/v1/stats/realtime?site=example.com')
    expect(body).toEqual({ visitors: 6, pages: [{ page: '(other)', visitors: 6 }] })
    // filters on what every event carries
    expect((await get('/api/v1/stats/realtime?site=example.com&filters=page==/live')).body).toEqual({ visitors: 5, pages: [{ page: '/live', visitors: 5 }] })
    expect((await get('/api/v1/stats/realtime?site=example.com&filters=page==/alone')).body).toMatchObject({ visitors: null, withheld: 'fewer than 5 visitors' })
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
