import type { ClickHouseClient } from '@clickhouse/client'
import { GoalStore } from '../goal-store.ts'
import { OTHER, withheldReason } from '../stats/disclosure.ts'
import { goalConversions } from '../stats/goal-conversions.ts'
import { askMeasures } from '../stats/measures.ts'
import type { Metric } from '../stats/metrics.ts'
import type { Range } from '../stats/period.ts'
import { property } from '../stats/properties.ts'
import { aggregate, breakdown, NONE, timeseries, type Scope } from '../stats/service.ts'
import { percent } from '../stats/visit-events.ts'
import { PlausibleError, quoted } from './names.ts'
import {
  DIRECT, echoRange, GOAL_METRICS, NOT_SET, parseDimension, parseMetrics, timeInterval, type Dimension, type V2Metric, type V2Request,
} from './v2-request.ts'

/**
 * The answer to a Plausible v2 query, built on the statistics service (aggregate, timeseries,
 * breakdown, goal conversions), so every number passes the same k rules and noise as our own
 * routes: `results: [{dimensions, metrics}]`, `meta`, and the `query` as it was run. A withheld
 * number stays null; `meta.withheld` then gives the reason. Rows folded because they stand for
 * too few visitors are one `(other)` row, last whatever the order.
 */

/** Plausible's revenue value: the amount, its currency, and both written out. */
interface Revenue {
  value: number
  currency: string
  short: string
  long: string
}

type Value = number | null
interface Row {
  /** The dimension's value; none without a dimension. */
  dimension?: string
  values: Partial<Record<V2Metric, Value>>
}

export interface V2Answer {
  results: { dimensions: string[]; metrics: (Value | Revenue)[] }[]
  meta: Record<string, unknown>
  query: Record<string, unknown>
}

const REVENUE: readonly V2Metric[] = ['total_revenue', 'average_revenue']
const MAX_BUCKETS = 5000
const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000 }

/** The metrics of ours a dimension's Plausible metrics are computed from; a 400 for a metric the dimension does not take. */
function ourMetrics(metrics: V2Metric[], d: Dimension): Metric[] {
  if (d.kind === 'goal') {
    const other = metrics.find((m) => !GOAL_METRICS.includes(m))
    if (other) throw new PlausibleError(`with the event:goal dimension the metrics are ${GOAL_METRICS.join(', ')}; not ${other}`)
    return []
  }
  if (metrics.includes('percentage') && d.kind !== 'property') throw new PlausibleError('percentage needs a property dimension (such as visit:source)')
  if (metrics.includes('group_conversion_rate') && d.kind === 'none') throw new PlausibleError('group_conversion_rate needs a dimension; without one, ask conversion_rate')
  const ours = metrics.map((m): Metric => {
    if (m === 'group_conversion_rate') return 'conversion_rate'
    // computed here from a row's visitors: its share of all visitors, or of all visitors without the goal filter
    if (m === 'percentage' || (m === 'conversion_rate' && d.kind === 'property')) return 'visitors'
    return m as Metric
  })
  return [...new Set(ours)]
}

/** The order asked, or Plausible's default: by time first, then by the first metric, largest first. */
function orderOf(body: V2Request, metrics: V2Metric[], d: Dimension): [string, 'asc' | 'desc'][] {
  const named = new Set<string>([...metrics, ...(body.dimensions ?? [])])
  for (const [key] of body.order_by ?? []) {
    if (!named.has(key)) throw new PlausibleError(`order_by ${quoted(key)} is not among the query's metrics or dimensions`)
  }
  if (body.order_by?.length) return body.order_by
  return d.kind === 'time' ? [[d.name, 'asc'], [metrics[0], 'desc']] : [[metrics[0], 'desc']]
}

/** A property's value as Plausible shows it: an empty one is "(not set)" ("Direct / None" for a source). */
const shownValue = (ours: string, value: unknown) => (value === NONE ? (ours === 'source' ? DIRECT : NOT_SET) : String(value))

async function totalsRow(client: ClickHouseClient, s: Scope, range: Range, metrics: V2Metric[], ours: Metric[]): Promise<{ rows: Row[]; withheld: boolean }> {
  const totals = await aggregate(client, s, range, ours)
  const values = Object.fromEntries(metrics.map((m) => [m, totals[m]?.value ?? null]))
  return { rows: [{ values }], withheld: Object.values(totals).some((v) => 'withheld' in v) }
}

async function timeRows(client: ClickHouseClient, s: Scope, range: Range, metrics: V2Metric[], ours: Metric[], interval: keyof typeof BUCKET_MS, now: number) {
  if ((range.to - range.from) / BUCKET_MS[interval] > MAX_BUCKETS) throw new PlausibleError(`time:${interval} is too fine for this date_range (more than ${MAX_BUCKETS} buckets)`)
  const series = await timeseries(client, s, range, ours, interval, now)
  const rows: Row[] = series
    // a bucket that has not begun is no data: Plausible lists none, and neither is anything withheld there
    .filter((b) => b.withheld !== undefined || ours.some((m) => b[m] !== null))
    .map((b) => ({ dimension: b.date, values: Object.fromEntries(metrics.map((m) => [m, b[m === 'group_conversion_rate' ? 'conversion_rate' : m] as Value])) }))
  return { rows, labels: series.map((b) => b.date), withheld: series.some((b) => b.withheld !== undefined) }
}

async function propertyRows(client: ClickHouseClient, s: Scope, range: Range, metrics: V2Metric[], ours: Metric[], d: Dimension & { kind: 'property' }) {
  const prop = property(d.ours)!
  const needsBase = metrics.includes('conversion_rate')
  if (needsBase && !s.filters.some((f) => f.name === 'goal' && f.op === '==')) throw new PlausibleError('conversion_rate needs an event:goal filter (or the event:goal dimension)')
  const [b, total, base] = await Promise.all([
    breakdown(client, s, range, d.ours, prop, ours, 1000),
    metrics.includes('percentage') ? aggregate(client, s, range, ['visitors']) : null,
    needsBase ? aggregate(client, { ...s, filters: s.filters.filter((f) => f.name !== 'goal') }, range, ['visitors']) : null,
  ])
  const share = (part: unknown, whole: Value | undefined) => (typeof part === 'number' && typeof whole === 'number' ? percent(part, whole) : null)
  const rows: Row[] = b.results.map((r) => ({
    dimension: r[d.ours] === OTHER ? OTHER : shownValue(d.ours, r[d.ours]),
    values: Object.fromEntries(metrics.map((m) => {
      if (m === 'percentage') return [m, share(r.visitors, total?.visitors.value)]
      if (m === 'conversion_rate') return [m, share(r.visitors, base?.visitors.value)]
      return [m, r[m === 'group_conversion_rate' ? 'conversion_rate' : m] as Value]
    })),
  }))
  return { rows, withheld: b.withheld !== undefined }
}

async function goalRows(client: ClickHouseClient, s: Scope, range: Range, metrics: V2Metric[]) {
  const goals = await new GoalStore(client).list(s.site)
  const c = await goalConversions(client, s, range, goals)
  const rows: Row[] = c.results.map((g) => ({
    dimension: g.goal,
    values: Object.fromEntries(metrics.map((m) => [m, m === 'group_conversion_rate' ? g.conversion_rate : g[m as 'visitors' | 'events' | 'conversion_rate']])),
  }))
  return { rows, withheld: c.withheld !== undefined || c.results.some((g) => 'withheld' in g) }
}

/** Rows in the order asked: values compared as numbers or text, nulls last either way, "(other)" last of all. */
function sortRows(rows: Row[], order: [string, 'asc' | 'desc'][], d: Dimension): Row[] {
  const dimensionName = d.kind === 'none' ? '' : d.name
  const key = (r: Row, k: string): Value | string | undefined => (k === dimensionName ? r.dimension : r.values[k as V2Metric])
  return [...rows].sort((a, b) => {
    if ((a.dimension === OTHER) !== (b.dimension === OTHER)) return a.dimension === OTHER ? 1 : -1
    for (const [k, dir] of order) {
      const x = key(a, k)
      const y = key(b, k)
      if (x === y) continue
      if (x === null || x === undefined) return 1
      if (y === null || y === undefined) return -1
      const c = x < y ? -1 : 1
      return dir === 'asc' ? c : -c
    }
    return 0
  })
}

function revenue(value: number, currency: string): Revenue {
  const format = (options: Intl.NumberFormatOptions) => new Intl.NumberFormat('en-US', { style: 'currency', currency, ...options }).format(value)
  return { value, currency, short: format({ notation: 'compact', maximumFractionDigits: 1 }), long: format({}) }
}

/** Answers a Plausible v2 query for one site and range, its filters already in the scope. */
export async function answerV2(client: ClickHouseClient, s: Scope, body: V2Request, range: Range, now = Date.now()): Promise<V2Answer> {
  const metrics = parseMetrics(body.metrics)
  const d = parseDimension(body.dimensions)
  const ours = ourMetrics(metrics, d)
  const order = orderOf(body, metrics, d)
  if (body.include?.time_labels && d.kind !== 'time') throw new PlausibleError('include.time_labels needs a time dimension')
  const { filters, currency } = askMeasures(s.filters, ours, d.kind === 'property' ? d.ours : undefined)
  const scope = { ...s, filters }
  const meta: Record<string, unknown> = {}
  let answer: { rows: Row[]; withheld: boolean }
  if (d.kind === 'none') answer = await totalsRow(client, scope, range, metrics, ours)
  else if (d.kind === 'goal') answer = await goalRows(client, scope, range, metrics)
  else if (d.kind === 'property') answer = await propertyRows(client, scope, range, metrics, ours, d)
  else {
    const series = await timeRows(client, scope, range, metrics, ours, timeInterval(d, body.date_range, range), now)
    if (body.include?.time_labels) meta.time_labels = series.labels
    answer = series
  }
  const sorted = sortRows(answer.rows, order, d)
  const pagination = { limit: body.pagination?.limit ?? 10000, offset: body.pagination?.offset ?? 0 }
  const page = sorted.slice(pagination.offset, pagination.offset + pagination.limit)
  if (body.include?.total_rows) meta.total_rows = sorted.length
  // imported statistics are shown beside collected ones, never mixed into these numbers
  if (body.include?.imports) meta.imports_included = false
  if (answer.withheld) meta.withheld = withheldReason(s.limits.k)
  const present = (m: V2Metric, v: Value | undefined): Value | Revenue => (v === undefined ? null : REVENUE.includes(m) && v !== null && currency ? revenue(v, currency) : v)
  return {
    results: page.map((r) => ({ dimensions: d.kind === 'none' ? [] : [r.dimension ?? ''], metrics: metrics.map((m) => present(m, r.values[m])) })),
    meta,
    query: {
      site_id: s.site,
      metrics,
      date_range: echoRange(range, s.timezone),
      filters: body.filters ?? [],
      dimensions: body.dimensions ?? [],
      order_by: order,
      include: body.include ?? {},
      pagination,
    },
  }
}
