import type { ClickHouseClient } from '@clickhouse/client'
import { apart, cellOf, minGroup, withheldReason } from './disclosure.ts'
import { Params } from './filters.ts'
import { goalCondition, goalLabel, type GoalMatch } from './goal-match.ts'
import { ZERO } from './metrics.ts'
import type { Range } from './period.ts'
import { baseParams, NETWORK } from './query.ts'
import { publishable, questionOf, shown, spanOf, totals, type Scope } from './service.ts'
import { eventsOfVisits, percent } from './visit-events.ts'

export type GoalResult =
  | { id: string; goal: string; visitors: number; events: number; conversion_rate: number }
  | { id: string; goal: string; visitors: null; events: null; conversion_rate: null; withheld: string }

export interface GoalConversions {
  results: GoalResult[]
  /** Every visitor of the range the filters other than goal and event keep: the rates' denominator. */
  visitors: number | null
  withheld?: string
}

/**
 * Conversions of each goal in the visits of a question: `visitors` who completed it in at
 * least one visit (distinct per day, summed over days, like every visitor count), `events`
 * that completed it (matching pageviews, or matching custom events), and `conversion_rate`,
 * the converting visitors in percent of all visitors of the range that the filters other than
 * `goal` and `event` keep (one decimal).
 *
 * Each goal is a row of the total (disclosure.ts): shown when it passes R1 and R4 (at least k
 * visitors did not convert), else withheld exactly like a goal nobody reached.
 */
export async function goalConversions(client: ClickHouseClient, s: Scope, range: Range, goals: (GoalMatch & { id: string })[]): Promise<GoalConversions> {
  const reason = withheldReason(s.limits.k)
  const withheld = (g: GoalMatch & { id: string }): GoalResult => ({ id: g.id, goal: goalLabel(g), visitors: null, events: null, conversion_rate: null, withheld: reason })
  // rates are out of every visitor the other filters keep: filtering by a custom event or a goal
  // picks the converting visits, it does not shrink what they convert out of
  const base: Scope = { ...s, filters: s.filters.filter((f) => f.name !== 'goal' && f.name !== 'event') }
  const [total, scoped] = await Promise.all([totals(client, base, range), base.filters.length === s.filters.length ? null : totals(client, s, range)])
  if (!(await publishable(client, base, range, total)) || (scoped && !(await publishable(client, s, range, scoped)))) {
    return { results: goals.map(withheld), visitors: null, withheld: reason }
  }
  const span = spanOf(range)
  const visitors = shown(base, cellOf(base.filters, span), total).visitors
  if (goals.length === 0) return { results: [], visitors }

  const q = questionOf(s, range)
  const params = new Params()
  const flags = Object.fromEntries(goals.map((g, i) => [`g${i}`, goalCondition(g, params)]))
  const events = eventsOfVisits(q, params, { ...flags, net: NETWORK }, Object.values(flags).join(' OR '))
  const sql = `SELECT ${goals.map((_, i) => `sum(v${i}) AS v${i}, sum(n${i}) AS n${i}, sum(e${i}) AS e${i}`).join(', ')}
    FROM
    (
      SELECT ${goals.map((_, i) => `uniqExactIf(visitor_id, g${i}) AS v${i}, uniqExactIf(net, g${i}) AS n${i}, countIf(g${i}) AS e${i}`).join(', ')}
      FROM (${events})
      GROUP BY day, local_day
    )`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const [row = {}] = await rs.json<Record<string, number>>()
  return {
    visitors,
    results: goals.map((g, i): GoalResult => {
      const sums = { ...ZERO, visitors: Number(row[`v${i}`] ?? 0), networks: Number(row[`n${i}`] ?? 0), events: Number(row[`e${i}`] ?? 0) }
      if (!minGroup(sums, s.limits) || !apart(total.visitors, sums.visitors, s.limits)) return withheld(g)
      const value = shown(s, cellOf(s.filters, span, { name: 'goal', op: '==', values: [goalLabel(g)] }), sums)
      return { id: g.id, goal: goalLabel(g), visitors: value.visitors, events: value.events, conversion_rate: percent(value.visitors, visitors) }
    }),
  }
}
