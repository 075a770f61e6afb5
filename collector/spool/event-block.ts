import { NativeBlockWriter, type ColumnSpec } from '../../store/native-format.ts'
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

/** A Native block of `events` rows, built as rows are appended. */
export const eventBlock = () => new NativeBlockWriter<EventRow>(EVENT_COLUMNS)
