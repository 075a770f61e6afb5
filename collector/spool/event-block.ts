import { NativeBlockWriter, type ColumnSpec, type NativeBlock } from '../../store/native-format.ts'
import type { EventRow } from '../pipeline/types.ts'

const text: ColumnSpec = { type: 'String' }
/** The table's LowCardinality(String) columns: few distinct values, sent as the table keeps them. */
const dimension: ColumnSpec = { type: 'LowCardinality(String)' }
const id: ColumnSpec = { type: 'UInt64' }

/**
 * The `events` columns as the spool writer sends them (store/migrations): every field of an
 * EventRow, each with its Native type, the table's own. A row that lacks a column gets the
 * table's default.
 */
export const EVENT_COLUMNS: { readonly [K in keyof EventRow]: ColumnSpec } = {
  site: dimension,
  ts: { type: "DateTime64(3, 'UTC')" },
  name: dimension,
  visitor_id: id,
  network_id: id,
  visit_id: id,
  visit_flags: { type: 'UInt8' },
  hostname: dimension,
  pathname: dimension,
  query: text,
  referrer_host: dimension,
  referrer_path: text,
  source: dimension,
  channel: dimension,
  utm_source: dimension,
  utm_medium: dimension,
  utm_campaign: dimension,
  utm_content: dimension,
  utm_term: dimension,
  browser: dimension,
  browser_version: dimension,
  os: dimension,
  os_version: dimension,
  device: dimension,
  screen: dimension,
  country: dimension,
  region: dimension,
  city: dimension,
  network: dimension,
  returning: { type: 'UInt8', default: 2 },
  engagement_ms: { type: 'UInt32' },
  props: { type: 'Map(String, String)' },
  revenue_amount: id,
  revenue_currency: dimension,
  scroll_depth: { type: 'UInt8', default: 255 },
}

/**
 * The order of a spool line's values (collector/spool/spool.ts): EVENT_COLUMNS' own. A column
 * is only ever added at the end, so that a line written before it is read with one value fewer.
 */
export const EVENT_FIELDS = Object.keys(EVENT_COLUMNS) as readonly (keyof EventRow)[]

/**
 * A row's values in EVENT_FIELDS order: its spool line, `JSON.stringify` of them, is about 40 %
 * of the bytes of the row as an object (no field names; a pageview 279 against 683) and took
 * 1.20-1.40 µs against 2.19-2.23 (in process, the fastest of 25 passes over 19,000 synthetic
 * rows, December 7, 2026, ad hoc). Written out: a map over EVENT_FIELDS took as long as the
 * object. A field the row lacks is undefined here, null in its line, and left out again when
 * read back (`rowOf`).
 */
export function rowValues(r: EventRow): unknown[] {
  return [
    r.site, r.ts, r.name, r.visitor_id, r.network_id, r.visit_id, r.visit_flags, r.hostname, r.pathname, r.query,
    r.referrer_host, r.referrer_path, r.source, r.channel, r.utm_source, r.utm_medium, r.utm_campaign, r.utm_content,
    r.utm_term, r.browser, r.browser_version, r.os, r.os_version, r.device, r.screen, r.country, r.region, r.city,
    r.network, r.returning, r.engagement_ms, r.props, r.revenue_amount, r.revenue_currency, r.scroll_depth,
  ]
}

/** A spool line's values as the row they came from: the fields it has, by position (null: the row lacked it). */
export function rowOf(values: readonly unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  const n = Math.min(values.length, EVENT_FIELDS.length)
  for (let i = 0; i < n; i++) if (values[i] !== null) row[EVENT_FIELDS[i]] = values[i]
  return row
}

const DAY_MS = 86_400_000

/**
 * A Native block of `events` rows, built as rows are appended, that also counts its rows by UTC
 * day (as `event_counts` does) and those without a visit (as `visitless_counts` does): the
 * embedded store adds them to what the stats last read of the days (store/writes.ts), so a
 * question after a spool insert need not look at the days again.
 */
class EventBlockWriter extends NativeBlockWriter<EventRow> {
  private days = new Map<number, { rows: number; visitless: number }>()
  private lastDay = -1
  private last = { rows: 0, visitless: 0 }

  override append(row: EventRow): void {
    super.append(row)
    const day = Math.floor(row.ts / DAY_MS)
    if (day !== this.lastDay) {
      let counts = this.days.get(day)
      if (!counts) this.days.set(day, (counts = { rows: 0, visitless: 0 }))
      this.lastDay = day
      this.last = counts
    }
    this.last.rows++
    // as the column reads it: no id, '0' or anything not a positive number is no visit (counted as one is never missed)
    if (!(Number(row.visit_id) > 0)) this.last.visitless++
  }

  override finish(): NativeBlock {
    const days = new Map([...this.days].map(([day, counts]) => [new Date(day * DAY_MS).toISOString().slice(0, 10), { ...counts }]))
    return { ...super.finish(), days }
  }
}

export const eventBlock = (): NativeBlockWriter<EventRow> => new EventBlockWriter(EVENT_COLUMNS)
