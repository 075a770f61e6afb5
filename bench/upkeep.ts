/**
 * What keeping the statistics current costs (issue 11, point 6: at most a tenth of a core at
 * ten million events a day), in its own process (chDB binds one data directory per process):
 *
 *  1. a busy site's events for BENCH_UPKEEP_SECONDS (600) at BENCH_UPKEEP_EVENTS_PER_DAY
 *     (10,000,000) a day are made by the store (bench/synthetic-events.ts, the query bench's
 *     generator) and read back, in the order of their times;
 *  2. they are inserted as the spool writer sends them, one Native block for each BATCH_MS of
 *     events, first into a copy of `events` that no view reads and without its projection
 *     (storing them, nothing more), then into `events` itself: its projection by name and path,
 *     the views into `visits`, `event_counts`, `visitless_counts`, `page_days` and `headcount_days`
 *     and their parts' merges, with the rollup job run once for each ROLLUP_INTERVAL_MS of events,
 *     as the server runs it (it merges today's visits into one part as the day grows);
 *  3. the day is closed and built as the job builds it (rollup, cube and flow rows; the day's
 *     visits merged into one part).
 *
 * CPU of every thread of the process, from the first insert until the store's merges are over,
 * less what the process spends idle over as long. Keeping current is (2, into events) − (2,
 * storing alone) + (3), a figure an event, and the share of a core it makes at the site's rate.
 * The build (3) runs on this window's events alone: what it costs whatever the day's size
 * weighs more an event here than on a whole day's build. Judges nothing.
 *
 * Run alone: `node --import tsx bench/upkeep.ts`; `npm run bench` runs it after the freshness.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../server/config.ts'
import { openStore } from '../store/client.ts'
import { migrate } from '../store/migrate.ts'
import { RollupJob } from '../aggregator/rollup/job.ts'
import { eventBlock } from '../collector/spool/event-block.ts'
import type { EventRow } from '../collector/pipeline/types.ts'
import { sleep } from './lib.ts'
import { AS_EVENT_ROWS, generateEventsSql } from './synthetic-events.ts'

const PER_DAY = Number(process.env.BENCH_UPKEEP_EVENTS_PER_DAY || 10_000_000)
const WINDOW_S = Number(process.env.BENCH_UPKEEP_SECONDS || 600)
const SITE = 'example.com'
const DAY = 86_400_000
const HOUR = 3_600_000
/** How long the store must have no merge running to count as settled. */
const SETTLED_MS = 600

const cpuUs = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}
const n0 = (n: number) => Math.round(n).toLocaleString('en')

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-bench-upkeep-'))
  const config = loadConfig({}, { dataDir })
  const store = await openStore(config)
  const { client } = store
  try {
    await migrate(client)
    await client.command({ query: "INSERT INTO sites (domain, timezone) VALUES ({site:String}, 'UTC')", query_params: { site: SITE } })
    const count = async (sql: string) => Number((await (await client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0].n)
    /** Waits until no merge has run for SETTLED_MS (at most a minute). */
    const settle = async () => {
      const until = Date.now() + 60_000
      let quietSince = Date.now()
      while (Date.now() < until) {
        if ((await count('SELECT count() AS n FROM system.merges')) > 0) quietSince = Date.now()
        else if (Date.now() - quietSince >= SETTLED_MS) return
        await sleep(100)
      }
    }

    // 1. the window's events: noon of "today", a site of PER_DAY events a day
    const start = Math.floor(Date.now() / DAY) * DAY - 29 * DAY
    const lo = 29 * DAY + 12 * HOUR
    await client.command({ query: 'CREATE TABLE upkeep_source AS events' })
    await client.command({
      query: generateEventsSql('upkeep_source'),
      query_params: { site: SITE, start, events: PER_DAY * 30, visitors_per_day: Math.round(PER_DAY / 6), lo, hi: lo + WINDOW_S * 1000 },
    })
    const rs = await client.query({
      query: `${AS_EVENT_ROWS} FROM upkeep_source ORDER BY ts`,
      format: 'JSONEachRow',
    })
    const rows = await rs.json<EventRow>()
    await client.command({ query: 'DROP TABLE upkeep_source SYNC' })
    // one block for each BATCH_MS of events: what the spool writer inserts at this rate
    const batches: EventRow[][] = []
    for (const r of rows) {
      const at = Math.floor((r.ts - rows[0].ts) / config.batchMs)
      ;(batches[at] ??= []).push(r)
    }
    const blocks = batches.filter(Boolean)
    await client.command({ query: 'CREATE TABLE events_alone AS events' })
    // storing alone: without the events' projection by name and path (migration 036) either, which is there for the statistics
    await client.command({ query: 'ALTER TABLE events_alone DROP PROJECTION IF EXISTS by_name' })
    await settle()

    // what the process spends idle (chDB's background threads), taken off each phase
    const idle0 = cpuUs()
    const idleT = performance.now()
    await sleep(2000)
    const idlePerMs = (cpuUs() - idle0) / (performance.now() - idleT)

    const phase = async (work: () => Promise<void>) => {
      const c = cpuUs()
      const t = performance.now()
      await work()
      await settle()
      const ms = performance.now() - t
      return { us: cpuUs() - c - idlePerMs * ms, ms }
    }
    const insertAll = async (table: string, between?: (i: number, block: EventRow[]) => Promise<void>) => {
      for (const [i, b] of blocks.entries()) {
        const block = eventBlock()
        for (const r of b) block.append(r)
        await store.insertBlock(table, block.finish(), `upkeep-${table}-${i}`)
        await between?.(i, b)
      }
    }

    // 2. storing alone, then into events with the views and the rollup job as the server runs it
    const alone = await phase(() => insertAll('events_alone'))
    let jobNow = start + lo
    const job = new RollupJob(client, { get: () => ({ domain: SITE, timezone: 'UTC' }) }, () => jobNow)
    const everyBlocks = Math.max(1, Math.round(config.rollupIntervalMs / config.batchMs))
    let runs = 0
    let compactions = 0
    let eventCompactions = 0
    const viewed = await phase(() =>
      insertAll('events', async (i, b) => {
        if ((i + 1) % everyBlocks !== 0) return
        jobNow = b[b.length - 1].ts
        const report = await job.run()
        runs++
        compactions += report.compacted.length
        eventCompactions += report.compactedEvents.length
      }),
    )
    const visits = await count('SELECT count() AS n FROM visits FINAL')
    // 3. the day over: built as the job builds it
    jobNow = start + 30 * DAY + 3 * 60_000
    let builtDays: string[] = []
    const built = await phase(async () => {
      builtDays = (await job.run()).days
    })

    const perEvent = (us: number) => us / rows.length
    const current = perEvent(viewed.us - alone.us) + perEvent(built.us)
    const share = (current * PER_DAY) / 86_400 / 1e6
    const perInsert = (us: number) => `${(us / blocks.length / 1000).toFixed(1)} ms an insert`
    const line = (label: string, us: number, note: string) => `  ${label.padEnd(40)}${us.toFixed(1).padStart(8)} µs an event   ${note}`
    console.log(
      [
        `\nkeeping the statistics current: ${WINDOW_S} s of a site of ${n0(PER_DAY)} events a day (${n0(rows.length)} events in ${n0(visits)} visits; ${blocks.length} inserts, one for each BATCH_MS of ${config.batchMs} ms, ${n0(rows.length / blocks.length)} rows on average), in-process on a fresh embedded store; CPU of every thread until the merges are over, the idle process's ${(idlePerMs / 10).toFixed(1)} % of a core taken off:`,
        line('storing them alone (no view reads them)', perEvent(alone.us), `(${perInsert(alone.us)}, ${(alone.ms / 1000).toFixed(1)} s in all)`),
        line('into events, views and the rollup job', perEvent(viewed.us), `(${perInsert(viewed.us)}, ${(viewed.ms / 1000).toFixed(1)} s in all: the views into visits, event_counts, visitless_counts, page_days and headcount_days and their merges; the job run ${runs} times, once for each ROLLUP_INTERVAL_MS of ${config.rollupIntervalMs} ms of events, today's visits merged into one part ${compactions} times, its events ${eventCompactions} times)`),
        line('the day built once over', perEvent(built.us), `(${(built.ms / 1000).toFixed(1)} s: ${builtDays.length} day, its rollup, cube and flow rows and its visits in one part; over this window's events alone, so what a build costs whatever its size weighs more here than on a whole day)`),
        line('keeping current: views, job, build', current, `= ${(share * 100).toFixed(2)} % of a core at ${n0(PER_DAY)} events a day (issue 11's target: at most 10 %)`),
        `  (an insert costs the engine about the same whatever its rows at this size: at a lower rate the share of a core stays about the same, at a higher one each insert holds more rows; BATCH_MS sets how many inserts a second a busy site makes)`,
      ].join('\n'),
    )
  } finally {
    await store.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(`upkeep bench failed: ${(err as Error).message}`)
  process.exit(1)
})
