import { InputError } from '../../http/errors.ts'
import { AMOUNT_SCALE } from '../../money/currency.ts'
/** What every query path answers per group: sums that add up across days and rows. */
export interface Sums {
  visitors: number
  /** Distinct networks (hashed /24 or /48) behind the visitors: k counts people, not browsers. */
  networks: number
  visits: number
  pageviews: number
  events: number
  bounces: number
  /** The visits a bounce rate is out of: all of them, or for a page those that entered on it. */
  entries: number
  duration_ms: number
  engagement_ms: number
  /**
   * Revenue (only with a goal filter on revenue goals: measures.ts): its sum in ten-thousandths
   * of the goals' currency, the events that carried it, and the distinct visitors and networks
   * who paid it, whom k counts for it.
   */
  revenue: number
  revenue_events: number
  revenue_visitors: number
  revenue_networks: number
  /**
   * Scroll depth (page rows): the deepest scroll (percent) of each page view — a page within a
   * visit — added up, the page views that reported one, and the visitors and networks behind them.
   */
  scroll_sum: number
  scroll_views: number
  scroll_visitors: number
  scroll_networks: number
}

export const METRICS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events', 'time_on_page', 'conversion_rate', 'total_revenue', 'average_revenue', 'scroll_depth'] as const
export type Metric = (typeof METRICS)[number]

export const ZERO: Readonly<Sums> = Object.freeze({
  visitors: 0, networks: 0, visits: 0, pageviews: 0, events: 0, bounces: 0, entries: 0, duration_ms: 0, engagement_ms: 0,
  revenue: 0, revenue_events: 0, revenue_visitors: 0, revenue_networks: 0, scroll_sum: 0, scroll_views: 0, scroll_visitors: 0, scroll_networks: 0,
})

export function addSums(a: Sums, b: Sums): Sums {
  return {
    visitors: a.visitors + b.visitors,
    networks: a.networks + b.networks,
    visits: a.visits + b.visits,
    pageviews: a.pageviews + b.pageviews,
    events: a.events + b.events,
    bounces: a.bounces + b.bounces,
    entries: a.entries + b.entries,
    duration_ms: a.duration_ms + b.duration_ms,
    engagement_ms: a.engagement_ms + b.engagement_ms,
    revenue: a.revenue + b.revenue,
    revenue_events: a.revenue_events + b.revenue_events,
    revenue_visitors: a.revenue_visitors + b.revenue_visitors,
    revenue_networks: a.revenue_networks + b.revenue_networks,
    scroll_sum: a.scroll_sum + b.scroll_sum,
    scroll_views: a.scroll_views + b.scroll_views,
    scroll_visitors: a.scroll_visitors + b.scroll_visitors,
    scroll_networks: a.scroll_networks + b.scroll_networks,
  }
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits

/**
 * A metric from sums: rates in percent, durations in seconds. `conversion_rate` needs the
 * visitors without the goal filter beside them (`base`); without them it is null. Revenue is in
 * the goals' currency with two decimals, `average_revenue` per revenue event (as Plausible's per
 * conversion); `scroll_depth` is the page views' average deepest scroll, in percent.
 */
export function metricValue(s: Sums, m: Metric, base?: Sums | null): number | null {
  switch (m) {
    case 'visitors':
      return s.visitors
    case 'visits':
      return s.visits
    case 'pageviews':
      return s.pageviews
    case 'events':
      return s.events
    case 'views_per_visit':
      return s.visits ? round(s.pageviews / s.visits, 2) : 0
    case 'bounce_rate':
      return s.entries ? round((s.bounces / s.entries) * 100) : 0
    case 'visit_duration':
      return s.visits ? round(s.duration_ms / s.visits / 1000) : 0
    case 'time_on_page':
      return s.pageviews ? round(s.engagement_ms / s.pageviews / 1000) : 0
    case 'conversion_rate':
      return base ? (base.visitors ? round((s.visitors / base.visitors) * 100, 1) : 0) : null
    // none reported, or fewer than k behind them (cleared by measures.ts): null, alike
    case 'total_revenue':
      return s.revenue_events ? round(s.revenue / AMOUNT_SCALE, 2) : null
    case 'average_revenue':
      return s.revenue_events ? round(s.revenue / s.revenue_events / AMOUNT_SCALE, 2) : null
    case 'scroll_depth':
      return s.scroll_views ? round(s.scroll_sum / s.scroll_views) : null
  }
}

export class MetricError extends InputError {}

export function parseMetrics(raw: string | undefined, fallback: readonly Metric[]): Metric[] {
  if (!raw) return [...fallback]
  const list = raw.split(',').map((m) => m.trim()).filter(Boolean)
  const unknown = list.filter((m) => !(METRICS as readonly string[]).includes(m))
  if (unknown.length || list.length === 0) throw new MetricError(`metrics must be a comma-separated list of ${METRICS.join(', ')}`)
  return [...new Set(list)] as Metric[]
}
