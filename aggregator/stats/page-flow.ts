import type { ClickHouseClient } from '@clickhouse/client'
import { Params } from './filters.ts'
import { ZERO } from './metrics.ts'
import { foldSmallRows, OTHER, withheldReason, type Row } from './threshold.ts'
import { baseParams, type StatsQuestion } from './query.ts'
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
  /** How many pages of each list were folded into (other). */
  folded: { previous: number; next: number }
  withheld?: string
}

/**
 * The pages viewed just before and just after `page` within the same visit, by visitors:
 * a visit's pageviews in time order, `lagInFrame`/`leadInFrame` over each visit (a visit is
 * a visitor hash and its start, from the `visits` table: see visit-events.ts). A view that
 * opens the visit comes from `(entrance)`, one that ends it goes to `(exit)`.
 *
 * k: when fewer than k visitors viewed the page nothing is shown; in each list, pages of
 * fewer than k visitors are folded into `(other)` (foldSmallRows).
 */
export async function pageFlow(client: ClickHouseClient, q: StatsQuestion, page: string, k: number, limit: number): Promise<PageFlow> {
  const params = new Params()
  const events = eventsOfVisits(q, params, { pathname: 'pathname' }, "name = 'pageview'")
  const sql = `SELECT direction, key, sum(n) AS visitors
    FROM
    (
      SELECT day, local_day, d.1 AS direction, d.2 AS key, uniqExact(visitor_id) AS n
      FROM
      (
        SELECT visitor_id, day, local_day, pathname,
          lagInFrame(pathname, 1, '${ENTRANCE}') OVER visit AS previous,
          leadInFrame(pathname, 1, '${EXIT}') OVER visit AS next
        FROM (${events})
        WINDOW visit AS (PARTITION BY visitor_id, visit_start ORDER BY ts, pathname ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
      )
      ARRAY JOIN [('page', pathname), ('previous', previous), ('next', next)] AS d
      WHERE pathname = ${params.add('String', page)}
      GROUP BY day, local_day, direction, key
    )
    GROUP BY direction, key`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const rows = (await rs.json<{ direction: string; key: string; visitors: number }>()).map((r) => ({ ...r, visitors: Number(r.visitors) }))

  const visitors = rows.find((r) => r.direction === 'page')?.visitors ?? 0
  if (visitors < k) return { page, visitors: null, previous: [], next: [], folded: { previous: 0, next: 0 }, withheld: withheldReason(k) }
  const list = (direction: string) => {
    const own: Row[] = rows.filter((r) => r.direction === direction).map((r) => ({ key: r.key, sums: { ...ZERO, visitors: r.visitors } }))
    const folded = foldSmallRows(own, k)
    const visible = folded.rows.filter((r) => r.key !== OTHER)
    const other = folded.rows.filter((r) => r.key === OTHER)
    return { rows: [...visible.slice(0, limit), ...other].map((r) => ({ page: r.key, visitors: r.sums.visitors })), folded: folded.folded }
  }
  const previous = list('previous')
  const next = list('next')
  return { page, visitors, previous: previous.rows, next: next.rows, folded: { previous: previous.folded, next: next.folded } }
}
