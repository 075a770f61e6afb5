import type { ClickHouseClient } from '@clickhouse/client'
import { withheldReason, type Cell, type Limits, type Noise } from '../stats/disclosure.ts'
import { rangeDays } from '../stats/query.ts'
import { utcDay } from '../../store/time.ts'
import type { Counts, ImportedCell } from './cells.ts'
import { addCounts, keptDays, keptRows } from './disclosure.ts'
import { PLAUSIBLE_TABLES } from './plausible-csv.ts'
import { COMPLETE_IMPORTS, ImportStore, type ImportInfo } from './store.ts'

/** Who asks about a site's imported statistics: the audience's k and, for shared links, its noise. */
export interface ImportedScope {
  site: string
  timezone: string
  limits: Limits
  noise?: Noise
}

type Span = { from: number; to: number }
export type ImportedMetric = 'visitors' | 'visits' | 'pageviews' | 'events' | 'bounce_rate' | 'visit_duration'
export type Published = { value: number } | { value: null; withheld: string }

const SESSION: ImportedMetric[] = ['visitors', 'visits', 'bounce_rate', 'visit_duration']
/** What each imported property has numbers for (the columns of its file in the export). */
const METRICS_OF: Record<string, ImportedMetric[]> = {
  visitors: ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration'],
  page: ['visitors', 'pageviews'],
  exit_page: ['visitors', 'visits'],
  event: ['visitors', 'events'],
}
export const metricsOf = (property: string) => METRICS_OF[property] ?? SESSION

/** The properties an imported breakdown takes. */
export const IMPORTED_PROPERTIES = Object.values(PLAUSIBLE_TABLES).flatMap((t) => Object.keys(t.properties))

/** The cells of one property over the days, from complete imports only. */
async function cells(client: ClickHouseClient, site: string, property: string, first: string, last: string): Promise<ImportedCell[]> {
  const rs = await client.query({
    query: `SELECT toString(day) AS d, value, sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews,
              sum(bounces) AS bounces, sum(visit_duration) AS visit_duration, sum(events) AS events
            FROM imported_daily
            WHERE site = {site:String} AND property = {property:String} AND day BETWEEN {first:Date} AND {last:Date}
              AND import_id IN (${COMPLETE_IMPORTS})
            GROUP BY day, value`,
    query_params: { site, property, first, last },
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  })
  const rows = await rs.json<{ d: string; value: string } & Counts>()
  return rows.map(({ d, value, ...c }) => ({ property, day: d, value, counts: { visitors: +c.visitors, visits: +c.visits, pageviews: +c.pageviews, bounces: +c.bounces, visit_duration: +c.visit_duration, events: +c.events } }))
}

/**
 * The published numbers of a sum of kept cells: withheld when the sum is 0 (alike with a small
 * one, R2); the counts noised for an audience with an ε (N1, a cell per property, value and
 * days); rates and durations from the true sums, as everywhere.
 */
function publish(s: ImportedScope, cell: Cell, sums: Counts, metrics: ImportedMetric[]): Record<string, Published> {
  const out: Record<string, Published> = {}
  const reason = withheldReason(s.limits.k)
  for (const m of metrics) {
    if (sums.visitors === 0) out[m] = { value: null, withheld: reason }
    else if (m === 'bounce_rate') out[m] = sums.visits > 0 ? { value: Math.round((sums.bounces / sums.visits) * 100) } : { value: null, withheld: reason }
    else if (m === 'visit_duration') out[m] = sums.visits > 0 ? { value: Math.round(sums.visit_duration / sums.visits) } : { value: null, withheld: reason }
    else out[m] = { value: s.noise ? s.noise.count(cell, m, sums[m]) : sums[m] }
  }
  return out
}

const cellOf = (property: string, first: string, last: string, value?: string): Cell => ({
  filters: [{ name: 'imported', op: '==', values: [property] }, ...(value === undefined ? [] : [{ name: property, op: '==', values: [value] }])],
  span: `${first}..${last}`,
})

const overlapping = (imports: ImportInfo[], first: string, last: string) => imports.filter((i) => i.state === 'complete' && i.from <= last && first <= i.to)
/** What a reader of statistics may know about an import: its tool and days (not its files). */
const described = (i: ImportInfo) => ({ id: i.id, source: i.source, from: i.from, to: i.to })

export interface ImportedOverview {
  imports: ReturnType<typeof described>[]
  results: Record<string, Published>
  timeseries: ({ date: string } & Record<string, number | null | string>)[]
}

/**
 * The imported totals of the range and their series (day or month buckets), beside the collected
 * ones and never added to them. A bucket outside every import has no data (null, no reason).
 */
export async function importedOverview(client: ClickHouseClient, s: ImportedScope, range: Span, interval: 'day' | 'month'): Promise<ImportedOverview> {
  const { first, last } = rangeDays(range, s.timezone)
  const [imports, totals] = await Promise.all([new ImportStore(client).list(s.site), cells(client, s.site, 'visitors', first, last)])
  const shown = overlapping(imports, first, last)
  const kept = keptDays(totals, s.limits)
  const metrics = metricsOf('visitors')
  const results = publish(s, cellOf('visitors', first, last), addCounts(kept.values()), metrics)
  const timeseries = bucketsOf(first, last, interval).map(([b0, b1]) => {
    const row: ImportedOverview['timeseries'][number] = { date: b0 }
    if (!shown.some((i) => i.from <= b1 && b0 <= i.to)) {
      for (const m of metrics) row[m] = null
      return row
    }
    const sums = addCounts([...kept].filter(([d]) => d >= b0 && d <= b1).map(([, c]) => c))
    const published = publish(s, cellOf('visitors', b0, b1), sums, metrics)
    for (const m of metrics) row[m] = published[m].value
    if (sums.visitors === 0) row.withheld = withheldReason(s.limits.k)
    return row
  })
  return { imports: shown.map(described), results, timeseries }
}

/** The imported rows of a property over the range, largest first: each a sum of kept cells (I2), none of 0. */
export async function importedBreakdown(client: ClickHouseClient, s: ImportedScope, range: Span, property: string, limit: number) {
  const { first, last } = rangeDays(range, s.timezone)
  const [imports, totals, rows] = await Promise.all([new ImportStore(client).list(s.site), cells(client, s.site, 'visitors', first, last), cells(client, s.site, property, first, last)])
  const byValue = new Map<string, Counts[]>()
  for (const c of keptRows(rows, new Map(totals.map((t) => [t.day, t.counts])), s.limits)) byValue.set(c.value, [...(byValue.get(c.value) ?? []), c.counts])
  const sums = [...byValue].map(([value, cs]) => ({ value, sums: addCounts(cs) })).sort((a, b) => b.sums.visitors - a.sums.visitors || (a.value < b.value ? -1 : 1))
  const metrics = metricsOf(property)
  const results = sums.slice(0, limit).map(({ value, sums }) => {
    const published = publish(s, cellOf(property, first, last, value), sums, metrics)
    return { [property]: value === '' ? '(none)' : value, ...Object.fromEntries(metrics.map((m) => [m, published[m].value])) }
  })
  // with noise, the order follows the numbers shown, so it does not tell the true one
  if (s.noise) results.sort((a, b) => Number(b.visitors ?? 0) - Number(a.visitors ?? 0))
  return { imports: overlapping(imports, first, last).map(described), results, ...(results.length ? {} : { withheld: withheldReason(s.limits.k) }) }
}

/** Buckets [first day, last day] of the range: every day, or each calendar month (cut to the range). */
function bucketsOf(first: string, last: string, interval: 'day' | 'month'): [string, string][] {
  const out: [string, string][] = []
  for (let d = first; d <= last; ) {
    const next = interval === 'day' ? addDay(d) : nextMonth(d)
    const end = addDay(next, -1)
    out.push([d, end < last ? end : last])
    d = next
  }
  return out
}
const addDay = (iso: string, n = 1) => utcDay(Date.parse(`${iso}T00:00:00Z`) + n * 86_400_000)
const nextMonth = (iso: string) => {
  const [y, m] = iso.split('-').map(Number)
  return utcDay(Date.UTC(y, m, 1))
}
