import type { ClickHouseClient } from '@clickhouse/client'
import { buckets } from './buckets.ts'
import {
  adjacentDayAllows, apart, cellOf, minGroup, Noise, OTHER, otherAllowed, splitRows, withheldReason, type Cell, type Limits, type Row,
} from './disclosure.ts'
import type { Filter } from './filters.ts'
import { addSums, metricValue, ZERO, type Metric, type Sums } from './metrics.ts'
import { adjacentDays, midnight, type Range } from './period.ts'
import { present, type Property } from './properties.ts'
import { currentDays, querySums, rangeDays, rollupAnswers, utcDays, type Interval, type StatsQuestion } from './query.ts'

export interface Scope {
  site: string
  timezone: string
  filters: Filter[]
  /** The minimum group of whoever asks (dashboard, shared link or export), from the policy. */
  limits: Limits
  /** Consistent noise on every published count, when the policy gives this audience an ε. */
  noise?: Noise
}

export const NONE = '(none)'

export type MetricValue = { value: number; change: number | null } | { value: null; change: null; withheld: string }

type Span = { from: number; to: number }

/** The question a scope asks of a range: for the statistics that look inside visits. */
export const questionOf = (s: Scope, range: Span): StatsQuestion => ({ site: s.site, timezone: s.timezone, range, filters: s.filters })

/** The sums of the whole range (or `filters` instead of the scope's): every number's total. */
export async function totals(client: ClickHouseClient, s: Scope, range: Span, filters = s.filters): Promise<Sums> {
  const rows = await querySums(client, { site: s.site, timezone: s.timezone, range, filters })
  return rows.reduce((acc, r) => addSums(acc, r), { ...ZERO })
}

/**
 * The neighbours of a question that a caller gets by changing one thing, checked against its
 * total visitors: R3 `remove-filter` (each filter sets apart at least k visitors) and R6
 * `add-day` (the day before and after hold none or at least k). False withholds the answer.
 */
export async function neighboursAllow(client: ClickHouseClient, s: Scope, range: Span, visitors: number, now = Date.now()): Promise<boolean> {
  const checks = s.filters.map((_, i) =>
    totals(client, s, range, s.filters.filter((__, j) => j !== i)).then((without) => apart(without.visitors, visitors, s.limits)),
  )
  for (const day of adjacentDays(range, s.timezone, now)) checks.push(totals(client, s, day).then((t) => adjacentDayAllows(t.visitors, s.limits)))
  return (await Promise.all(checks)).every(Boolean)
}

/** R1 on the total, then its neighbours: whether anything of the question may be published. */
export async function publishable(client: ClickHouseClient, s: Scope, range: Span, total: Sums): Promise<boolean> {
  return minGroup(total, s.limits) && (await neighboursAllow(client, s, range, total.visitors))
}

export const spanOf = (r: Span) => `${r.from}..${r.to}`
/** The published sums of a cell: with the audience's noise, if any. */
export const shown = (s: Scope, cell: Cell, sums: Sums) => (s.noise ? s.noise.sums(cell, sums) : sums)

/** Totals for the range with the change against the previous range of the same length. */
export async function aggregate(client: ClickHouseClient, s: Scope, range: Range, metrics: Metric[]): Promise<Record<string, MetricValue>> {
  const [now, before] = await Promise.all([totals(client, s, range), totals(client, s, range.previous)])
  const out: Record<string, MetricValue> = {}
  if (!(await publishable(client, s, range, now))) {
    for (const m of metrics) out[m] = { value: null, change: null, withheld: withheldReason(s.limits.k) }
    return out
  }
  const value = shown(s, cellOf(s.filters, spanOf(range)), now)
  // R8 `change`: the previous period is published through the change, so it passes R1 too
  const prev = minGroup(before, s.limits) ? shown(s, cellOf(s.filters, spanOf(range.previous)), before) : null
  for (const m of metrics) {
    const v = metricValue(value, m)
    const p = prev ? metricValue(prev, m) : 0
    out[m] = { value: v, change: p === 0 ? null : Math.round(((v - p) / p) * 1000) / 10 }
  }
  return out
}

export type TimeseriesRow = { date: string } & Record<string, number | null | string>

/** R5 compares a bucket with its parent: a minute with its hour, an hour with its day. */
const PARENT: Partial<Record<Interval, Interval>> = { minute: 'hour', hour: 'day' }
const parentLabel = (interval: Interval, label: string) => (interval === 'minute' ? `${label.slice(0, 13)}:00:00` : label.slice(0, 10))

/** A bucket's time span for its noise: days, weeks and months as the instants they cover within the range. */
function bucketSpans(labels: string[], interval: Interval, range: Span, tz: string): string[] {
  if (interval === 'minute' || interval === 'hour') return labels.map((l) => `${l}@${tz}`)
  const starts = labels.map((l) => {
    const [y, m, d] = l.split('-').map(Number)
    return Math.max(range.from, midnight(y, m, d, tz))
  })
  return starts.map((from, i) => spanOf({ from, to: starts[i + 1] ?? range.to }))
}

/**
 * One row per bucket. A bucket is shown when the whole answer may be, it passes R1, and R5
 * `bucket` holds; otherwise it looks like an empty bucket: every metric null, `withheld`.
 */
export async function timeseries(client: ClickHouseClient, s: Scope, range: Range, metrics: Metric[], interval: Interval): Promise<TimeseriesRow[]> {
  const q = { site: s.site, timezone: s.timezone, range, filters: s.filters }
  const parent = PARENT[interval]
  const [rows, total, parents] = await Promise.all([
    querySums(client, { ...q, interval }),
    totals(client, s, range),
    parent ? querySums(client, { ...q, interval: parent }) : Promise.resolve([]),
  ])
  const ok = await publishable(client, s, range, total)
  const byBucket = new Map(rows.map((r) => [r.bucket, r]))
  const byParent = new Map(parents.map((r) => [r.bucket, r]))
  const labels = buckets(range, interval, s.timezone)
  const spans = bucketSpans(labels, interval, range, s.timezone)
  return labels.map((date, i) => {
    const sums = byBucket.get(date) ?? ZERO
    const row: TimeseriesRow = { date }
    const inParent = parent ? (byParent.get(parentLabel(interval, date)) ?? ZERO).visitors : null
    const visible = ok && minGroup(sums, s.limits) && apart(total.visitors, sums.visitors, s.limits, labels.length === 1) && (inParent === null || apart(inParent, sums.visitors, s.limits))
    if (!visible) {
      for (const m of metrics) row[m] = null
      row.withheld = withheldReason(s.limits.k)
    } else {
      const value = shown(s, cellOf(s.filters, spans[i]), sums)
      for (const m of metrics) row[m] = metricValue(value, m)
    }
    return row
  })
}

export interface Breakdown {
  results: Record<string, string | number>[]
  withheld?: string
}

/** How many times "(other)" may be counted again before every row is folded into it. */
const OTHER_TRIES = 3

/**
 * "(other)": the rows folded, with the numbers that can overlap between rows (visitors and
 * networks; for pages and event names, which a visit can hold several of, its visits) counted
 * again over their union (R0), as the question filtered on the folded values.
 */
async function otherSums(client: ClickHouseClient, s: Scope, range: Span, name: string, prop: Property & { propKey?: string }, folded: Row[]): Promise<Sums> {
  const added = folded.reduce((acc, r) => addSums(acc, r.sums), { ...ZERO })
  // compare the value as the rows show it (a region with its country)
  const asShown = prop.level === 'visit' ? { ...prop, filterExpr: undefined } : prop
  const union: Filter = { name, prop: asShown, op: '==', values: folded.map((r) => r.key) }
  const distinct = await totals(client, s, range, [...s.filters.filter((f) => f.name !== name), union])
  const out: Sums = { ...added, visitors: distinct.visitors, networks: distinct.networks }
  if (prop.level === 'event' && prop.visitArray) {
    out.visits = distinct.visits
    out.duration_ms = distinct.duration_ms
    // a visit enters on one page, but holds several event names
    if (prop.visitArray === 'event_names') out.entries = distinct.visits
  }
  return out
}

/**
 * Values of a property with their metrics, largest first. R1 and R4 decide which rows are shown;
 * the others are folded into "(other)", counted over their union; if "(other)" may not be shown,
 * the smallest rows join it. Nothing shown: no rows and `withheld`, as for an empty range.
 */
export async function breakdown(
  client: ClickHouseClient,
  s: Scope,
  range: Range,
  name: string,
  prop: Property & { propKey?: string },
  metrics: Metric[],
  limit: number,
): Promise<Breakdown> {
  const nothing = { results: [], withheld: withheldReason(s.limits.k) }
  const [rows, total] = await Promise.all([
    querySums(client, { site: s.site, timezone: s.timezone, range, filters: s.filters, property: prop }),
    totals(client, s, range),
  ])
  if (!(await publishable(client, s, range, total))) return nothing
  let { shown: visible, folded } = splitRows(rows.map((r) => ({ key: r.key, sums: r })), total.visitors, s.limits)
  let other: Sums | null = null
  for (let tries = 0; folded.length > 0; tries++) {
    if (tries === OTHER_TRIES) {
      folded = [...folded, ...visible]
      visible = []
    }
    other = await otherSums(client, s, range, name, prop, folded)
    if (otherAllowed(other, total.visitors, s.limits)) break
    other = null
    if (visible.length === 0) return nothing
    folded = [...folded, visible.pop()!]
  }
  if (visible.length === 0 && !other) return nothing
  const span = spanOf(range)
  const cells = [
    ...visible.slice(0, limit).map((r) => ({ label: present(name, r.key === '' ? NONE : r.key), sums: r.sums, row: { name, op: '==', values: [r.key] } })),
    ...(other ? [{ label: { [name]: OTHER }, sums: other, row: { name, op: '!=', values: visible.map((r) => r.key) } }] : []),
  ]
  const results = cells.map((c) => {
    const value = shown(s, cellOf(s.filters, span, c.row), c.sums)
    const out: Record<string, string | number> = { ...c.label }
    for (const m of metrics) out[m] = metricValue(value, m)
    return out
  })
  // with noise, the order follows the numbers shown, so it does not tell the true one
  if (s.noise) results.sort((a, b) => Number(a[name] === OTHER) - Number(b[name] === OTHER) || Number(b.visitors ?? 0) - Number(a.visitors ?? 0))
  return { results }
}

/**
 * The custom-prop keys used in the range by at least k visitors from kn networks (R1), most
 * used first: a key only a handful of visitors sent is not listed (its name alone could single
 * them out). `url` is the link of outbound and download clicks, shown by those properties, not
 * listed. Like every statistic, from the rollup for the days it holds and from events for the others.
 */
export async function propertyKeys(client: ClickHouseClient, s: Scope, range: { from: number; to: number }): Promise<string[]> {
  const days = rangeDays(range, s.timezone)
  const whole = rollupAnswers({ site: s.site, timezone: s.timezone, range, filters: [] })
  const current = whole ? await currentDays(client, days.utcFirst, days.utcLast) : new Set<string>()
  const live = utcDays(days.utcFirst, days.utcLast).filter((d) => !current.has(d))
  const rs = await client.query({
    query: `SELECT key, sum(v) AS v, sum(nets) AS nets FROM (
              SELECT substring(dim, 6) AS key, sum(visitors) AS v, sum(networks) AS nets FROM rollup_daily
              WHERE site = {site:String} AND startsWith(dim, 'prop:') AND build_day IN {built:Array(Date)} AND day BETWEEN {d0:Date} AND {d1:Date}
              GROUP BY key
              UNION ALL
              SELECT key, sum(n) AS v, sum(m) AS nets FROM (
                SELECT k AS key, uniqExactIf(visitor_id, visitor_id != 0) AS n,
                  uniqExactIf(if(network_id = 0, visitor_id, network_id), visitor_id != 0) AS m
                FROM events ARRAY JOIN mapKeys(props) AS k
                WHERE site = {site:String} AND toDate(ts) IN {live:Array(Date)} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})
                  AND name NOT IN ('pageview', 'engagement')
                GROUP BY key, toDate(ts), toDate(ts, {tz:String})
              ) GROUP BY key
            )
            WHERE key != 'url'
            GROUP BY key HAVING v >= {k:UInt64} AND nets >= {kn:UInt64} ORDER BY v DESC, key LIMIT 100`,
    query_params: { site: s.site, built: [...current], live, d0: days.first, d1: days.last, from: range.from, to: range.to, tz: s.timezone, k: s.limits.k, kn: s.limits.kn },
    format: 'JSONEachRow',
  })
  return (await rs.json<{ key: string }>()).map((r) => r.key)
}

