import type { ClickHouseClient } from '@clickhouse/client'
import type { Sites } from '../../accounts/sites.ts'
import { FLOW_DIM, flowBuildSql } from '../stats/page-flow.ts'
import { PROPERTIES, property, VISIT_PROPERTY_NAMES, type VisitProperty } from '../stats/properties.ts'
import { Params } from '../stats/filters.ts'
import { CUBE_FILTERS, cubeDim, cubeDims, HELD_CUBES, heldPropertiesSql, sumsSql, visitPropertiesSql, type StatsQuestion } from '../stats/query.ts'
import { backfillVisits } from './backfill-visits.ts'
import { utcDay } from '../../store/time.ts'

/**
 * A day's build groups the day's visits and events: past these sizes the grouping spills to
 * disk, so the server's memory stays bounded however busy a day was.
 */
const BUILD_SETTINGS = {
  max_bytes_before_external_sort: String(256 * 1024 * 1024),
  max_bytes_before_external_group_by: String(256 * 1024 * 1024),
}

/** A UTC day is built once it has been over this long (events still in the writer's hands come in meanwhile). */
const CLOSE_AFTER_MS = 2 * 60_000
/** Custom-prop keys built per site and day, most used first (the API lists at most 100). */
const MAX_PROP_KEYS = 200
const DAY = 86_400_000
/** A day one of whose sites could not be built is built again after this long (while the server runs). */
const RETRY_FAILED_MS = 60 * 60_000

/**
 * When today's or yesterday's visits or events are merged into one part (compactVisits,
 * compactEvents): once the rows outside its largest part are at least this many (a granule:
 * fewer cost a read little) and at least a COMPACT_SHARE-th of that part's.
 */
export const COMPACT_AFTER_ROWS = 8192
export const COMPACT_SHARE = 4

/** A day's parts (RollupJob.partsByDay): the rows of its largest part and of the others. */
interface DayParts {
  day: string
  parts: string | number
  largest: string | number
  rest: string | number
}

/** Whether today's or yesterday's rows outside its largest part are enough to merge them (COMPACT_AFTER_ROWS, COMPACT_SHARE). */
const grown = (d: DayParts) => Number(d.rest) >= COMPACT_AFTER_ROWS && Number(d.rest) * COMPACT_SHARE >= Number(d.largest)

/** Older days in several parts merged at one run (compactVisits), the newest first: a store upgraded through migration 031 has many. */
export const COMPACT_OLD_DAYS_PER_RUN = 3

/** A site whose part of a day's build failed (say, a time zone the store does not know): the other sites were built. */
export interface SiteBuildFailure {
  day: string
  site: string
  error: Error
}

export interface BuildReport {
  days: string[]
  failed: SiteBuildFailure[]
  /** The days whose visits were merged into one part (compactVisits). */
  compacted: string[]
  /** The days whose events were merged into one part (compactEvents). */
  compactedEvents: string[]
  ms: number
}

/**
 * The daily rollup: for each closed UTC day, every property's values with their sums per
 * local day of the site, so that long ranges are answered from a few thousand rows. Rows are
 * made by the very SQL the live path runs (`sumsSql`), so the two cannot disagree.
 *
 * Statistics do not wait for it: visits and events are current as soon as they are inserted,
 * and a day without a current build (today, a day with late events, a seed) is answered from
 * them (see `querySums`). A day is built once it is over, and again only when its event count
 * grew (late events, a replayed spool, a seed); a build goes to a staging table and is swapped
 * in whole (REPLACE PARTITION), so a reader sees the old build or the new one.
 *
 * Each site is built on its own: a site that fails (its time zone unknown to the store, say)
 * keeps the rows it had for that day and is reported, while every other site's rows go in and
 * the next days are built. Its day is tried again an hour later.
 */
export class RollupJob {
  private running: Promise<BuildReport> | null = null
  private timer: NodeJS.Timeout | null = null
  /** Builds and site changes, one at a time (see whileIdle). */
  private lock: Promise<unknown> = Promise.resolve()
  /** Days with a site left out of their last build, and when to try them again. */
  private retryAt = new Map<string, number>()

  constructor(
    private client: ClickHouseClient,
    private sites: Pick<Sites, 'get'>,
    private now: () => number = () => Date.now(),
    /** The visit timeout events stored before visits were cut at ingest are cut with (backfill-visits.ts). */
    private visitTimeoutMinutes: () => number = () => 30,
  ) {}

  /** Whether this process has cut the visits of events stored before migration 015 (once, at its first run). */
  private backfilled = false

  /**
   * Closed days with more events than their rollup was built from. Fewer events never trigger
   * a build: that is retention at work, and the rollups of a day outlive its purged events.
   */
  async staleDays(): Promise<string[]> {
    const closedBefore = utcDay(this.now() - CLOSE_AFTER_MS - DAY)
    const rs = await this.client.query({
      query: `SELECT toString(c.day) AS day
              FROM (SELECT day, sum(events) AS n FROM event_counts GROUP BY day) AS c
              LEFT JOIN (SELECT day, max(events) AS n FROM rollup_builds GROUP BY day) AS b ON c.day = b.day
              WHERE c.n > b.n AND c.day <= {closedBefore:Date}
              ORDER BY day`,
      query_params: { closedBefore },
      format: 'JSONEachRow',
    })
    return (await rs.json<{ day: string }>()).map((r) => r.day)
  }

  /**
   * Builds one closed UTC day, site by site, and swaps it in whole. Sites that fail are
   * answered (and keep their previous rows for the day, as do sites whose events of that day
   * retention has purged); a failure of the day itself (the store down) throws.
   */
  async buildDay(day: string): Promise<SiteBuildFailure[]> {
    const c = this.client
    // counted before the build reads: events coming in meanwhile make the day stale again
    const counted = await this.select<{ n: number }>('SELECT sum(events) AS n FROM event_counts WHERE day = {day:Date}', { day })
    const sites = await this.select<{ site: string }>('SELECT DISTINCT site FROM events WHERE toDate(ts) = {day:Date}', { day })
    await c.command({ query: 'ALTER TABLE rollup_daily_stage DROP PARTITION {day:Date}', query_params: { day } })
    const built: string[] = []
    const failed: SiteBuildFailure[] = []
    for (const { site } of sites) {
      try {
        await this.buildSite(day, site)
        built.push(site)
      } catch (err) {
        failed.push({ day, site, error: err as Error })
        // what the site's build staged before it failed
        await c.command({
          query: 'ALTER TABLE rollup_daily_stage DELETE WHERE build_day = {day:Date} AND site = {site:String}',
          query_params: { day, site },
          clickhouse_settings: { mutations_sync: '2' },
        })
      }
    }
    await c.command({
      query: `INSERT INTO rollup_daily_stage SELECT * FROM rollup_daily WHERE build_day = {day:Date} AND site NOT IN {built:Array(String)}`,
      query_params: { day, built },
    })
    await c.command({ query: 'ALTER TABLE rollup_daily REPLACE PARTITION {day:Date} FROM rollup_daily_stage', query_params: { day } })
    await c.command({ query: 'ALTER TABLE rollup_daily_stage DROP PARTITION {day:Date}', query_params: { day } })
    // one part per closed day: reading its visits with FINAL then merges nothing
    await c.command({ query: 'OPTIMIZE TABLE visits PARTITION {day:Date} FINAL', query_params: { day }, clickhouse_settings: BUILD_SETTINGS })
    await c.insert({ table: 'rollup_builds', values: [{ day, events: Number(counted[0]?.n ?? 0) }], format: 'JSONEachRow' })
    return failed
  }

  /** One site's rows of a day's build, into the staging table. */
  private async buildSite(day: string, site: string): Promise<void> {
    const timezone = this.sites.get(site)?.timezone ?? 'UTC'
    const keys = await this.select<{ key: string }>(
      `SELECT k AS key FROM events ARRAY JOIN mapKeys(props) AS k
       WHERE site = {site:String} AND toDate(ts) = {day:Date} AND name NOT IN ('pageview', 'engagement')
       GROUP BY k ORDER BY count() DESC LIMIT ${MAX_PROP_KEYS}`,
      { site, day },
    )
    const from = Date.parse(day)
    const question = (dim: string | null): StatsQuestion => ({ site, timezone, range: { from, to: from + DAY }, filters: [], interval: 'day', property: dim ? property(dim) : undefined })
    // The visit properties in one read of the day's visits (visitPropertiesSql), the totals and
    // every event property one statement each; then the cube, one statement per filter. A statement
    // and each read in it cost the embedded engine tens of milliseconds however small the site:
    // one per property and cube cell made a small site's day take seconds.
    const visitProps = VISIT_PROPERTY_NAMES
    const single = (dim: string, params: Params, by: VisitProperty | null = null, p = dim) =>
      `SELECT ${params.add('String', dim)} AS dim, * FROM (${sumsSql(question(p || null), [day], params, by).sql})`
    let params = new Params()
    await this.insertRows(site, day, [visitPropertiesSql(question(null), visitProps, [day], params)], params)
    for (const dim of ['', ...Object.keys(PROPERTIES).filter((p) => !visitProps.includes(p)), ...keys.map((k) => `prop:${k.key}`)]) {
      params = new Params()
      await this.insertRows(site, day, [single(dim, params)], params)
    }
    for (const filter of CUBE_FILTERS) {
      params = new Params()
      const by = PROPERTIES[filter] as VisitProperty
      const cells = cubeDims().filter(([, b]) => b === by)
      const visitCells = cells.filter(([, , p]) => visitProps.includes(p))
      // the cube's visit cells carry the cube dimension's name (`country|source`), not the property's
      const named = `SELECT concat(${params.add('String', `${filter}|`)}, dim) AS dim, key, bucket, * EXCEPT (dim, key, bucket)
        FROM (${visitPropertiesSql(question(null), visitCells.map(([, , p]) => p), [day], params, by)})`
      const eventCells = cells.filter(([, , p]) => !visitProps.includes(p)).map(([dim, , p]) => single(dim, params, by, p))
      await this.insertRows(site, day, [named, ...eventCells], params)
    }
    // the held cubes: per page viewed and per event name sent, the totals and every visit property over the visits holding it
    for (const filter of HELD_CUBES) {
      params = new Params()
      await this.insertRows(site, day, [
        `SELECT concat(${params.add('String', cubeDim(filter, ''))}, dim) AS dim, key, bucket, * EXCEPT (dim, key, bucket)
          FROM (${heldPropertiesSql(question(null), filter, visitProps, [day], params)})`,
      ], params)
    }
    // page flow: each page's previous and next pages (page-flow.ts, flowSql: the questions' own SQL)
    const flow = flowBuildSql({ site, timezone, range: { from, to: from + DAY }, filters: [] }, day)
    await this.client.command({
      query: `INSERT INTO rollup_daily_stage (site, build_day, day, dim, value, visitors, networks, visits, pageviews, events, bounces, duration_ms, engagement_ms, entries,
                scroll_sum, scroll_views, scroll_visitors, scroll_networks)
              SELECT {site:String}, {day:Date}, local_day, {dim:String}, concat(page, char(0), direction, char(0), key), n, m, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
              FROM (${flow.sql})`,
      query_params: { ...flow.params, site, day, dim: FLOW_DIM },
      clickhouse_settings: BUILD_SETTINGS,
    })
  }

  /** Rows of a site's day into the staging table: each part's rows (dim, key, bucket and the sums, with `params`), in one statement. */
  private async insertRows(site: string, day: string, parts: string[], params: Params): Promise<void> {
    const union = parts.join('\n              UNION ALL\n              ')
    await this.client.command({
      query: `INSERT INTO rollup_daily_stage (site, build_day, day, dim, value, visitors, networks, visits, pageviews, events, bounces, duration_ms, engagement_ms, entries,
                scroll_sum, scroll_views, scroll_visitors, scroll_networks)
              SELECT {site:String} AS site, {day:Date} AS build_day, toDate(bucket) AS day, dim, key AS value,
                visitors, networks, visits, pageviews, events, bounces, duration_ms, engagement_ms, entries,
                scroll_sum, scroll_views, scroll_visitors, scroll_networks
              FROM (${union})`,
      // sumsSql's own parameters: the site and the day's range (baseParams)
      query_params: { ...params.values, site, day, from: Date.parse(day), to: Date.parse(day) + DAY },
      clickhouse_settings: BUILD_SETTINGS,
    })
  }

  /**
   * Forgets the builds of every day that still has events of `site`, so that they are answered
   * from events at once and built again at the next run (after a change of its time zone).
   * Days whose events retention has purged keep their rows: there is nothing to build them from.
   */
  async rebuildSite(site: string): Promise<void> {
    const days = (await this.select<{ day: string }>('SELECT DISTINCT toString(toDate(ts)) AS day FROM events WHERE site = {site:String}', { site })).map((r) => r.day)
    if (days.length === 0) return
    await this.client.command({ query: 'DELETE FROM rollup_builds WHERE day IN {days:Array(Date)}', query_params: { days } })
  }

  /** After a site's rows are erased: see renewRollupBuilds. */
  renewBuilds(): Promise<void> {
    return renewRollupBuilds(this.client)
  }

  /** Runs `fn` once the build in progress (if any) is over; no build starts until `fn` is done. */
  whileIdle<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.lock.then(fn)
    this.lock = result.catch(() => undefined)
    return result
  }

  /**
   * Merges into one part the visits of a day that a read with FINAL would merge much of. A
   * question reads a day's visits with FINAL, which merges the rows of a visit that several
   * parts hold; ClickHouse reads without merging only the ranges of the sort key that one part
   * alone covers, and a part whose first and last visits both overlap other parts (visits still
   * open when it was written, at either end) is merged whole, so a day of several large parts,
   * each touching the next, was merged whole at every question.
   *
   * Today and yesterday: once the rows outside the day's largest part reach COMPACT_AFTER_ROWS and
   * a COMPACT_SHARE-th of it; after that a read merges only the largest part's last visits and
   * the newer parts. At a hundred million events, today's 1.1 million visits in five parts took
   * 199 ms a read with FINAL (32 ms without), 28 ms once in one part. Each merge rewrites the day,
   * and the next comes once the day has grown by a quarter: a few dozen a day, most of them small,
   * some five times the day's visits rewritten in all.
   *
   * An older day is merged at its build; one still in several parts (copied by migration 031, or
   * given visits since: a backfill, an erase) is merged whatever their sizes, COMPACT_OLD_DAYS_PER_RUN
   * at a run, the newest first: at ten million events, such a day's visits under a page filter
   * took 141 ms with FINAL against 37 for a day in one part, in every read of a range over it.
   *
   * Returns the days merged. (A cluster's `visits` is a Distributed table whose parts are on the
   * shards: nothing is listed and nothing is done.)
   */
  async compactVisits(): Promise<string[]> {
    const days = await this.partsByDay('visits')
    const recent = utcDay(this.now() - DAY)
    const due = [...days.filter((d) => d.day >= recent && grown(d)), ...days.filter((d) => d.day < recent).slice(0, COMPACT_OLD_DAYS_PER_RUN)].map((d) => d.day)
    for (const day of due) await this.client.command({ query: 'OPTIMIZE TABLE visits PARTITION {day:Date} FINAL', query_params: { day }, clickhouse_settings: BUILD_SETTINGS })
    return due
  }

  /**
   * Merges into one part the events of today or yesterday, by the rule of their visits
   * (compactVisits: once the rows outside the day's largest part reach COMPACT_AFTER_ROWS and a
   * COMPACT_SHARE-th of it). Every question reads today's events live, several times under
   * filters (the sets of visits found by a page or an event name come from their projection), and
   * each part is a read of its own, its projection's too: the store's own merges had left today
   * at ten million events a month in parts of 236, 83 and 18 thousand events. Once merged, the
   * ten reads of today that the page panel under `source==Google;event==Signup` (four), the daily
   * series (three) and the entry page panel (two) under `page!=/pricing;event==Signup`, and the
   * funnel (one) make took 5-20 % less (the SQL alone, the store as it was and the same with its
   * events merged, alternating, medians of five rounds of 11): 34.7 -> 29.9 ms, 26.1 -> 20.9,
   * 48.5 -> 44.5, 33.2 -> 31.2 among them; merging today's visits (then in parts of 110 and 5
   * thousand) changed none. A merge rewrites the day's events (about 3.3 µs an
   * event here, with the projection) and the next comes once the day has grown by a quarter: some
   * five times its events in a day. Older days' events are read once a build (dayByDay keeps their
   * rows) and are left to the store's own merges.
   */
  async compactEvents(): Promise<string[]> {
    const recent = utcDay(this.now() - DAY)
    const due = (await this.partsByDay('events')).filter((d) => d.day >= recent && grown(d)).map((d) => d.day)
    for (const day of due) await this.client.command({ query: 'OPTIMIZE TABLE events PARTITION {day:Date} FINAL', query_params: { day }, clickhouse_settings: BUILD_SETTINGS })
    return due
  }

  /** The days of `table` in several parts, the newest first: the rows of the largest part and of the others. */
  private partsByDay(table: 'visits' | 'events'): Promise<DayParts[]> {
    return this.select<DayParts>(
      `SELECT toString(toDate(partition)) AS day, count() AS parts, max(rows) AS largest, sum(rows) - max(rows) AS rest FROM system.parts
       WHERE active AND database = currentDatabase() AND table = {table:String}
       GROUP BY day HAVING parts > 1
       ORDER BY day DESC`,
      { table },
    )
  }

  /** Builds every stale closed day, and days due for another try, then merges the visits of days in many parts (compactVisits) and the events of today or yesterday (compactEvents); concurrent calls share one run. */
  run(): Promise<BuildReport> {
    this.running ??= this.whileIdle(async () => {
      const t = Date.now()
      if (!this.backfilled) {
        await backfillVisits(this.client, this.visitTimeoutMinutes())
        this.backfilled = true
      }
      const now = this.now()
      const due = [...this.retryAt].filter(([, at]) => at <= now).map(([day]) => day)
      const days = [...new Set([...(await this.staleDays()), ...due])].sort()
      const failed: SiteBuildFailure[] = []
      for (const day of days) {
        const left = await this.buildDay(day)
        if (left.length > 0) this.retryAt.set(day, now + RETRY_FAILED_MS)
        else this.retryAt.delete(day)
        failed.push(...left)
      }
      const compacted = await this.compactVisits()
      const compactedEvents = await this.compactEvents()
      return { days, failed, compacted, compactedEvents, ms: Date.now() - t }
    }).finally(() => {
      this.running = null
    })
    return this.running
  }

  /** Builds every `everyMs`; `onError` hears of a failed run, and of each site left out of a day's build. */
  start(everyMs: number, onError: (err: Error, where?: { site: string; day: string }) => void): void {
    const tick = () =>
      void this.run().then(
        (report) => report.failed.forEach(({ error, site, day }) => onError(error, { site, day })),
        (err: Error) => onError(err),
      )
    this.timer = setInterval(tick, everyMs)
    this.timer.unref()
    setTimeout(tick, 1_000).unref()
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.running?.catch(() => undefined)
  }

  private async select<T>(query: string, query_params: Record<string, unknown>): Promise<T[]> {
    const rs = await this.client.query({ query, query_params, format: 'JSONEachRow' })
    return rs.json<T>()
  }
}

/**
 * Gives every built day new build ids, the same builds otherwise: the statistics of every
 * process keep the rollup rows they read while the builds behind them are current
 * (aggregator/stats/query.ts), so once rows were erased (a site removed, rows past retention)
 * none of them may be answered again from what was kept.
 */
export async function renewRollupBuilds(client: ClickHouseClient): Promise<void> {
  await client.command({ query: 'INSERT INTO rollup_builds (day, events) SELECT day, max(events) FROM rollup_builds GROUP BY day' })
}
