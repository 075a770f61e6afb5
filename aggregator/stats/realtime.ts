import type { ClickHouseClient } from '@clickhouse/client'
import { foldSmallRows } from './threshold.ts'
import { ZERO } from './metrics.ts'

const WINDOW_MS = 5 * 60_000

/** Visitors in the last five minutes and the pages they are on, straight from events. */
export async function realtime(client: ClickHouseClient, site: string, minVisitors: number, now = Date.now()) {
  const rs = await client.query({
    query: `SELECT pathname AS page, uniqExactIf(visitor_id, visitor_id != 0) AS visitors
            FROM events
            WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND name = 'pageview'
            GROUP BY page`,
    query_params: { site, from: now - WINDOW_MS },
    format: 'JSONEachRow',
  })
  const pages = await rs.json<{ page: string; visitors: number }>()
  const total = await client.query({
    query: `SELECT uniqExactIf(visitor_id, visitor_id != 0) AS v FROM events WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64})`,
    query_params: { site, from: now - WINDOW_MS },
    format: 'JSONEachRow',
  })
  const [{ v }] = await total.json<{ v: number }>()
  if (Number(v) < minVisitors) return { visitors: null, pages: [], withheld: `fewer than ${minVisitors} visitors` }
  const folded = foldSmallRows(pages.map((p) => ({ key: p.page, sums: { ...ZERO, visitors: Number(p.visitors) } })), minVisitors)
  return { visitors: Number(v), pages: folded.rows.map((r) => ({ page: r.key, visitors: r.sums.visitors })) }
}
