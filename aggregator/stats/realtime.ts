import type { ClickHouseClient } from '@clickhouse/client'
import { compare, Params, type Filter } from './filters.ts'
import { apart, apartFromEach, cellOf, minGroup, OTHER, OTHER_TRIES, otherAllowed, splitRows, withheldReason, type Limits, type Noise } from './disclosure.ts'
import { ZERO, type Sums } from './metrics.ts'
import { NETWORK } from './query.ts'
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

/**
 * Visitors in the last five minutes and the pages they are on, straight from events. The same
 * rules as every statistic (disclosure.ts): the total passes R1 and R3; each page is a row of
 * the total (R1, R4) and, as a breakdown's rows, of the same list without each filter (R3 row
 * by row: a page's visitors under `browser!=Firefox` within 1..k-1 of its visitors without the
 * filter would tell the Firefox visitors on it); the pages folded are counted again over their
 * union as "(other)", which passes the same rules against the union without each filter.
 */
export async function realtime(client: ClickHouseClient, site: string, limits: Limits, filters: Filter[] = [], noise?: Noise, now = Date.now()) {
  const params = new Params()
  const conds = filters.map((f) => {
    const column = Object.hasOwn(ON_EVERY_EVENT, f.name) ? ON_EVERY_EVENT[f.name] : undefined
    if (!column) throw new RealtimeFilterError(`realtime filters take ${Object.keys(ON_EVERY_EVENT).join(', ')}; not ${f.name}`)
    return compare(column, f, params)
  })
  const recent = 'site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64})'
  // a visitor counts when any of their recent events matches (a page filter: they viewed it)
  const matching = (cs: string[]) => (cs.length ? `AND visitor_id IN (SELECT visitor_id FROM events WHERE ${recent} AND ${cs.join(' AND ')})` : '')
  const query_params = { site, from: now - WINDOW_MS, ...params.values }
  const select = async (query: string, extra: Record<string, unknown> = {}) => {
    const rs = await client.query({ query, query_params: { ...query_params, ...extra }, format: 'JSONEachRow' })
    return (await rs.json<{ page: string; visitors: number; networks: number }>()).map((r) => ({ key: r.page, sums: { ...ZERO, visitors: Number(r.visitors), networks: Number(r.networks) } }))
  }
  const counts = `uniqExactIf(visitor_id, visitor_id != 0) AS visitors, uniqExactIf(${NETWORK}, visitor_id != 0) AS networks`
  const totalOf = async (cs: string[]) => (await select(`SELECT '' AS page, ${counts} FROM events WHERE ${recent} ${matching(cs)}`))[0].sums
  const pagesOf = (cs: string[]) => select(`SELECT pathname AS page, ${counts} FROM events WHERE ${recent} AND name = 'pageview' ${matching(cs)} GROUP BY page`)
  const unionOf = async (cs: string[], keys: string[]) =>
    (await select(`SELECT '' AS page, ${counts} FROM events WHERE ${recent} AND name = 'pageview' AND pathname IN {folded:Array(String)} ${matching(cs)}`, { folded: keys }))[0].sums
  // the question without each of its filters (R3)
  const withouts = conds.map((_, i) => conds.filter((__, j) => j !== i))
  const [pages, total, without, neighbourPages] = await Promise.all([pagesOf(conds), totalOf(conds), Promise.all(withouts.map(totalOf)), Promise.all(withouts.map(pagesOf))])
  const neighbours = neighbourPages.map((rs) => new Map(rs.map((r) => [r.key, r.sums])))
  const nothing = { visitors: null, pages: [], withheld: withheldReason(limits.k) }
  if (!minGroup(total, limits) || without.some((w) => !apart(w.visitors, total.visitors, limits))) return nothing
  let { shown, folded } = splitRows(pages, total.visitors, limits, neighbours)
  let other: Sums | null = null
  // as a breakdown's (service.ts): after OTHER_TRIES every page is folded, so that no page is shown
  // beside folded ones without their "(other)" (the total less the rows shown would tell it)
  for (let tries = 0; folded.length > 0; tries++) {
    if (tries === OTHER_TRIES) {
      folded = [...folded, ...shown]
      shown = []
    }
    const keys = folded.map((r) => r.key)
    const [union, ...unionWithout] = await Promise.all([unionOf(conds, keys), ...withouts.map((cs) => unionOf(cs, keys))])
    if (otherAllowed(union, total.visitors, limits) && apartFromEach(unionWithout.map((w) => w.visitors), union.visitors, limits)) {
      other = union
      break
    }
    if (shown.length === 0) break
    folded = [...folded, shown.pop()!]
  }
  const span = `realtime:${now - WINDOW_MS}`
  const count = (values: string[], sums: Sums) => (noise ? noise.count(cellOf(filters, span, { name: 'page', op: '==', values }), 'visitors', sums.visitors) : sums.visitors)
  return {
    visitors: count([], total),
    pages: [
      ...shown.map((r) => ({ page: r.key, visitors: count([r.key], r.sums) })),
      ...(other ? [{ page: OTHER, visitors: count(shown.map((r) => `!${r.key}`), other) }] : []),
    ],
  }
}
