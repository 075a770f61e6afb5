import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, rows, settle, testApp } from '../../helpers/app.ts'
import { at, day, eventRow, insertEvents } from '../../helpers/fixtures.ts'

/**
 * Scroll depth (issue 14, point 4) on the page breakdown, beside time on page: the average over
 * page views (a page within a visit) of the deepest scroll each reported, from the daily rollup
 * and from events alike, and under k like every number. Two days ago (UTC), 17 visitors:
 *
 *   /pricing  6 visitors reaching 50, 60 … 100 % (an earlier ping of each at 20 %); the first views
 *             it twice in one visit, the second time to 40 %: one page view of 50 %. One ping
 *             without a visitor hash (20 %) stands as a page view of its own: 470 / 7 = 67 %.
 *             A ping on /pricing (10 %) from a visit that viewed only / counts nowhere.
 *   /         6 visitors, two of whom report 90 %: too few behind the number (k = 5)
 *   /blog     5 visitors whose pings report no scroll depth (older trackers)
 */
const SITE = 'pages.example.com'
const ping = (visitor: number, ts: number, pathname: string, sd?: number) =>
  ({ ...eventRow(SITE, visitor, ts, pathname), name: 'engagement', engagement_ms: 3000, ...(sd === undefined ? {} : { scroll_depth: sd }) })

function storeEvents() {
  const out: Record<string, unknown>[] = []
  ;[50, 60, 70, 80, 90, 100].forEach((deepest, i) => {
    const t = at(9, 2 * i)
    out.push(eventRow(SITE, 100 + i, t, '/pricing'), ping(100 + i, t + 20_000, '/pricing', 20), ping(100 + i, t + 40_000, '/pricing', deepest))
  })
  out.push(eventRow(SITE, 100, at(9, 1), '/pricing'), ping(100, at(9, 1, 20), '/pricing', 40))
  out.push(eventRow(SITE, 0, at(9, 30), '/pricing'), ping(0, at(9, 30, 20), '/pricing', 20))
  for (let i = 0; i < 6; i++) out.push(eventRow(SITE, 200 + i, at(10, i), '/'), ping(200 + i, at(10, i, 20), '/', i < 2 ? 90 : undefined))
  // a ping on a page its visit did not view (the view was in an earlier visit): no page view of /pricing, no depth of it
  out.push({ ...ping(200, at(10, 0, 40), '/pricing', 10), engagement_ms: 0 })
  for (let i = 0; i < 5; i++) out.push(eventRow(SITE, 300 + i, at(11, i), '/blog'), ping(300 + i, at(11, i, 20), '/blog'))
  return out
}

let app: FastifyInstance
const get = async (params: string, route = 'breakdown') => {
  const res = await app.inject({ url: `/api/v1/stats/${route}?site=${SITE}&period=custom&from=${day}&to=${day}&${params}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  return { status: res.statusCode, body: res.json() }
}
const pages = 'property=page&metrics=visitors,pageviews,time_on_page,scroll_depth'
const PRICING = { page: '/pricing', visitors: 6, pageviews: 8, time_on_page: 5, scroll_depth: 67 }
const HOME = { page: '/', visitors: 6, pageviews: 6, time_on_page: 3, scroll_depth: null }
const EXPECTED = [HOME, PRICING, { page: '/blog', visitors: 5, pageviews: 5, time_on_page: 3, scroll_depth: null }]

/** The answer from events and visits, before the day's rollup was built. */
let live: unknown

beforeAll(async () => {
  app = await testApp({}, [SITE])
  await insertEvents(app.runtime.store.client, storeEvents())
  live = (await get(pages)).body
  await settle(app)
})
afterAll(async () => {
  await app?.close()
})

describe('scroll_depth on the page breakdown', () => {
  it('from the daily rollup: each page view\'s deepest scroll, averaged; null where fewer than k reported one', async () => {
    const [built] = await rows<{ sum: number; views: number; visitors: number }>(
      app,
      "SELECT sum(scroll_sum) AS sum, sum(scroll_views) AS views, sum(scroll_visitors) AS visitors FROM rollup_daily WHERE site = {site:String} AND dim = 'page' AND value = '/pricing'",
      { site: SITE },
    )
    expect(built).toEqual({ sum: 470, views: 7, visitors: 6 })
    const { status, body } = await get(pages)
    expect(status, JSON.stringify(body)).toBe(200)
    expect(body.results).toEqual(EXPECTED)
  })

  it('from events and visits (before the build) alike', async () => {
    expect(live).toEqual({ results: EXPECTED, period: expect.any(String) })
    expect(live).toEqual((await get(pages)).body)
  })

  it('a filter on the page picks rows, each page keeping its own depth', async () => {
    const { body } = await get(`${pages}&filters=page!=/blog`)
    expect(body.results).toEqual([HOME, PRICING])
  })

  it('is a metric of the page breakdown only: elsewhere a 400 says so', async () => {
    for (const [route, params] of [['aggregate', 'metrics=scroll_depth'], ['timeseries', 'metrics=visitors,scroll_depth'], ['breakdown', 'property=entry_page&metrics=scroll_depth']]) {
      const { status, body } = await get(params, route)
      expect(status, params).toBe(400)
      expect(body.error).toBe('scroll_depth is a metric of the page breakdown (property=page)')
    }
  })
})
