import type { ClickHouseClient } from '@clickhouse/client'
import type { Sites } from '../../accounts/sites.ts'
import { PROPERTIES, property } from '../stats/properties.ts'
import { sumsSql, type StatsQuestion } from '../stats/query.ts'

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

export interface BuildReport {
  days: string[]
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
 */
export class RollupJob {
  private running: Promise<BuildReport> | null = null
  private timer: NodeJS.Timeout | null = null

  constructor(
    private client: ClickHouseClient,
    private sites: Pick<Sites, 'get'>,
    private now: () => number = () => Date.now(),
  ) {}

  /**
   * Closed days with more events than their rollup was built from. Fewer events never trigger
   * a build: that is retention at work, and the rollups of a day outlive its purged events.
   */
  async staleDays(): Promise<string[]> {
    const closedBefore = new Date(this.now() - CLOSE_AFTER_MS - DAY).toISOString().slice(0, 10)
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

  async buildDay(day: string): Promise<void> {
    const c = this.client
    // counted before the build reads: events coming in meanwhile make the day stale again
    const counted = await this.select<{ n: number }>('SELECT sum(events) AS n FROM event_counts WHERE day = {day:Date}', { day })
    const sites = await this.select<{ site: string }>('SELECT DISTINCT site FROM events WHERE toDate(ts) = {day:Date}', { day })
    await c.command({ query: 'ALTER TABLE rollup_daily_stage DROP PARTITION {day:Date}', query_params: { day } })
    const from = Date.parse(day)
    for (const { site } of sites) {
      const timezone = this.sites.get(site)?.timezone ?? 'UTC'
      const keys = await this.select<{ key: string }>(
        `SELECT k AS key FROM events ARRAY JOIN mapKeys(props) AS k
         WHERE site = {site:String} AND toDate(ts) = {day:Date} AND name NOT IN ('pageview', 'engagement')
         GROUP BY k ORDER BY count() DESC LIMIT ${MAX_PROP_KEYS}`,
        { site, day },
      )
      const dims: (string | null)[] = [null, ...Object.keys(PROPERTIES), ...keys.map((k) => `prop:${k.key}`)]
      for (const dim of dims) {
        const q: StatsQuestion = { site, timezone, range: { from, to: from + DAY }, filters: [], interval: 'day', property: dim ? property(dim) : undefined }
        const { sql, params } = sumsSql(q, [day])
        await c.command({
          query: `INSERT INTO rollup_daily_stage
                  SELECT {site:String} AS site, {day:Date} AS build_day, toDate(bucket) AS day, {dim:String} AS dim, key AS value,
                    visitors, networks, visits, pageviews, events, bounces, duration_ms, engagement_ms, entries
                  FROM (${sql})`,
          query_params: { ...params, site, day, dim: dim ?? '' },
          clickhouse_settings: BUILD_SETTINGS,
        })
      }
    }
    await c.command({ query: 'ALTER TABLE rollup_daily REPLACE PARTITION {day:Date} FROM rollup_daily_stage', query_params: { day } })
    await c.command({ query: 'ALTER TABLE rollup_daily_stage DROP PARTITION {day:Date}', query_params: { day } })
    // one part per closed day: reading its visits with FINAL then merges nothing
    await c.command({ query: 'OPTIMIZE TABLE visits PARTITION {day:Date} FINAL', query_params: { day }, clickhouse_settings: BUILD_SETTINGS })
    await c.insert({ table: 'rollup_builds', values: [{ day, events: Number(counted[0]?.n ?? 0) }], format: 'JSONEachRow' })
  }

  /** Builds every stale closed day; concurrent calls share one run. */
  run(): Promise<BuildReport> {
    if (!this.running) {
      this.running = (async () => {
        const t = Date.now()
        const days = await this.staleDays()
        for (const day of days) await this.buildDay(day)
        return { days, ms: Date.now() - t }
      })().finally(() => {
        this.running = null
      })
    }
    return this.running
  }

  start(everyMs: number, onError: (err: Error) => void): void {
    const tick = () => void this.run().catch(onError)
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
