import type { ClickHouseClient } from '@clickhouse/client'
import type { Range } from './period.ts'

export const AGGREGATE_METRICS = ['visitors', 'pageviews', 'events'] as const
export type AggregateMetric = (typeof AGGREGATE_METRICS)[number]

interface Totals {
  visitors: number
  pageviews: number
  events: number
}

// Events counted without a visitor hash (a consent stance) carry visitor_id 0.
const TOTALS_SQL = `
SELECT
    uniqExactIf(visitor_id, visitor_id != 0) AS visitors,
    countIf(name = 'pageview')               AS pageviews,
    count()                                  AS events
FROM events
WHERE site = {site:String}
  AND ts >= fromUnixTimestamp64Milli({from:Int64})
  AND ts <  fromUnixTimestamp64Milli({to:Int64})`

async function totals(client: ClickHouseClient, site: string, from: number, to: number): Promise<Totals> {
  const rs = await client.query({ query: TOTALS_SQL, query_params: { site, from, to }, format: 'JSONEachRow' })
  const [row] = await rs.json<Totals>()
  return { visitors: Number(row.visitors), pageviews: Number(row.pageviews), events: Number(row.events) }
}

export type MetricValue = { value: number; change: number | null } | { value: null; change: null; withheld: string }

/**
 * Totals for a range and the change against the previous range of the same length.
 * Fewer than `minVisitors` distinct visitors behind the range withholds every value.
 */
export async function aggregate(
  client: ClickHouseClient,
  site: string,
  range: Range,
  metrics: readonly AggregateMetric[],
  minVisitors: number,
): Promise<Record<string, MetricValue>> {
  const [now, before] = await Promise.all([
    totals(client, site, range.from, range.to),
    totals(client, site, range.previous.from, range.previous.to),
  ])
  const out: Record<string, MetricValue> = {}
  for (const m of metrics) {
    if (now.visitors < minVisitors) {
      out[m] = { value: null, change: null, withheld: `fewer than ${minVisitors} visitors` }
      continue
    }
    const prev = before.visitors >= minVisitors ? before[m] : null
    out[m] = { value: now[m], change: prev === null || prev === 0 ? null : Math.round(((now[m] - prev) / prev) * 1000) / 10 }
  }
  return out
}
