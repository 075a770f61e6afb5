import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { Credentials } from './api.ts'
import { parseFilters, serializeFilters, type Filter } from './filters.ts'
import type { Metric } from './format.ts'
import { DEFAULT_RANGE, isIsoDate, periodParams, RANGES, type Range, type RangeKey } from './range.ts'
import { buildQuery } from './router.ts'

/** Whose dashboard this is and how it may be used: the signed-in admin's, or a shared link's. */
export interface View {
  cred: Credentials
  site: string
  timezone: string
  /** `/sites/example.com` or `/share` (the token in the fragment): every link of the view starts here. */
  base: string
  readOnly: boolean
  embed: boolean
}

export const ViewContext = createContext<View | null>(null)
export const useView = (): View => useContext(ViewContext)!

/** What the URL's query string says the dashboard shows. */
export interface DashState {
  range: Range
  filters: Filter[]
  metric: Metric
  interval?: string
  /** the custom property the Properties tab breaks down by */
  prop?: string
  /** saved goal ids making the funnel */
  funnel?: string
  /** a saved funnel's id (shown instead of a funnel of goals) */
  savedFunnel?: string
  /** what the cards' change and the chart's dashed line compare with */
  comparison: Comparison
  /** custom comparison only: inclusive ISO dates */
  compareFrom?: string
  compareTo?: string
  /** the page the Flow tab shows when no `page==` filter names one */
  flow?: string
}

/** The stats API's comparisons, and `off` (no change, no dashed line). */
export type Comparison = 'off' | 'previous_period' | 'year_over_year' | 'custom'
const COMPARISONS: Comparison[] = ['off', 'previous_period', 'year_over_year', 'custom']
const DEFAULT_COMPARISON: Comparison = 'previous_period'

const CHART_METRICS: Metric[] = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'conversion_rate']

export function readState(params: URLSearchParams): DashState {
  const key = params.get('range') as RangeKey | null
  const range: Range = key && RANGES.some((r) => r.key === key) ? { key } : DEFAULT_RANGE
  if (range.key === 'custom') {
    const from = params.get('from')
    const to = params.get('to')
    if (isIsoDate(from) && isIsoDate(to)) Object.assign(range, { from, to })
  }
  const metric = params.get('metric') as Metric | null
  const comparison = params.get('comparison') as Comparison | null
  const compareFrom = params.get('compare_from')
  const compareTo = params.get('compare_to')
  // a custom comparison without its two dates falls back to the default
  const custom = comparison === 'custom' && isIsoDate(compareFrom) && isIsoDate(compareTo) ? { compareFrom, compareTo } : null
  return {
    range,
    filters: parseFilters(params.get('filters')),
    metric: metric && CHART_METRICS.includes(metric) ? metric : 'visitors',
    interval: params.get('interval') ?? undefined,
    prop: params.get('prop') ?? undefined,
    funnel: params.get('funnel') ?? undefined,
    savedFunnel: params.get('saved_funnel') ?? undefined,
    comparison: comparison && COMPARISONS.includes(comparison) && (comparison !== 'custom' || custom) ? comparison : DEFAULT_COMPARISON,
    ...custom,
    flow: params.get('flow') ?? undefined,
  }
}

/** The URL of the view with some of its state changed. */
export function viewHref(view: View, state: DashState, change: Partial<DashState> = {}, path = ''): string {
  const s = { ...state, ...change }
  const rangeChanged = change.range && change.range.key !== state.range.key
  return view.base + path + buildQuery({
    range: s.range.key === DEFAULT_RANGE.key ? undefined : s.range.key,
    from: s.range.key === 'custom' ? s.range.from : undefined,
    to: s.range.key === 'custom' ? s.range.to : undefined,
    filters: serializeFilters(s.filters),
    metric: s.metric === 'visitors' ? undefined : s.metric,
    // a new range gets its own default interval
    interval: rangeChanged ? undefined : s.interval,
    prop: s.prop,
    funnel: s.funnel,
    saved_funnel: s.savedFunnel,
    comparison: s.comparison === DEFAULT_COMPARISON ? undefined : s.comparison,
    compare_from: s.comparison === 'custom' ? s.compareFrom : undefined,
    compare_to: s.comparison === 'custom' ? s.compareTo : undefined,
    flow: s.flow,
    embed: view.embed ? '1' : undefined,
  })
}

/** The stats API's common parameters for this view. */
export function apiParams(view: View, state: DashState): Record<string, string> {
  const filters = serializeFilters(state.filters)
  return { site: view.site, ...periodParams(state.range, view.timezone), ...(filters ? { filters } : {}) }
}

/** The stats API's comparison parameters (aggregate and timeseries); none when comparing is off. */
export function comparisonParams(state: DashState): Record<string, string> {
  if (state.comparison === 'off') return {}
  if (state.comparison !== 'custom' || !state.compareFrom || !state.compareTo) return { comparison: state.comparison }
  const [from, to] = [state.compareFrom, state.compareTo].sort()
  return { comparison: 'custom', compare_from: from, compare_to: to }
}

/** The view's goal filter (`goal==Signup`): with one, every number is about converting visitors. */
export const goalFilter = (state: DashState): Filter | undefined => state.filters.find((f) => f.property === 'goal' && f.op === '==')
