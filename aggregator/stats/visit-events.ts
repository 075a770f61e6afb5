import type { ClickHouseClient } from '@clickhouse/client'
import { Params } from './filters.ts'
import { rangeDays, visitConditions, type StatsQuestion } from './query.ts'

/**
 * SQL for questions about what happened inside one visit (goals, funnels, page flow).
 *
 * Visit membership comes from the `visits` table, not from a second sessionisation here: the
 * rollup job already cut each visitor's UTC day into visits at gaps longer than the policy's
 * timeout, and a visit's [start, end] holds exactly its events (start and end are its first
 * and last event, visits of one visitor never overlap). So an event belongs to the visit of
 * the same visitor hash and UTC day whose [start, end] contains its timestamp: an equi-join on
 * (visitor_id, day) and a range check. The timeout applied is the one the visits were built
 * with, and only days the rollup has built are seen, like every other statistic.
 */

/** The query parameters every statement here uses: {site}, {from}, {to}, {u0}, {u1}. */
export function baseParams(q: StatsQuestion): Record<string, unknown> {
  const days = rangeDays(q.range, q.timezone)
  return { site: q.site, from: q.range.from, to: q.range.to, u0: days.utcFirst, u1: days.utcLast }
}

/** The visits a question is about: its site, starting in its range, matching its filters; with the local day they count on. */
export function scopedVisits(q: StatsQuestion, params: Params): string {
  const conds = visitConditions(q, params)
  return `SELECT visitor_id, day, start, end, toDate(start, ${params.add('String', q.timezone)}) AS local_day
    FROM visits
    WHERE site = {site:String} AND day BETWEEN {u0:Date} AND {u1:Date}
      AND start >= fromUnixTimestamp64Milli({from:Int64}) AND start < fromUnixTimestamp64Milli({to:Int64})
      ${conds.map((c) => `AND ${c}`).join('\n      ')}`
}

/**
 * Events of those visits for which `where` holds (SQL over an `events` row), one row each:
 * visitor_id, day (UTC), local_day, visit_start (with visitor_id, the visit), ts, and the
 * `columns` given (alias → SQL over the events row).
 */
export function eventsOfVisits(q: StatsQuestion, params: Params, columns: Record<string, string>, where: string): string {
  const own = Object.entries(columns)
  return `SELECT v.visitor_id AS visitor_id, v.day AS day, v.local_day AS local_day, v.start AS visit_start, e.ts AS ts
      ${own.map(([alias]) => `, e.${alias} AS ${alias}`).join('')}
    FROM
    (
      SELECT visitor_id, toDate(ts) AS day, ts ${own.map(([alias, expr]) => `, ${expr} AS ${alias}`).join('')}
      FROM events
      WHERE site = {site:String} AND toDate(ts) BETWEEN {u0:Date} AND {u1:Date} AND visitor_id != 0 AND (${where})
    ) AS e
    INNER JOIN (${scopedVisits(q, params)}) AS v ON e.visitor_id = v.visitor_id AND e.day = v.day
    WHERE e.ts >= v.start AND e.ts <= v.end`
}

/**
 * Distinct visitors of the question's visits. Like every visitor count here, the sum over
 * days of distinct visitor hashes (hashes rotate daily), so it equals the aggregate's `visitors`.
 */
export async function scopedVisitors(client: ClickHouseClient, q: StatsQuestion): Promise<number> {
  const params = new Params()
  const rs = await client.query({
    query: `SELECT sum(n) AS visitors FROM (SELECT uniqExact(visitor_id) AS n FROM (${scopedVisits(q, params)}) GROUP BY day, local_day)`,
    query_params: { ...baseParams(q), ...params.values },
    format: 'JSONEachRow',
  })
  const [row] = await rs.json<{ visitors: number }>()
  return Number(row?.visitors ?? 0)
}


/** A percentage with one decimal. */
export const percent = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0)
