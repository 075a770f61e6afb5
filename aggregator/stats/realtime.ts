import type { ClickHouseClient } from '@clickhouse/client'
import { compare, Params, type Filter } from './filters.ts'
import { foldSmallRows } from './threshold.ts'
import { ZERO } from './metrics.ts'
import { InputError } from '../../http/errors.ts'

const WINDOW_MS = 5 * 60_000

/**
 * Properties every event row carries, so that the last five minutes can be filtered on them
 * without waiting for visits to be built. Acquisition (source, UTM...) is only on a visit's
 * first event, and entry/exit pages need whole visits: those filters are not offered here.
 */
const ON_EVERY_EVENT: Record<string, string> = {
  page: 'pathname',
  event: 'name',
  country: 'country',
  region: 'region',
  city: 'city',
  browser: 'browser',
  browser_version: "if(browser_version = '', '', concat(browser, ' ', browser_version))",
  os: 'os',
  os_version: "if(os_version = '', '', concat(os, ' ', os_version))",
  device: 'device',
  screen: 'screen',
  network: 'network',
}

export class RealtimeFilterError extends InputError {}

/** Visitors in the last five minutes and the pages they are on, straight from events. */
export async function realtime(client: ClickHouseClient, site: string, minVisitors: number, filters: Filter[] = [], now = Date.now()) {
  const params = new Params()
  const conds = filters.map((f) => {
    const column = Object.hasOwn(ON_EVERY_EVENT, f.name) ? ON_EVERY_EVENT[f.name] : undefined
    if (!column) throw new RealtimeFilterError(`realtime filters take ${Object.keys(ON_EVERY_EVENT).join(', ')}; not ${f.name}`)
    return compare(column, f, params)
  })
  // a visitor counts when any of their recent events matches (a page filter: they viewed it)
  const matching = conds.length
    ? `AND visitor_id IN (SELECT visitor_id FROM events WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ${conds.join(' AND ')})`
    : ''
  const query_params = { site, from: now - WINDOW_MS, ...params.values }
  const rs = await client.query({
    query: `SELECT pathname AS page, uniqExactIf(visitor_id, visitor_id != 0) AS visitors
            FROM events
            WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND name = 'pageview' ${matching}
            GROUP BY page`,
    query_params,
    format: 'JSONEachRow',
  })
  const pages = await rs.json<{ page: string; visitors: number }>()
  const total = await client.query({
    query: `SELECT uniqExactIf(visitor_id, visitor_id != 0) AS v FROM events
            WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) ${matching}`,
    query_params,
    format: 'JSONEachRow',
  })
  const [{ v }] = await total.json<{ v: number }>()
  if (Number(v) < minVisitors) return { visitors: null, pages: [], withheld: `fewer than ${minVisitors} visitors` }
  const folded = foldSmallRows(pages.map((p) => ({ key: p.page, sums: { ...ZERO, visitors: Number(p.visitors) } })), minVisitors)
  return { visitors: Number(v), pages: folded.rows.map((r) => ({ page: r.key, visitors: r.sums.visitors })) }
}
