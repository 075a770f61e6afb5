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
  /** `/sites/example.com` or `/share/<token>`: every link of the view starts here. */
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
  /** draw the previous period in the chart too */
  compare?: boolean
}

const CHART_METRICS: Metric[] = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration']

export function readState(params: URLSearchParams): DashState {
  const key = params.get('range') as RangeKey | null
  const range: Range = key && RANGES.some((r) => r.key === key) ? { key } : DEFAULT_RANGE
  if (range.key === 'custom') {
    const from = params.get('from')
    const to = params.get('to')
    if (isIsoDate(from) && isIsoDate(to)) Object.assign(range, { from, to })
  }
  const metric = params.get('metric') as Metric | null
  return {
    range,
    filters: parseFilters(params.get('filters')),
    metric: metric && CHART_METRICS.includes(metric) ? metric : 'visitors',
    interval: params.get('interval') ?? undefined,
    prop: params.get('prop') ?? undefined,
    funnel: params.get('funnel') ?? undefined,
    compare: params.get('compare') === '1',
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
    compare: s.compare ? '1' : undefined,
    embed: view.embed ? '1' : undefined,
  })
}

/** The stats API's common parameters for this view. */
export function apiParams(view: View, state: DashState): Record<string, string> {
  const filters = serializeFilters(state.filters)
  return { site: view.site, ...periodParams(state.range, view.timezone), ...(filters ? { filters } : {}) }
}
