import { performance } from 'node:perf_hooks'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Policy } from '../../policy/policy.ts'
import type { Sites } from '../../accounts/sites.ts'
import { BUILD_EVENT_ROLLUP, BUILD_PROP_ROLLUP, BUILD_VISITS, BUILD_VISIT_ROLLUP } from './sql.ts'

/**
 * A day's build sorts the day's events by visitor and time: past these sizes the sort and the
 * grouping spill to disk, so the server's memory stays bounded however busy a day was (a day of
 * 2 M events: +1.0 GB without them, +0.37 GB with them, in twice the time).
 */
const BUILD_SETTINGS = {
  max_bytes_before_external_sort: String(256 * 1024 * 1024),
  max_bytes_before_external_group_by: String(256 * 1024 * 1024),
}

export interface BuildReport {
  days: string[]
  ms: number
}

/**
 * On the schedule, a day is built again only once this many times its last build's duration
 * has passed since that build: a busy day's builds take at most about a tenth of a core (its
 * statistics lag a little more), where a build every minute would take a whole core at ~10 M
 * events a day.
 */
const SCHEDULE_SHARE = 10

/**
 * Builds visits and daily rollups from events, one UTC day at a time, in staging tables that
 * are then swapped in whole (REPLACE PARTITION): a reader sees the old day or the new one.
 * A day is built again whenever its event count grew, so late events (a replayed spool,
 * a seed) are taken in. Runs every minute in the server; tests call `run()` directly.
 */
export class RollupJob {
  private running: Promise<BuildReport> | null = null
  private timer: NodeJS.Timeout | null = null
  /** Each day's last build: when it ended and how long it took (monotonic ms). */
  private lastBuild = new Map<string, { at: number; ms: number }>()

  constructor(
    private client: ClickHouseClient,
    private sites: Pick<Sites, 'get'>,
    private policy: () => Policy,
    private mono: () => number = () => performance.now(),
  ) {}

  /**
   * Days with more events than their rollups were built from (late events, a replayed spool,
   * a seed). Fewer events never trigger a build: that is retention at work, and the rollups
   * of a day outlive its purged raw events. Builds are compared by their counts, not their
   * times, so a system clock set back cannot make an old build look like the latest.
   */
  async staleDays(): Promise<string[]> {
    const rs = await this.client.query({
      query: `SELECT toString(e.day) AS day
              FROM (SELECT toDate(ts) AS day, count() AS events FROM events GROUP BY day) AS e
              LEFT JOIN (SELECT day, max(events) AS events FROM rollup_builds GROUP BY day) AS b ON e.day = b.day
              WHERE e.events > b.events OR b.day = toDate(0)
              ORDER BY day`,
      format: 'JSONEachRow',
    })
    return (await rs.json<{ day: string }>()).map((r) => r.day)
  }

  async buildDay(day: string): Promise<void> {
    const c = this.client
    const rs = await c.query({
      query: 'SELECT site, count() AS events FROM events WHERE toDate(ts) = {day:Date} GROUP BY site',
      query_params: { day },
      format: 'JSONEachRow',
    })
    const perSite = await rs.json<{ site: string; events: number }>()
    for (const table of ['visits_stage', 'rollup_daily_stage']) {
      await c.command({ query: `ALTER TABLE ${table} DROP PARTITION {day:Date}`, query_params: { day } })
    }
    for (const { site } of perSite) {
      const params = {
        site,
        day,
        tz: this.sites.get(site)?.timezone ?? 'UTC',
        timeout_ms: this.policy().forSite(site).visitTimeoutMinutes * 60_000,
      }
      for (const query of [BUILD_VISITS, BUILD_VISIT_ROLLUP, BUILD_EVENT_ROLLUP, BUILD_PROP_ROLLUP]) {
        await c.command({ query, query_params: params, clickhouse_settings: BUILD_SETTINGS })
      }
    }
    await c.command({ query: 'ALTER TABLE visits REPLACE PARTITION {day:Date} FROM visits_stage', query_params: { day } })
    await c.command({ query: 'ALTER TABLE rollup_daily REPLACE PARTITION {day:Date} FROM rollup_daily_stage', query_params: { day } })
    // REPLACE copies: the staged copy goes, so visitor hashes live in one place only
    for (const table of ['visits_stage', 'rollup_daily_stage']) {
      await c.command({ query: `ALTER TABLE ${table} DROP PARTITION {day:Date}`, query_params: { day } })
    }
    const events = perSite.reduce((n, r) => n + Number(r.events), 0)
    await c.insert({ table: 'rollup_builds', values: [{ day, events }], format: 'JSONEachRow' })
  }

  /**
   * Builds every stale day (`scheduled`: those whose last build is old enough, see
   * SCHEDULE_SHARE); concurrent calls share one run.
   */
  run(opts: { scheduled?: boolean } = {}): Promise<BuildReport> {
    if (!this.running) {
      this.running = (async () => {
        const t = this.mono()
        const stale = await this.staleDays()
        const days = opts.scheduled ? stale.filter((d) => this.due(d)) : stale
        for (const day of days) {
          const started = this.mono()
          await this.buildDay(day)
          const at = this.mono()
          this.lastBuild.delete(day) // re-inserted last: the map's oldest entries go first
          this.lastBuild.set(day, { at, ms: at - started })
          if (this.lastBuild.size > 64) this.lastBuild.delete(this.lastBuild.keys().next().value!)
        }
        return { days, ms: Math.round(this.mono() - t) }
      })().finally(() => {
        this.running = null
      })
    }
    return this.running
  }

  private due(day: string): boolean {
    const last = this.lastBuild.get(day)
    return !last || this.mono() - last.at >= SCHEDULE_SHARE * last.ms
  }

  start(everyMs: number, onError: (err: Error) => void): void {
    const tick = () => void this.run({ scheduled: true }).catch(onError)
    this.timer = setInterval(tick, everyMs)
    this.timer.unref()
    setTimeout(tick, 1_000).unref()
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.running?.catch(() => undefined)
  }
}
