import type { ClickHouseClient } from '@clickhouse/client'
import { apart, cellOf, minGroup, OTHER, otherAllowed, splitRows, withheldReason, type Row } from './disclosure.ts'
import { Params } from './filters.ts'
import { ZERO, type Sums } from './metrics.ts'
import type { Range } from './period.ts'
import { baseParams, NETWORK } from './query.ts'
import { publishable, questionOf, shown, spanOf, totals, type Scope } from './service.ts'
import { eventsOfVisits } from './visit-events.ts'

export const ENTRANCE = '(entrance)'
export const EXIT = '(exit)'

export interface FlowRow {
  page: string
  visitors: number
}

export interface PageFlow {
  page: string
  /** Visitors who viewed the page. */
  visitors: number | null
  previous: FlowRow[]
  next: FlowRow[]
  withheld?: string
}

type Direction = 'previous' | 'next'
const DIRECTIONS: Direction[] = ['previous', 'next']

/**
 * The pages viewed just before and just after `page` within the same visit, by visitors:
 * a visit's pageviews in time order, `lagInFrame`/`leadInFrame` over each visit (a visit is
 * a visitor hash and its start, from the `visits` table: see visit-events.ts). A view that
 * opens the visit comes from `(entrance)`, one that ends it goes to `(exit)`.
 *
 * The page is a row of the question's total and each list's pages rows of the page's
 * visitors (R1, R4 in disclosure.ts); the pages folded are counted again over their union as "(other)".
 */
export async function pageFlow(client: ClickHouseClient, s: Scope, range: Range, page: string, limit: number): Promise<PageFlow> {
  const q = questionOf(s, range)
  const params = new Params()
  const at = params.add('String', page)
  const events = eventsOfVisits(q, params, { pathname: 'pathname', net: NETWORK }, "name = 'pageview'", `name = 'pageview' AND pathname = ${at}`)
  /** Distinct visitors and networks per (direction, key), or with `keys` per direction over the keys given. */
  const flowSql = (keys?: Record<Direction, string>) => `SELECT direction, ${keys ? "''" : 'key'} AS key, sum(n) AS visitors, sum(m) AS networks
    FROM
    (
      SELECT day, local_day, d.1 AS direction, ${keys ? "''" : 'd.2'} AS key, uniqExact(visitor_id) AS n, uniqExact(net) AS m
      FROM
      (
        SELECT visitor_id, net, day, local_day, pathname,
          lagInFrame(pathname, 1, '${ENTRANCE}') OVER visit AS previous,
          leadInFrame(pathname, 1, '${EXIT}') OVER visit AS next
        FROM (${events})
        WINDOW visit AS (PARTITION BY visitor_id, visit_start ORDER BY ts, pathname ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
      )
      ARRAY JOIN [('page', pathname), ('previous', previous), ('next', next)] AS d
      WHERE pathname = ${at}${keys ? ` AND ((d.1 = 'previous' AND d.2 IN ${keys.previous}) OR (d.1 = 'next' AND d.2 IN ${keys.next}))` : ''}
      GROUP BY day, local_day, direction, key
    )
    GROUP BY direction, key`
  const run = async (sql: string, extra: Record<string, unknown> = {}) => {
    const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values, ...extra }, format: 'JSONEachRow' })
    return (await rs.json<{ direction: string; key: string; visitors: number; networks: number }>()).map((r) => ({
      direction: r.direction,
      key: r.key,
      sums: { ...ZERO, visitors: Number(r.visitors), networks: Number(r.networks) },
    }))
  }
  const whole = totals(client, s, range)
  const [rows, total, open] = await Promise.all([run(flowSql()), whole, publishable(client, s, range, whole)])
  const viewed = rows.find((r) => r.direction === 'page')?.sums ?? ZERO
  const nothing: PageFlow = { page, visitors: null, previous: [], next: [], withheld: withheldReason(s.limits.k) }
  if (!minGroup(viewed, s.limits) || !apart(total.visitors, viewed.visitors, s.limits) || !open) return nothing

  // each list: its rows (R1, R4 against the page's visitors), then "(other)" over the pages folded
  const lists = Object.fromEntries(DIRECTIONS.map((d) => [d, splitRows(rows.filter((r) => r.direction === d), viewed.visitors, s.limits)])) as Record<Direction, { shown: Row[]; folded: Row[] }>
  const others: Partial<Record<Direction, Sums>> = {}
  for (let tries = 0; tries < 3; tries++) {
    const pending = DIRECTIONS.filter((d) => lists[d].folded.length > 0 && !others[d])
    if (pending.length === 0) break
    const keys = { previous: params.add('Array(String)', lists.previous.folded.map((r) => r.key)), next: params.add('Array(String)', lists.next.folded.map((r) => r.key)) }
    const union = await run(flowSql(keys))
    for (const d of pending) {
      const other = union.find((r) => r.direction === d)?.sums ?? ZERO
      if (otherAllowed(other, viewed.visitors, s.limits)) others[d] = other
      else if (lists[d].shown.length > 0) lists[d].folded.push(lists[d].shown.pop()!)
    }
  }
  const span = spanOf(range)
  const list = (d: Direction): FlowRow[] => {
    const other = others[d]
    const cells = [
      ...lists[d].shown.slice(0, limit).map((r) => ({ page: r.key, sums: r.sums, values: [r.key] })),
      ...(other ? [{ page: OTHER, sums: other, values: lists[d].shown.map((r) => `!${r.key}`) }] : []),
    ]
    return cells.map((c) => ({ page: c.page, visitors: shown(s, cellOf(s.filters, span, { name: `flow:${page}:${d}`, op: '==', values: c.values }), c.sums).visitors }))
  }
  return { page, visitors: shown(s, cellOf(s.filters, span, { name: 'page', op: '==', values: [page] }), viewed).visitors, previous: list('previous'), next: list('next') }
}
