import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { METRICS, type Metric } from '../stats/metrics.ts'
import type { Range } from '../stats/period.ts'
import type { Property } from '../stats/properties.ts'
import type { Interval } from '../stats/query.ts'
import { breakdown, timeseries, type Scope } from '../stats/service.ts'
import { OTHER } from '../stats/disclosure.ts'
import { countNoise } from './noise.ts'

/** A column of an exported table, with the ClickHouse type it is written with. */
export interface Column {
  name: string
  type: string
}

/** One exported table, as the stats service answered it: thresholded, folded, not yet noised. */
export interface ExportTable {
  columns: Column[]
  rows: Record<string, string | number | null>[]
  /** The columns that name a row (date, or the property's labels). */
  keyColumns: string[]
  /** Counts that are 0 for every row by the question's shape (visits of a page): never noised. */
  structuralZeros: ReadonlySet<string>
  /** Why the whole table is empty, when the population behind it is below k. */
  withheld?: string
}

/** The daily (weekly, monthly) series of an export without a property. */
export const TIMESERIES_METRICS: Metric[] = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events']

/**
 * The metrics of a breakdown export: all but those only some questions can ask (the conversion
 * rate and revenue need a goal filter, scroll depth the page breakdown), which are a dashboard's.
 */
const EXPORT_METRICS = METRICS.filter((m) => !['conversion_rate', 'total_revenue', 'average_revenue', 'scroll_depth'].includes(m))

/** Counts that one visitor changes by a bounded amount: the ones noise is added to. */
export const NOISED_COUNTS = ['visitors', 'visits', 'pageviews', 'events'] as const

/** Most values in one breakdown, as the stats API's largest `limit`; the rest are left out as there. */
export const EXPORT_ROW_LIMIT = 1000

const TYPES: Record<Metric, string> = {
  visitors: 'UInt64',
  visits: 'UInt64',
  pageviews: 'UInt64',
  events: 'UInt64',
  views_per_visit: 'Float64',
  bounce_rate: 'Float64',
  visit_duration: 'UInt64',
  time_on_page: 'UInt64',
  conversion_rate: 'Nullable(Float64)',
  total_revenue: 'Nullable(Float64)',
  average_revenue: 'Nullable(Float64)',
  scroll_depth: 'Nullable(Float64)',
}

/** The columns that name a breakdown row: regions and cities carry their country (see `present`). */
export function labelColumns(name: string): string[] {
  if (name === 'region') return ['region', 'country']
  if (name === 'city') return ['city', 'region', 'country']
  return [name]
}

export async function timeseriesTable(client: ClickHouseClient, scope: Scope, range: Range, interval: Interval): Promise<ExportTable> {
  const rows = await timeseries(client, scope, range, TIMESERIES_METRICS, interval)
  return {
    columns: [
      { name: 'date', type: 'Date' },
      ...TIMESERIES_METRICS.map((m) => ({ name: m, type: `Nullable(${TYPES[m]})` })),
      { name: 'withheld', type: 'String' },
    ],
    rows: rows.map((r) => ({ ...r, withheld: typeof r.withheld === 'string' ? r.withheld : '' })),
    keyColumns: ['date'],
    structuralZeros: new Set(),
  }
}

export async function breakdownTable(client: ClickHouseClient, scope: Scope, range: Range, name: string, prop: Property & { propKey?: string }): Promise<ExportTable> {
  const b = await breakdown(client, scope, range, name, prop, EXPORT_METRICS, EXPORT_ROW_LIMIT)
  const labels = labelColumns(name)
  const zeros = new Set<string>()
  // By the question's shape (stats/query.ts), not by the data: links and custom props have no
  // visits of their own (pages and event names do: the visits holding them); of the event
  // properties only pages have pageviews, and pages count pageviews, not events.
  if (prop.level === 'event' && !prop.visitArray) zeros.add('visits')
  if (prop.level === 'event' && prop.dim !== 'page') zeros.add('pageviews')
  if (prop.dim === 'page') zeros.add('events')
  return {
    columns: [...labels.map((l) => ({ name: l, type: 'String' })), ...EXPORT_METRICS.map((m) => ({ name: m, type: TYPES[m] }))],
    // `(other)` names only the property itself: its other label columns are empty
    rows: b.results.map((r) => ({ ...Object.fromEntries(labels.map((l) => [l, ''])), ...r })),
    keyColumns: labels,
    structuralZeros: zeros,
    withheld: b.withheld,
  }
}

/** A digest of the true numbers: part of the noise seed, so changed data get fresh noise. */
export function digest(table: ExportTable): string {
  return crypto.createHash('sha256').update(JSON.stringify([table.columns, table.rows])).digest('base64url')
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits

/**
 * The published table: each count of each row plus its own two-sided geometric noise, clamped
 * at 0; views per visit recomputed from the noised counts; rates of a row whose noised visits
 * are 0 shown as 0 (as for any empty row). Withheld rows stay null, structural zeros stay 0.
 * Breakdown rows are sorted again by their noised visitors, so the order does not tell the true one.
 */
export function addNoise(table: ExportTable, seed: Buffer, epsilon: number): ExportTable {
  const has = new Set(table.columns.map((c) => c.name))
  const rows = table.rows.map((row) => {
    if (row.visitors === null || row.visitors === undefined) return row
    const key = JSON.stringify(table.keyColumns.map((c) => row[c]))
    const out = { ...row }
    for (const count of NOISED_COUNTS) {
      if (!has.has(count) || table.structuralZeros.has(count)) continue
      out[count] = Math.max(0, Number(row[count]) + countNoise(seed, key, count, epsilon))
    }
    const visits = Number(out.visits ?? 0)
    if (has.has('views_per_visit')) out.views_per_visit = visits ? round(Number(out.pageviews) / visits, 2) : 0
    if (!visits) for (const m of ['bounce_rate', 'visit_duration'] as const) if (has.has(m)) out[m] = 0
    return out
  })
  if (table.keyColumns[0] !== 'date') {
    const other = (r: Record<string, unknown>) => Number(r[table.keyColumns[0]] === OTHER)
    const key = (r: Record<string, unknown>) => JSON.stringify(table.keyColumns.map((c) => r[c]))
    rows.sort((a, b) => other(a) - other(b) || Number(b.visitors) - Number(a.visitors) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  }
  return { ...table, rows }
}
