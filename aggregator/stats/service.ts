import type { ClickHouseClient } from '@clickhouse/client'
import type { Filter } from './filters.ts'
import { addSums, metricValue, ZERO, type Metric, type Sums } from './metrics.ts'
import type { Range } from './period.ts'
import { present, type Property } from './properties.ts'
import { currentDays, querySums, rangeDays, rollupAnswers, utcDays, type Interval } from './query.ts'
import { foldSmallRows, OTHER, withheldReason } from './threshold.ts'
import { buckets } from './buckets.ts'

export interface Scope {
  site: string
  timezone: string
  filters: Filter[]
  /** The policy's minimum number of visitors behind any published number, for this audience. */
  minVisitors: number
}

export const NONE = '(none)'


export type MetricValue = { value: number; change: number | null } | { value: null; change: null; withheld: string }

async function totals(client: ClickHouseClient, s: Scope, range: { from: number; to: number }): Promise<Sums> {
  const rows = await querySums(client, { site: s.site, timezone: s.timezone, range, filters: s.filters })
  return rows.reduce((acc, r) => addSums(acc, r), { ...ZERO })
}

/** Totals for the range with the change against the previous range of the same length. */
export async function aggregate(client: ClickHouseClient, s: Scope, range: Range, metrics: Metric[]): Promise<Record<string, MetricValue>> {
  const [now, before] = await Promise.all([totals(client, s, range), totals(client, s, range.previous)])
  const out: Record<string, MetricValue> = {}
  for (const m of metrics) {
    if (now.visitors < s.minVisitors) {
      out[m] = { value: null, change: null, withheld: withheldReason(s.minVisitors) }
      continue
    }
    const value = metricValue(now, m)
    const prev = before.visitors >= s.minVisitors ? metricValue(before, m) : null
    out[m] = { value, change: prev === null || prev === 0 ? null : Math.round(((value - prev) / prev) * 1000) / 10 }
  }
  return out
}

export type TimeseriesRow = { date: string } & Record<string, number | null | string>

/** One row per bucket; a bucket drawn from 1..k-1 visitors is withheld, never shown small. */
export async function timeseries(client: ClickHouseClient, s: Scope, range: Range, metrics: Metric[], interval: Interval): Promise<TimeseriesRow[]> {
  const rows = await querySums(client, { site: s.site, timezone: s.timezone, range, filters: s.filters, interval })
  const byBucket = new Map(rows.map((r) => [r.bucket, r]))
  return buckets(range, interval, s.timezone).map((date) => {
    const sums = byBucket.get(date) ?? ZERO
    const row: TimeseriesRow = { date }
    if (sums.visitors > 0 && sums.visitors < s.minVisitors) {
      for (const m of metrics) row[m] = null
      row.withheld = withheldReason(s.minVisitors)
    } else for (const m of metrics) row[m] = metricValue(sums, m)
    return row
  })
}

export interface Breakdown {
  results: Record<string, string | number>[]
  /** How many values were folded into (other) because too few visitors stood behind them. */
  folded: number
  withheld?: string
}

/** Values of a property with their metrics, small ones folded into `(other)`, largest first. */
export async function breakdown(
  client: ClickHouseClient,
  s: Scope,
  range: Range,
  name: string,
  prop: Property & { propKey?: string },
  metrics: Metric[],
  limit: number,
): Promise<Breakdown> {
  const rows = await querySums(client, { site: s.site, timezone: s.timezone, range, filters: s.filters, property: prop })
  const folded = foldSmallRows(rows.map((r) => ({ key: r.key, sums: r })), s.minVisitors)
  if (folded.withheld) return { results: [], folded: folded.folded, withheld: withheldReason(s.minVisitors) }
  const visible = folded.rows.filter((r) => r.key !== OTHER)
  const other = folded.rows.find((r) => r.key === OTHER)
  const shown = [...visible.slice(0, limit), ...(other ? [other] : [])]
  return {
    folded: folded.folded,
    results: shown.map((r) => {
      const label = r.key === OTHER ? { [name]: OTHER } : present(name, r.key === '' ? NONE : r.key)
      const out: Record<string, string | number> = { ...label }
      for (const m of metrics) out[m] = metricValue(r.sums, m)
      return out
    }),
  }
}

/**
 * The custom-prop keys used in the range by at least k visitors, most used first: a key
 * only a handful of visitors sent is not listed (its name alone could single them out).
 * `url` is the link of outbound and download clicks, shown by those properties, not listed.
 * Like every statistic, from the rollup for the days it holds and from events for the others.
 */
export async function propertyKeys(client: ClickHouseClient, s: Scope, range: { from: number; to: number }): Promise<string[]> {
  const days = rangeDays(range, s.timezone)
  const whole = rollupAnswers({ site: s.site, timezone: s.timezone, range, filters: [] })
  const current = whole ? await currentDays(client, days.utcFirst, days.utcLast) : new Set<string>()
  const live = utcDays(days.utcFirst, days.utcLast).filter((d) => !current.has(d))
  const rs = await client.query({
    query: `SELECT key, sum(v) AS v FROM (
              SELECT substring(dim, 6) AS key, sum(visitors) AS v FROM rollup_daily
              WHERE site = {site:String} AND startsWith(dim, 'prop:') AND build_day IN {built:Array(Date)} AND day BETWEEN {d0:Date} AND {d1:Date}
              GROUP BY key
              UNION ALL
              SELECT key, sum(n) AS v FROM (
                SELECT k AS key, uniqExactIf(visitor_id, visitor_id != 0) AS n FROM events ARRAY JOIN mapKeys(props) AS k
                WHERE site = {site:String} AND toDate(ts) IN {live:Array(Date)} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})
                  AND name NOT IN ('pageview', 'engagement')
                GROUP BY key, toDate(ts), toDate(ts, {tz:String})
              ) GROUP BY key
            )
            WHERE key != 'url'
            GROUP BY key HAVING v >= {k:UInt64} ORDER BY v DESC, key LIMIT 100`,
    query_params: { site: s.site, built: [...current], live, d0: days.first, d1: days.last, from: range.from, to: range.to, tz: s.timezone, k: s.minVisitors },
    format: 'JSONEachRow',
  })
  return (await rs.json<{ key: string }>()).map((r) => r.key)
}
