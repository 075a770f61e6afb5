import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, rows, settle, testApp } from '../../helpers/app.ts'
import { at, day, eventRow } from '../../helpers/fixtures.ts'

/**
 * Issue 11: events stored before visits were cut at ingest (migration 015) carry a visitor hash
 * but no visit. Six such visitors, two days ago: visitors 0–4 view / and /pricing a minute apart,
 * then / again an hour later (a second visit: the timeout is 30 minutes); visitor 5 views / once.
 */
const SITE = 'legacy.example.com'
const legacy = [
  ...Array.from({ length: 5 }, (_, i) => [
    eventRow(SITE, 500 + i, at(9, i), '/'),
    eventRow(SITE, 500 + i, at(9, i, 60), '/pricing'),
    eventRow(SITE, 500 + i, at(10, 30 + i), '/'),
  ]).flat(),
  eventRow(SITE, 505, at(11), '/'),
].map((r) => ({ ...r, visit_id: '0', visit_flags: 0 }))
/** And three of today (UTC, seconds after midnight), which today's page rows kept at insert (page_days) counted unstamped. */
const midnight = Date.now() - (Date.now() % 86_400_000)
const today = [0, 1, 2].map((i) => ({ ...eventRow(SITE, 600 + i, midnight + (i + 1) * 1000, '/today'), visit_id: '0', visit_flags: 0 }))

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({}, [SITE])
  await app.runtime.store.client.insert({ table: 'events', values: [...legacy, ...today], format: 'JSONEachRow' })
  await settle(app)
})
afterAll(async () => {
  await app?.close()
})

describe('events stored before visits were cut at ingest', () => {
  it('are cut into visits at the first rollup run, and every statistic counts them', async () => {
    const res = await app.inject({
      url: `/api/v1/stats/aggregate?site=${SITE}&period=custom&from=${day}&to=${day}&metrics=visitors,visits,pageviews,bounce_rate,visit_duration`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    const r = res.json().results
    expect(r.visitors.value).toBe(6)
    expect(r.visits.value).toBe(11)
    expect(r.pageviews.value).toBe(16)
    // the five second visits and visitor 5's single view bounce: 6 of 11
    expect(r.bounce_rate.value).toBe(55)
    // five visits of one minute, six of none
    expect(r.visit_duration.value).toBe(Math.round((5 * 60) / 11))
  })

  it('leaves no event without its visit, and none twice', async () => {
    const [left] = await rows<{ unstamped: number; n: number }>(app, `SELECT countIf(visit_id = 0) AS unstamped, count() AS n FROM events WHERE site = {site:String}`, { site: SITE })
    expect(Number(left.unstamped)).toBe(0)
    expect(Number(left.n)).toBe(legacy.length + today.length)
    const entries = await rows<{ entry_page: string; n: number }>(app, `SELECT entry_page, count() AS n FROM visits FINAL WHERE site = {site:String} GROUP BY entry_page ORDER BY entry_page`, { site: SITE })
    expect(entries.map((e) => [e.entry_page, Number(e.n)])).toEqual([['/', 11], ['/today', 3]])
  })

  it("leaves today's page rows as today's events give them: stamped, and counted once", async () => {
    const [kept] = await rows<{ pageviews: number; visitors: number }>(
      app,
      `SELECT sum(pageviews) AS pageviews, uniqExactMerge(visitors) AS visitors FROM page_days WHERE site = {site:String} AND pathname = '/today'`,
      { site: SITE },
    )
    expect({ pageviews: Number(kept.pageviews), visitors: Number(kept.visitors) }).toEqual({ pageviews: 3, visitors: 3 })
  })
})
