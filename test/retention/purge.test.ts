import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RetentionSchedule } from '../../retention/schedule.ts'
import { purge, type PurgeReport } from '../../retention/purge.ts'
import { chTime, utcDay } from '../../store/time.ts'
import { ADMIN_TOKEN, rows, testApp } from '../helpers/app.ts'

const DAY = 86_400_000
// In the future on purpose: the server's own hourly purge (real clock) never touches these rows.
const NOW = new Date(Date.UTC(2031, 5, 15, 12))

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'retention-test-'))
const policyFile = path.join(tmp, 'policy.yaml')
fs.writeFileSync(
  policyFile,
  `version: 1
name: Two retentions
defaults:
  retention: { raw_events_days: 30, aggregates_days: 400 }
sites:
  short.example:
    retention: { raw_events_days: 7, aggregates_days: 100 }
`,
)

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({ policyFile }, ['long.example', 'short.example'])
})
afterAll(async () => {
  await app?.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** Planted straight into the table: the pipeline would stamp them with the current time. */
const PLANTED: { site: string; ts: string; pathname: string }[] = [
  { site: 'long.example', ts: '2031-04-01 10:00:00.000', pathname: '/L1-dropped' },
  { site: 'long.example', ts: '2031-05-15 23:59:59.999', pathname: '/L2-dropped' },
  { site: 'long.example', ts: '2031-05-16 11:59:59.999', pathname: '/L3-deleted' },
  { site: 'long.example', ts: '2031-05-16 12:00:00.000', pathname: '/L4-kept' },
  { site: 'long.example', ts: '2031-06-01 08:00:00.000', pathname: '/L5-kept' },
  { site: 'long.example', ts: '2031-06-15 11:00:00.000', pathname: '/L6-kept' },
  { site: 'short.example', ts: '2031-04-01 11:00:00.000', pathname: '/S1-dropped' },
  { site: 'short.example', ts: '2031-05-20 09:00:00.000', pathname: '/S2-deleted' },
  { site: 'short.example', ts: '2031-06-08 11:59:59.999', pathname: '/S3-deleted' },
  { site: 'short.example', ts: '2031-06-08 12:00:00.000', pathname: '/S4-kept' },
  { site: 'short.example', ts: '2031-06-14 20:00:00.000', pathname: '/S5-kept' },
  // a site no longer registered still has its rows, and gets the default retention
  { site: 'gone.example', ts: '2031-05-10 10:00:00.000', pathname: '/G1-dropped' },
  { site: 'gone.example', ts: '2031-05-20 10:00:00.000', pathname: '/G2-kept' },
]

async function paths(): Promise<string[]> {
  return (await rows<{ pathname: string }>(app, "SELECT pathname FROM events WHERE ts >= '2031-01-01' ORDER BY pathname")).map((r) => r.pathname)
}

async function partitions(table = 'events'): Promise<string[]> {
  const r = await rows<{ partition_id: string }>(
    app,
    `SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = '${table}' AND active AND partition_id LIKE '2031%' ORDER BY partition_id`,
  )
  return r.map((p) => p.partition_id)
}

describe('purge(client, policy, sites, now)', () => {
  const client = () => app.runtime.store.client
  const sites = ['long.example', 'short.example']

  beforeAll(async () => {
    // a token of its own: through chDB an earlier insert's token would stay set for the session
    await client().insert({
      table: 'events',
      // each its own visit's first event (what the views keep: visits, today's headcount)
      values: PLANTED.map((r, i) => ({ ...r, name: 'pageview', visitor_id: 1, visit_id: i + 1, visit_flags: 3 })),
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: 'retention-test-planted' },
    })
  })

  it('a dry run reports what would go and changes nothing', async () => {
    const report = await purge(client(), app.runtime.policy, sites, NOW, { dryRun: true })
    expect(report.dryRun).toBe(true)
    expect(report.droppedPartitions).toEqual(['20310401', '20310510', '20310515'])
    expect(report.deletedRowsEstimate).toBe(7)
    expect(await paths()).toHaveLength(PLANTED.length)
  })

  let report: PurgeReport
  it('drops the days every retention expired, deletes each site’s older rows, keeps the rest', async () => {
    // today's page rows (migration 033) are kept at insert for every day planted
    expect(await partitions('page_days')).toEqual(['20310401', '20310510', '20310515', '20310516', '20310520', '20310601', '20310608', '20310614', '20310615'])
    // and so is today's headcount (migration 035), of every day holding the start of a visit
    expect(await partitions('headcount_days')).toEqual(['20310401', '20310510', '20310515', '20310516', '20310520', '20310601', '20310608', '20310614', '20310615'])
    report = await purge(client(), app.runtime.policy, sites, NOW)
    // and only today's stay, whatever each site's retention: no day before is read from them
    expect(await partitions('page_days')).toEqual(['20310615'])
    expect(await partitions('headcount_days')).toEqual(['20310615'])
    expect(await paths()).toEqual(['/G2-kept', '/L4-kept', '/L5-kept', '/L6-kept', '/S4-kept', '/S5-kept'])
    expect(await partitions()).toEqual(['20310516', '20310520', '20310601', '20310608', '20310614', '20310615'])
  })

  it('reports partitions, rows and each site’s cutoff', () => {
    expect(report.dryRun).toBe(false)
    expect(report.droppedPartitions).toEqual(['20310401', '20310510', '20310515'])
    expect(report.deletedRowsEstimate).toBe(7)
    expect(report.perSite['long.example']).toMatchObject({ rawEventsDays: 30, rawCutoff: '2031-05-16T12:00:00.000Z', droppedRows: 2, deletedRows: 1 })
    expect(report.perSite['short.example']).toMatchObject({ rawEventsDays: 7, rawCutoff: '2031-06-08T12:00:00.000Z', droppedRows: 1, deletedRows: 2 })
    expect(report.perSite['gone.example']).toMatchObject({ rawEventsDays: 30, droppedRows: 1, deletedRows: 0 })
  })

  it('a second run finds nothing to do', async () => {
    const again = await purge(client(), app.runtime.policy, sites, NOW)
    expect(again.droppedPartitions).toEqual([])
    expect(again.deletedRowsEstimate).toBe(0)
  })

  it('keeps aggregate tables within aggregates_days, per site or by the longest retention', async () => {
    await client().command({ query: 'CREATE TABLE agg_daily_test (date Date, site LowCardinality(String), visitors UInt64) ENGINE = SummingMergeTree ORDER BY (site, date)' })
    await client().command({ query: 'CREATE TABLE agg_hourly_all_test (hour DateTime(\'UTC\'), visitors UInt64) ENGINE = MergeTree ORDER BY hour' })
    const longCut = new Date(NOW.getTime() - 400 * DAY)
    const shortCut = new Date(NOW.getTime() - 100 * DAY)
    await client().insert({
      table: 'agg_daily_test',
      format: 'JSONEachRow',
      values: [
        { site: 'long.example', date: utcDay(new Date(longCut.getTime() - DAY)), visitors: 1 }, // its day ended before the cutoff
        { site: 'long.example', date: utcDay(longCut), visitors: 2 }, // the cutoff falls inside this day: kept
        { site: 'short.example', date: utcDay(new Date(shortCut.getTime() - DAY)), visitors: 3 },
        { site: 'short.example', date: utcDay(shortCut), visitors: 4 },
        { site: 'short.example', date: utcDay(longCut), visitors: 5 },
      ],
    })
    await client().insert({
      table: 'agg_hourly_all_test',
      format: 'JSONEachRow',
      values: [
        { hour: chTime(new Date(longCut.getTime() - 1000)).slice(0, 19), visitors: 1 },
        { hour: chTime(longCut).slice(0, 19), visitors: 2 },
      ],
    })
    const r = await purge(client(), app.runtime.policy, sites, NOW, {
      aggregates: [
        { table: 'agg_daily_test', timeColumn: 'date', siteColumn: 'site' },
        { table: 'agg_hourly_all_test', timeColumn: 'hour', siteColumn: null },
        { table: 'agg_not_created_yet', timeColumn: 'date', siteColumn: 'site' },
      ],
    })
    expect((await rows<{ visitors: number }>(app, 'SELECT visitors FROM agg_daily_test ORDER BY visitors')).map((x) => x.visitors)).toEqual([2, 4])
    expect((await rows<{ visitors: number }>(app, 'SELECT visitors FROM agg_hourly_all_test')).map((x) => x.visitors)).toEqual([2])
    expect(r.perSite['long.example'].aggregateRows).toBe(1)
    expect(r.perSite['short.example'].aggregateRows).toBe(2)
    expect(r.deletedRowsEstimate).toBe(4)
  })

  it('refuses a table name that is not a plain identifier instead of quoting it', async () => {
    await expect(
      purge(client(), app.runtime.policy, sites, NOW, { aggregates: [{ table: 'agg`; DROP TABLE events; --', timeColumn: 'date', siteColumn: 'site' }] }),
    ).resolves.toBeDefined() // unknown to system.columns: skipped before any SQL is built from it
    await client().command({ query: 'CREATE TABLE `agg-odd` (date Date, site String) ENGINE = MergeTree ORDER BY date' })
    await expect(
      purge(client(), app.runtime.policy, sites, NOW, { aggregates: [{ table: 'agg-odd', timeColumn: 'date', siteColumn: 'site' }] }),
    ).rejects.toThrow(/not a plain identifier/)
    await client().command({ query: 'DROP TABLE `agg-odd`' })
  })
})

describe('POST /api/v1/admin/purge', () => {
  it('needs the admin token', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/purge' })
    expect(res.statusCode).toBe(401)
  })

  it('runs a purge (here a dry run) with the server’s policy and answers the report', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/purge?dryRun=true', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(res.statusCode).toBe(200)
    const body = res.json() as PurgeReport
    expect(body.dryRun).toBe(true)
    expect(body.perSite['short.example'].rawEventsDays).toBe(7)
    expect(body.perSite['long.example'].rawEventsDays).toBe(30)
    // the real clock is years before these rows: nothing of them has expired
    expect(await paths()).toHaveLength(6)
  })
})

describe('RetentionSchedule', () => {
  const log = { info: () => {}, warn: () => {} }
  const empty = (): PurgeReport => ({ droppedPartitions: [], deletedRowsEstimate: 0, perSite: {}, dryRun: false })

  it('purges shortly after start, then on every interval, never two at once, and stops cleanly', async () => {
    let running = 0
    let maxRunning = 0
    const runs: boolean[] = []
    const schedule = new RetentionSchedule({
      client: app.runtime.store.client,
      policy: () => app.runtime.policy,
      sites: () => [],
      log,
      firstAfterMs: 20,
      everyMs: 40,
      run: async (opts) => {
        running++
        maxRunning = Math.max(maxRunning, running)
        await new Promise((r) => setTimeout(r, 15))
        runs.push(opts.dryRun ?? false)
        running--
        return empty()
      },
    })
    schedule.start()
    await new Promise((r) => setTimeout(r, 10))
    expect(runs).toHaveLength(0)
    const onDemand = schedule.runNow({ dryRun: true })
    await onDemand
    await new Promise((r) => setTimeout(r, 150))
    await schedule.stop()
    const count = runs.length
    expect(count).toBeGreaterThanOrEqual(3)
    expect(runs).toContain(true)
    expect(maxRunning).toBe(1)
    await new Promise((r) => setTimeout(r, 100))
    expect(runs).toHaveLength(count)
    await expect(schedule.runNow()).rejects.toThrow(/stopped/)
  })

  it('a failed purge is logged and retried at the next interval', async () => {
    let calls = 0
    const warnings: string[] = []
    const schedule = new RetentionSchedule({
      client: app.runtime.store.client,
      policy: () => app.runtime.policy,
      sites: () => [],
      log: { info: () => {}, warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)) },
      firstAfterMs: 5,
      everyMs: 20,
      run: async () => {
        if (++calls === 1) throw new Error('store down')
        return empty()
      },
    })
    schedule.start()
    await new Promise((r) => setTimeout(r, 80))
    await schedule.stop()
    expect(calls).toBeGreaterThanOrEqual(2)
    expect(warnings[0]).toMatch(/purge failed/)
  })
})
