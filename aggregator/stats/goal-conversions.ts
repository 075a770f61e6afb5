import type { ClickHouseClient } from '@clickhouse/client'
import { Params } from './filters.ts'
import { goalCondition, goalLabel, type GoalMatch } from './goal-match.ts'
import { baseParams, type StatsQuestion } from './query.ts'
import { eventsOfVisits, percent, scopedVisitors } from './visit-events.ts'
import { withheldReason } from './threshold.ts'

export type GoalResult =
  | { id: string; goal: string; visitors: number; events: number; conversion_rate: number }
  | { id: string; goal: string; visitors: null; events: null; conversion_rate: null; withheld: string }

export interface GoalConversions {
  results: GoalResult[]
  /** Every visitor of the (filtered) range: the conversion rates' denominator. */
  visitors: number | null
  withheld?: string
}

/**
 * Conversions of each goal in the visits of a question: `visitors` who completed it in at
 * least one visit (summed over days, like every visitor count), `events` that completed it
 * (matching pageviews, or matching custom events), and `conversion_rate`, the converting
 * visitors in percent of all visitors of the range (one decimal). This is the only place the
 * conversion rate is offered: there is no `goal` filter on the other stats routes.
 *
 * k: each goal is its own question, so a goal with 1..k-1 converting visitors is withheld
 * (not folded into others); when the whole population is under k, every goal is withheld.
 */
export async function goalConversions(
  client: ClickHouseClient,
  q: StatsQuestion,
  goals: (GoalMatch & { id: string })[],
  k: number,
): Promise<GoalConversions> {
  const withheld = (g: GoalMatch & { id: string }): GoalResult => ({
    id: g.id, goal: goalLabel(g), visitors: null, events: null, conversion_rate: null, withheld: withheldReason(k),
  })
  const total = await scopedVisitors(client, q)
  if (total < k) return { results: goals.map(withheld), visitors: null, withheld: withheldReason(k) }
  if (goals.length === 0) return { results: [], visitors: total }

  const params = new Params()
  const flags = Object.fromEntries(goals.map((g, i) => [`g${i}`, goalCondition(g, params)]))
  const events = eventsOfVisits(q, params, flags, Object.values(flags).join(' OR '))
  const sql = `SELECT ${goals.map((_, i) => `sum(v${i}) AS v${i}, sum(e${i}) AS e${i}`).join(', ')}
    FROM
    (
      SELECT ${goals.map((_, i) => `uniqExactIf(visitor_id, g${i}) AS v${i}, countIf(g${i}) AS e${i}`).join(', ')}
      FROM (${events})
      GROUP BY day, local_day
    )`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const [row = {}] = await rs.json<Record<string, number>>()
  return {
    visitors: total,
    results: goals.map((g, i): GoalResult => {
      const visitors = Number(row[`v${i}`] ?? 0)
      if (visitors > 0 && visitors < k) return withheld(g)
      return { id: g.id, goal: goalLabel(g), visitors, events: Number(row[`e${i}`] ?? 0), conversion_rate: percent(visitors, total) }
    }),
  }
}
