import { InputError } from '../../http/errors.ts'
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
}

export const METRICS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events', 'time_on_page', 'conversion_rate'] as const
export type Metric = (typeof METRICS)[number]

export const ZERO: Readonly<Sums> = Object.freeze({ visitors: 0, networks: 0, visits: 0, pageviews: 0, events: 0, bounces: 0, entries: 0, duration_ms: 0, engagement_ms: 0 })

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
  }
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits

/**
 * A metric from sums: rates in percent, durations in seconds. `conversion_rate` needs the
 * visitors without the goal filter beside them (`base`); without them it is null.
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
