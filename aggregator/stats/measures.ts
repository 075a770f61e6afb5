import { minGroup, type Limits } from './disclosure.ts'
import type { Filter, Params } from './filters.ts'
import { goalCondition, type GoalMatch } from './goal-match.ts'
import { MetricError, type Metric, type Sums } from './metrics.ts'

/**
 * Revenue and scroll depth (issue 14): what a question must hold to ask them, and k on the sets
 * they stand for.
 *
 * Revenue is kept in the currency it was sent in and never converted, so it is only summed for
 * revenue goals (event goals with a currency), each counting its own currency's amounts: the
 * metrics need a goal filter on revenue goals of one currency. Scroll depth belongs to pages.
 */

const REVENUE_METRICS: readonly Metric[] = ['total_revenue', 'average_revenue']

type RevenueGoal = Extract<GoalMatch, { kind: 'event' }> & { currency: string }
const isRevenueGoal = (g: GoalMatch): g is RevenueGoal => g.kind === 'event' && !!g.currency

/** The revenue goals of a question's goal filters (`goal==…`; a negated goal filter has none). */
function revenueGoals(filters: Filter[]): RevenueGoal[] {
  return filters.filter((f) => f.name === 'goal' && f.op === '==').flatMap((f) => (f.goals ?? []).filter(isRevenueGoal))
}

/**
 * Checks what a question asks of revenue and scroll depth; a 400 (MetricError) says what is
 * missing. With revenue asked, its goal filters carry the currency whose amounts they sum
 * (`revenueCurrency`, read by the SQL through `revenueCondition`), and the currency is returned
 * for the answer to name. `property` is the breakdown's, if any.
 */
export function askMeasures(filters: Filter[], metrics: Metric[], property?: string): { filters: Filter[]; currency?: string } {
  if (metrics.includes('scroll_depth') && property !== 'page') throw new MetricError('scroll_depth is a metric of the page breakdown (property=page)')
  if (!metrics.some((m) => REVENUE_METRICS.includes(m))) return { filters }
  const currencies = [...new Set(revenueGoals(filters).map((g) => g.currency))].sort()
  if (currencies.length === 0) {
    throw new MetricError('total_revenue and average_revenue need a goal filter on a revenue goal (an event goal with a currency), e.g. filters=goal==Purchase')
  }
  if (currencies.length > 1) {
    throw new MetricError(`the goal filter's revenue goals are in several currencies (${currencies.join(', ')}): revenue is never converted, so filter by revenue goals of one currency`)
  }
  const [currency] = currencies
  return { filters: filters.map((f) => (f.name === 'goal' && f.op === '==' ? { ...f, revenueCurrency: currency } : f)), currency }
}

/**
 * SQL over an `events` row: it carries revenue that a question's revenue goals count (it completes
 * one of them, in the currency asked); null when the question asks no revenue.
 */
export function revenueCondition(filters: Filter[], params: Params): string | null {
  const currency = filters.find((f) => f.revenueCurrency)?.revenueCurrency
  if (!currency) return null
  const goals = revenueGoals(filters).filter((g) => g.currency === currency)
  return `(revenue_currency = ${params.add('String', currency)} AND (${goals.map((g) => goalCondition(g, params)).join(' OR ')}))`
}

/**
 * R1 for the sets revenue and scroll depth stand for, which may be smaller than their row's: the
 * visitors who paid, the visitors who reported a scroll depth. Under k visitors or kn networks
 * their sums are cleared, so the metric reads null, as when there are none (R2).
 */
export function keepMeasures(s: Sums, l: Limits): Sums {
  const revenue = minGroup({ visitors: s.revenue_visitors, networks: s.revenue_networks }, l)
  const scroll = minGroup({ visitors: s.scroll_visitors, networks: s.scroll_networks }, l)
  if (revenue && scroll) return s
  return { ...s, ...(revenue ? {} : { revenue: 0, revenue_events: 0 }), ...(scroll ? {} : { scroll_sum: 0, scroll_views: 0 }) }
}
