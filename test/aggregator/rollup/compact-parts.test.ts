import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COMPACT_AFTER_ROWS, COMPACT_OLD_DAYS_PER_RUN, COMPACT_SHARE } from '../../../aggregator/rollup/job.ts'
import { querySums, type StatsQuestion } from '../../../aggregator/stats/query.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { DAY, HOUR, openFixture, type StoreFixture } from '../store-fixture.ts'
import { utcDay } from '../../../store/time.ts'

/**
 * Today's visits and events arrive as many parts, which a question reads each (the visits with
 * FINAL); the rollup job merges a day's into one part once the rows outside the largest part are
 * many (RollupJob.compactVisits, compactEvents). The statistics read before and after are the
 * same, and those the events say.
 */

const SITE = 'example.com'
const TODAY = Date.UTC(2031, 2, 5)
const day = utcDay(TODAY)
// visit ids as the collector makes them: the start's seconds since 2020 above 31 bits (collector/visits.ts)
const ID_BASE = BigInt(Math.floor((TODAY + HOUR) / 1000) - 1577836800) << 31n

let fx: StoreFixture

/** One pageview (at `path`) in each of the visits `first`…`last - 1`, of visitors n % 5000, in one insert: a part of visits of its own. */
const viewsIn = (first: number, last: number, path: string) =>
  fx.client.command({
    query: `INSERT INTO events (site, ts, name, visitor_id, network_id, visit_id, visit_flags, pathname)
            SELECT {site:String}, fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * 1000)), 'pageview', 1 + number % 5000, 0, {base:UInt64} + number, 0, {path:String}
            FROM numbers({first:UInt64}, {n:UInt64})`,
    query_params: { site: SITE, t0: TODAY + HOUR + (path === '/' ? 0 : 60_000), base: ID_BASE.toString(), path, first, n: last - first },
  })

const partsOf = async (table: 'visits' | 'events', of = day) =>
  (
    await (
      await fx.client.query({
        query: 'SELECT rows FROM system.parts WHERE active AND database = currentDatabase() AND table = {table:String} AND partition = {day:String} ORDER BY rows',
        query_params: { table, day: of },
        format: 'JSONEachRow',
      })
    ).json<{ rows: string | number }>()
  ).map((r) => Number(r.rows))
const visitParts = (of = day) => partsOf('visits', of)
const eventParts = (of = day) => partsOf('events', of)

const question: StatsQuestion = { site: SITE, timezone: 'UTC', range: { from: TODAY, to: TODAY + DAY }, filters: [] }
const totals = async () => {
  const [r] = await querySums(fx.client, question)
  return { visitors: r.visitors, visits: r.visits, pageviews: r.pageviews, bounces: r.bounces }
}
/** The page panel's rows (read from today's events): page → [visitors, pageviews]. */
const pages = async () =>
  Object.fromEntries(
    (await querySums(fx.client, { ...question, property: property('page')!, lean: true })).map((r) => [r.key, [r.visitors, r.pageviews]]),
  )
/** What the events say of each page: its oracle. */
const pagesTruth = async () =>
  Object.fromEntries(
    (
      await (
        await fx.client.query({
          query: 'SELECT toString(pathname) AS page, uniqExact(visitor_id) AS v, count() AS n FROM events WHERE site = {site:String} AND toDate(ts) = {day:Date} GROUP BY page',
          query_params: { site: SITE, day },
          format: 'JSONEachRow',
        })
      ).json<{ page: string; v: string | number; n: string | number }>()
    ).map((r) => [r.page, [Number(r.v), Number(r.n)]]),
  )
/** What the events say: the oracle. */
const truth = async () => {
  const [r] = await (
    await fx.client.query({
      query: `SELECT uniqExact(visitor_id) AS visitors, uniqExact(visit_id) AS visits, count() AS pageviews,
                (SELECT count() FROM (SELECT visit_id FROM events WHERE site = {site:String} AND toDate(ts) = {day:Date} GROUP BY visit_id HAVING count() = 1)) AS bounces
              FROM events WHERE site = {site:String} AND toDate(ts) = {day:Date}`,
      query_params: { site: SITE, day },
      format: 'JSONEachRow',
    })
  ).json<Record<string, string | number>>()
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]))
}

beforeAll(async () => {
  fx = await openFixture({ [SITE]: 'UTC' }, TODAY + 12 * HOUR)
})
afterAll(async () => {
  await fx?.close()
})

describe("the rollup job merges a day's visits and events into one part once many rows lie outside its largest", () => {
  it('leaves a day alone while the rows outside its largest part are few', async () => {
    // two parts of 2,000 visits, sharing 1,000 (their second page view): 2,000 rows outside the largest
    await viewsIn(0, 2000, '/')
    await viewsIn(1000, 3000, '/next')
    expect(await visitParts()).toEqual([2000, 2000])
    expect(await eventParts()).toEqual([2000, 2000])
    expect(2000).toBeLessThan(COMPACT_AFTER_ROWS)
    const report = await fx.job.run()
    expect(report.compacted).toEqual([])
    expect(report.compactedEvents).toEqual([])
    expect(await visitParts()).toEqual([2000, 2000])
    expect(await eventParts()).toEqual([2000, 2000])
    expect(await totals()).toEqual(await truth())
    expect(await pages()).toEqual(await pagesTruth())
  })

  it('merges it once they are many, and every statistic stays what the events say', async () => {
    // 12,000 and 10,000 more visit rows, overlapping the others: 14,000 outside the largest part (12,000)
    await viewsIn(0, 12000, '/c')
    await viewsIn(6000, 16000, '/d')
    const parts = await visitParts()
    const largest = Math.max(...parts)
    const outside = parts.reduce((a, b) => a + b, 0) - largest
    expect(parts.length).toBe(4)
    expect(outside).toBeGreaterThanOrEqual(COMPACT_AFTER_ROWS)
    expect(outside * COMPACT_SHARE).toBeGreaterThanOrEqual(largest)
    // the events: one part an insert, 14,000 of 26,000 outside the largest (12,000)
    expect(await eventParts()).toEqual([2000, 2000, 10000, 12000])
    const before = await totals()
    expect(before).toEqual(await truth())
    expect(before.visits).toBe(16000)
    const pagesBefore = await pages()
    expect(pagesBefore).toEqual(await pagesTruth())
    expect(Object.keys(pagesBefore).sort()).toEqual(['/', '/c', '/d', '/next'])
    const report = await fx.job.run()
    expect(report.compacted).toEqual([day])
    expect(report.compactedEvents).toEqual([day])
    expect(report.days).toEqual([])
    // one row a visit: the rows of a visit that several parts held are merged
    expect(await visitParts()).toEqual([16000])
    expect(await eventParts()).toEqual([26000])
    expect(await totals()).toEqual(before)
    expect(await pages()).toEqual(pagesBefore)
    // nothing more to do until the day has grown again
    const again = await fx.job.run()
    expect(again.compacted).toEqual([])
    expect(again.compactedEvents).toEqual([])
  })
})

describe('older days in several parts', () => {
  // four days before yesterday, each built (one part), then its visits put back in two parts that
  // overlap (split by visitor, as migration 031's copy left some days): what the job merges a few at a run
  const OLD = [3, 4, 5, 6].map((n) => utcDay(TODAY - n * DAY))
  const visitSums = async (of: string) =>
    (
      await (
        await fx.client.query({
          query: 'SELECT count() AS visits, sum(pageviews) AS pageviews, uniqExact(visitor_id) AS visitors FROM visits FINAL WHERE day = {day:Date}',
          query_params: { day: of },
          format: 'JSONEachRow',
        })
      ).json<Record<string, string | number>>()
    ).map((r) => Object.values(r).map(Number))[0]

  it(`merges ${COMPACT_OLD_DAYS_PER_RUN} a run, the newest first, however small the parts, and their visits stay the same`, async () => {
    await fx.insert(OLD.flatMap((d, i) => Array.from({ length: 40 }, (_, v) => [0, 30_000].map((dt) => ({ ts: Date.parse(d) + 9 * HOUR + v * 60_000 + dt, visitor: 100 * (i + 1) + v }))).flat()))
    expect((await fx.job.run()).days).toEqual([...OLD].reverse())
    await fx.client.command({ query: 'CREATE TABLE visits_split AS visits' })
    const before = new Map<string, number[]>()
    for (const d of OLD) {
      expect(await visitParts(d)).toEqual([40])
      before.set(d, await visitSums(d))
      await fx.client.command({ query: 'INSERT INTO visits_split SELECT * FROM visits WHERE day = {day:Date}', query_params: { day: d } })
      await fx.client.command({ query: 'ALTER TABLE visits DROP PARTITION {day:Date}', query_params: { day: d } })
      for (const half of [0, 1]) {
        await fx.client.command({ query: 'INSERT INTO visits SELECT * FROM visits_split WHERE day = {day:Date} AND visitor_id % 2 = {half:UInt8}', query_params: { day: d, half } })
      }
      expect((await visitParts(d)).length).toBe(2)
      expect(await visitSums(d)).toEqual(before.get(d))
    }
    const first = await fx.job.run()
    expect(first.days).toEqual([])
    expect(first.compacted).toEqual(OLD.slice(0, COMPACT_OLD_DAYS_PER_RUN))
    // an older day's events are left to the store's own merges
    expect(first.compactedEvents).toEqual([])
    for (const d of OLD.slice(0, COMPACT_OLD_DAYS_PER_RUN)) expect(await visitParts(d)).toEqual([40])
    expect((await visitParts(OLD[3])).length).toBe(2)
    expect((await fx.job.run()).compacted).toEqual([OLD[3]])
    for (const d of OLD) {
      expect(await visitParts(d)).toEqual([40])
      expect(await visitSums(d)).toEqual(before.get(d))
    }
    expect((await fx.job.run()).compacted).toEqual([])
  })
})
