import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROPERTIES } from '../../../aggregator/stats/properties.ts'
import { querySums, type StatsQuestion } from '../../../aggregator/stats/query.ts'
import { questionClient } from '../../../store/client.ts'
import { onlyReads, storeWrites, StoreWrites } from '../../../store/writes.ts'
import { countingClient, DAY, HOUR, openFixture, promisesTracked, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * The look at the days (which are built, which have events without a visit, their parts) is
 * kept while the embedded store takes only the spool writer's inserts, whose days are added to
 * it (aggregator/stats/query.ts `lookAtDays`, store/writes.ts): a question on a live site does
 * not read it again, and still counts every event inserted before it was asked.
 */

const SITE = 'example.com'
const D1 = Date.UTC(2030, 9, 1)
const D2 = D1 + DAY
const RANGE = { from: D1, to: D2 + DAY }

let fx: StoreFixture
let asked: string[]
let counting: ClickHouseClient

const views = (day: number, visitors: number[], at = 10 * HOUR): EventSpec[] => visitors.map((v, i) => ({ site: SITE, ts: day + at + i * 60_000, visitor: v, path: '/' }))
const q = (property?: StatsQuestion['property']): StatsQuestion => ({ site: SITE, timezone: 'UTC', range: RANGE, filters: [], property })
const totals = async () => {
  const rows = await querySums(counting, q())
  return { pageviews: rows.reduce((n, r) => n + r.pageviews, 0), visits: rows.reduce((n, r) => n + r.visits, 0) }
}
const looks = () => asked.filter((sql) => sql.includes('FROM event_counts')).length
const rollupReads = () => asked.filter((sql) => sql.includes('FROM rollup_daily')).length

beforeAll(async () => {
  // D1 is over and built; D2 is "today", read live
  fx = await openFixture({ [SITE]: 'UTC' }, D2 + 12 * HOUR)
  await fx.insert([...views(D1, [1, 2, 3]), ...views(D2, [4, 5])])
  await fx.job.run()
  asked = []
  counting = countingClient(fx.client, asked)
})
afterAll(async () => {
  await fx?.close()
})

describe('the look at the days, held while only the spool writer inserts', () => {
  it('is read once, then held', async () => {
    expect(await totals()).toEqual({ pageviews: 5, visits: 5 })
    expect(looks()).toBe(1)
    expect(await totals()).toEqual({ pageviews: 5, visits: 5 })
    expect(looks()).toBe(1)
  })

  it("counts a spool insert into today at the next question, without looking again", async () => {
    await fx.insertBlock(views(D2, [6], 11 * HOUR))
    // the insert's days reached the log with its query, not through an AsyncLocalStorage (which would track every beacon's promises)
    expect(await promisesTracked()).toBe(false)
    expect(await totals()).toEqual({ pageviews: 6, visits: 6 })
    expect(looks()).toBe(1)
  })

  it('takes a built day a late event reached from the spool as live: its rollup no longer answers it', async () => {
    const reads = rollupReads()
    await fx.insertBlock(views(D1, [7], 20 * HOUR))
    expect(await totals()).toEqual({ pageviews: 7, visits: 7 })
    expect(looks()).toBe(1)
    // D1 read from events and visits, not from its build, which lacks the late event
    expect(rollupReads()).toBe(reads)
    const byCountry = await querySums(counting, q(PROPERTIES.country))
    expect(byCountry.reduce((n, r) => n + r.pageviews, 0)).toBe(7)
  })

  it("counts an event without a visit on a day that had none (the read's branch for them comes back)", async () => {
    await fx.insertBlock([{ site: SITE, ts: D2 + 13 * HOUR, visitor: 0, path: '/' }])
    // its page view counted (a visit it has not)
    expect(await totals()).toEqual({ pageviews: 8, visits: 7 })
    expect(looks()).toBe(1)
  })

  it('looks again after any other write, and counts what it wrote', async () => {
    await fx.insert(views(D2, [8], 14 * HOUR))
    expect(await totals()).toEqual({ pageviews: 9, visits: 8 })
    expect(looks()).toBe(2)
    await fx.job.run()
    expect(await totals()).toEqual({ pageviews: 9, visits: 8 })
    expect(looks()).toBe(3)
  })

  it('is followed by the question client wrapping the store, not by a client the store does not know', () => {
    const writes = storeWrites(fx.client)
    expect(writes).toBeInstanceOf(StoreWrites)
    expect(storeWrites(questionClient(fx.store))).toBe(writes)
    expect(storeWrites({})).toBeUndefined()
  })
})

describe('StoreWrites', () => {
  it('answers the inserts logged since a number, and null once its log no longer reaches back', () => {
    const w = new StoreWrites()
    expect(w.since(0)).toEqual([])
    const days = new Map([['2030-10-01', { rows: 1, visitless: 0 }]])
    for (let i = 0; i < 1100; i++) w.inserted(days)
    expect(w.since(1100)).toEqual([])
    expect(w.since(1099)?.map((e) => e.seq)).toEqual([1100])
    expect(w.since(1100 - 1024)?.length).toBe(1024)
    expect(w.since(1100 - 1025)).toBeNull()
    expect(w.since(0)).toBeNull()
  })

  it('takes only reads for reads: anything else is a write', () => {
    for (const sql of ['SELECT 1', '  with x AS (SELECT 1) SELECT * FROM x', '(SELECT 1) UNION ALL (SELECT 2)', '-- a note\nSELECT 1', '/* a note */ SHOW TABLES', 'DESCRIBE TABLE events', 'EXISTS TABLE events', 'EXPLAIN SELECT 1']) {
      expect(onlyReads(sql), sql).toBe(true)
    }
    for (const sql of ['INSERT INTO events SELECT * FROM events', 'ALTER TABLE events DELETE WHERE 1', 'OPTIMIZE TABLE visits FINAL', 'DELETE FROM events WHERE 1', 'CREATE TABLE t (a UInt8) ENGINE = Memory', 'SYSTEM STOP MERGES', 'TRUNCATE TABLE events', 'SELECTED', '']) {
      expect(onlyReads(sql), sql).toBe(false)
    }
  })
})
