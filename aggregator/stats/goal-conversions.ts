import type { ClickHouseClient } from '@clickhouse/client'
import { apart, cellOf, minGroup, withheldReason } from './disclosure.ts'
import { Params } from './filters.ts'
import { goalCondition, goalLabel, type GoalMatch } from './goal-match.ts'
import { metricValue, ZERO, type Sums } from './metrics.ts'
import type { Range } from './period.ts'
import { baseParams, NETWORK } from './query.ts'
import { publishable, questionOf, shown, spanOf, totals, type Scope } from './service.ts'
import { eventsOfVisits, percent } from './visit-events.ts'

export type GoalResult = (
  | { id: string; goal: string; visitors: number; events: number; conversion_rate: number }
  | { id: string; goal: string; visitors: null; events: null; conversion_rate: null; withheld: string }
) & RevenueResult

/** A revenue goal's revenue, in its currency (null when withheld or none); other goals have none of these fields. */
type RevenueResult = { currency?: string; total_revenue?: number | null; average_revenue?: number | null }

const currencyOf = (g: GoalMatch) => (g.kind === 'event' && g.currency ? g.currency : null)

/** The revenue fields of a goal's result, from its published sums (null: withheld). */
function revenueResult(g: GoalMatch, value: Sums | null): RevenueResult {
  const currency = currencyOf(g)
  if (!currency) return {}
  return { currency, total_revenue: value && metricValue(value, 'total_revenue'), average_revenue: value && metricValue(value, 'average_revenue') }
}

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
 *
 * A revenue goal also has `currency`, `total_revenue` and `average_revenue` (per revenue event):
 * the amounts its events carried in its currency, never converted, shown only when at least k
 * visitors from kn networks paid them (measures.ts).
 */
export async function goalConversions(client: ClickHouseClient, s: Scope, range: Range, goals: (GoalMatch & { id: string })[]): Promise<GoalConversions> {
  const reason = withheldReason(s.limits.k)
  const withheld = (g: GoalMatch & { id: string }): GoalResult => ({ id: g.id, goal: goalLabel(g), visitors: null, events: null, conversion_rate: null, withheld: reason, ...revenueResult(g, null) })
  // rates are out of every visitor the other filters keep: filtering by a custom event or a goal
  // picks the converting visits, it does not shrink what they convert out of
  const base: Scope = { ...s, filters: s.filters.filter((f) => f.name !== 'goal' && f.name !== 'event') }
  const whole = totals(client, base, range)
  const scoped = base.filters.length === s.filters.length ? null : totals(client, s, range)
  const [total, open, scopedOpen] = await Promise.all([whole, publishable(client, base, range, whole), scoped ? publishable(client, s, range, scoped) : true])
  if (!open || !scopedOpen) {
    return { results: goals.map(withheld), visitors: null, withheld: reason }
  }
  const span = spanOf(range)
  const visitors = shown(base, cellOf(base.filters, span), total).visitors
  if (goals.length === 0) return { results: [], visitors }

  const q = questionOf(s, range)
  const params = new Params()
  const flags = Object.fromEntries(goals.map((g, i) => [`g${i}`, goalCondition(g, params)]))
  // revenue goals (issue 14): their events' amounts in their own currency, and who paid them
  const paying = goals.flatMap((g, i) => (currencyOf(g) ? [{ i, paid: `g${i} AND rc = ${params.add('String', currencyOf(g)!)}` }] : []))
  const revenueColumns: Record<string, string> = paying.length ? { ra: 'revenue_amount', rc: 'revenue_currency' } : {}
  const anyGoal = Object.values(flags).join(' OR ')
  const events = eventsOfVisits(q, params, { ...flags, net: NETWORK, ...revenueColumns }, anyGoal)
  const sql = `SELECT ${goals.map((_, i) => `sum(v${i}) AS v${i}, sum(n${i}) AS n${i}, sum(e${i}) AS e${i}`).join(', ')}
      ${paying.map(({ i }) => `, sum(r${i}) AS r${i}, sum(re${i}) AS re${i}, sum(rv${i}) AS rv${i}, sum(rn${i}) AS rn${i}`).join('')}
    FROM
    (
      SELECT ${goals.map((_, i) => `uniqExactIf(visitor_id, g${i}) AS v${i}, uniqExactIf(net, g${i}) AS n${i}, countIf(g${i}) AS e${i}`).join(', ')}
        ${paying.map(({ i, paid }) => `, sumIf(ra, ${paid}) AS r${i}, countIf(${paid}) AS re${i}, uniqExactIf(visitor_id, ${paid}) AS rv${i}, uniqExactIf(net, ${paid}) AS rn${i}`).join('')}
      FROM (${events})
      GROUP BY day, local_day
    )`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const [row = {}] = await rs.json<Record<string, number>>()
  return {
    visitors,
    results: goals.map((g, i): GoalResult => {
      const n = (column: string) => Number(row[`${column}${i}`] ?? 0)
      const sums = {
        ...ZERO, visitors: n('v'), networks: n('n'), events: n('e'),
        revenue: n('r'), revenue_events: n('re'), revenue_visitors: n('rv'), revenue_networks: n('rn'),
      }
      if (!minGroup(sums, s.limits) || !apart(total.visitors, sums.visitors, s.limits)) return withheld(g)
      const value = shown(s, cellOf(s.filters, span, { name: 'goal', op: '==', values: [goalLabel(g)] }), sums)
      return { id: g.id, goal: goalLabel(g), visitors: value.visitors, events: value.events, conversion_rate: percent(value.visitors, visitors), ...revenueResult(g, value) }
    }),
  }
}
