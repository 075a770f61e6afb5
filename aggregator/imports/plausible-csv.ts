import { parse } from 'csv-parse/sync'
import { ImportError, type ImportedCell, type Counts, type ParsedImport } from './cells.ts'
import { utcDay } from '../../store/time.ts'

/**
 * Plausible's CSV export (Site settings → Imports & exports → Export), read into daily cells.
 * The zip holds one file per table, `imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv` (the days it
 * covers; Plausible also takes the names without `imported_`), each `CSVWithNames` with a `date`
 * column in the site's time zone. Columns are matched by name, as Plausible's own importer does;
 * a column this reader does not use is ignored, so exports of older and newer versions both read.
 */

interface Table {
  /** Our property per column giving its value; none for the day's totals (`visitors`). */
  properties: Record<string, string>
  /** Our count ← the export's column; the first is required (visitors, or events). */
  counts: Partial<Record<keyof Counts, string>>
  /** Counts that every version of the export has: a file without one is malformed. */
  required: (keyof Counts)[]
}

const SESSION_COUNTS = { visitors: 'visitors', visits: 'visits', pageviews: 'pageviews', bounces: 'bounces', visit_duration: 'visit_duration' } as const

/** The tables of the export, with the columns each must have (lib/plausible/imported/csv_importer.ex). */
export const PLAUSIBLE_TABLES: Record<string, Table> = {
  visitors: { properties: {}, counts: SESSION_COUNTS, required: ['visitors', 'visits', 'pageviews', 'bounces', 'visit_duration'] },
  sources: {
    properties: { source: 'source', utm_source: 'utm_source', utm_medium: 'utm_medium', utm_campaign: 'utm_campaign' },
    counts: SESSION_COUNTS,
    required: ['visitors', 'visits', 'bounces', 'visit_duration'],
  },
  pages: { properties: { page: 'page' }, counts: { visitors: 'visitors', visits: 'visits', pageviews: 'pageviews' }, required: ['visitors', 'pageviews'] },
  entry_pages: {
    properties: { entry_page: 'entry_page' },
    counts: { visitors: 'visitors', visits: 'entrances', pageviews: 'pageviews', bounces: 'bounces', visit_duration: 'visit_duration' },
    required: ['visitors', 'visits', 'bounces', 'visit_duration'],
  },
  exit_pages: { properties: { exit_page: 'exit_page' }, counts: { visitors: 'visitors', visits: 'exits', pageviews: 'pageviews' }, required: ['visitors', 'visits'] },
  locations: { properties: { country: 'country' }, counts: SESSION_COUNTS, required: ['visitors', 'visits', 'bounces', 'visit_duration'] },
  devices: { properties: { device: 'device' }, counts: SESSION_COUNTS, required: ['visitors', 'visits', 'bounces', 'visit_duration'] },
  browsers: { properties: { browser: 'browser' }, counts: SESSION_COUNTS, required: ['visitors', 'visits', 'bounces', 'visit_duration'] },
  operating_systems: { properties: { os: 'operating_system' }, counts: SESSION_COUNTS, required: ['visitors', 'visits', 'bounces', 'visit_duration'] },
  custom_events: { properties: { event: 'name' }, counts: { visitors: 'visitors', events: 'events' }, required: ['visitors', 'events'] },
}

const FILE_NAME = new RegExp(`^(?:imported_)?(${Object.keys(PLAUSIBLE_TABLES).join('|')})_(\\d{8})_(\\d{8})\\.csv$`)
/** A dimension value longer than this is not a page, source or name Plausible exports: the file is refused. */
const MAX_VALUE = 2000
const WHOLE = /^\d{1,15}$/

const isoOf = (yyyymmdd: string) => `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`
/** A real calendar date written YYYY-MM-DD. */
const realDate = (iso: string) => {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? Date.parse(`${iso}T00:00:00Z`) : NaN
  return !Number.isNaN(ms) && utcDay(ms) === iso
}

/** The table and the days a file of the export covers, from its name; an ImportError for any other name. */
export function plausibleFile(name: string): { table: string; first: string; last: string } {
  const m = FILE_NAME.exec(name)
  if (!m) throw new ImportError(`${name}: not a file of Plausible's CSV export (imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv, table one of ${Object.keys(PLAUSIBLE_TABLES).join(', ')})`, { file: name })
  const [first, last] = [isoOf(m[2]), isoOf(m[3])]
  if (!realDate(first) || !realDate(last) || first > last) throw new ImportError(`${name}: the dates in its name are not a range of days`, { file: name })
  return { table: m[1], first, last }
}

type Parsed = { record: string[]; info: { lines: number } }

/** One file's rows as cells, every line checked: an ImportError names the file, the line and the column. */
function readFile(name: string, content: Uint8Array, scrub: Scrub): ImportedCell[] {
  const { table, first, last } = plausibleFile(name)
  const spec = PLAUSIBLE_TABLES[table]
  let records: Parsed[]
  try {
    records = parse(content, { bom: true, info: true, skip_empty_lines: true }) as unknown as Parsed[]
  } catch (err) {
    const e = err as Error & { lines?: number }
    throw new ImportError(`${name}${e.lines ? ` line ${e.lines}` : ''}: not valid CSV (${e.message})`, { file: name, ...(e.lines ? { line: e.lines } : {}) })
  }
  if (records.length === 0) throw new ImportError(`${name} line 1: empty file, a header line was expected`, { file: name, line: 1 })
  const header = records[0].record
  const at = new Map(header.map((c, i) => [c.trim(), i]))
  const needed = ['date', ...Object.values(spec.properties), ...spec.required.map((c) => spec.counts[c]!)]
  const missing = needed.filter((c) => !at.has(c))
  if (missing.length) throw new ImportError(`${name} line 1: missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')}`, { file: name, line: 1, column: missing[0] })
  const counts = Object.entries(spec.counts).filter(([, col]) => at.has(col)) as [keyof Counts, string][]
  const cells: ImportedCell[] = []
  for (const { record, info } of records.slice(1)) {
    const line = info.lines
    const fail = (column: string, why: string) => new ImportError(`${name} line ${line}, column "${column}": ${why}`, { file: name, line, column })
    const cell = (column: string) => record[at.get(column)!] ?? ''
    const day = cell('date')
    if (!realDate(day)) throw fail('date', `${JSON.stringify(day.slice(0, 40))} is not a date (YYYY-MM-DD)`)
    if (day < first || day > last) throw fail('date', `${day} is outside the days the file's name gives (${first} to ${last})`)
    const values: Partial<Counts> = {}
    for (const [ours, column] of counts) {
      const raw = cell(column).trim()
      if (!WHOLE.test(raw)) throw fail(column, `${JSON.stringify(raw.slice(0, 40))} is not a whole number`)
      values[ours] = Number(raw)
    }
    const row: Counts = { visitors: 0, visits: 0, pageviews: 0, bounces: 0, visit_duration: 0, events: 0, ...values }
    const props = Object.entries(spec.properties)
    if (props.length === 0) cells.push({ property: 'visitors', day, value: '', counts: row })
    for (const [property, column] of props) {
      const value = cell(column)
      if (value.length > MAX_VALUE) throw fail(column, `longer than ${MAX_VALUE} characters`)
      cells.push({ property, day, value: scrub(value), counts: row })
    }
  }
  return cells
}

/** What a value (a page, a source, an event name…) becomes before it is stored: the site's scrubber. */
export type Scrub = (value: string) => string

/**
 * Every file of a Plausible export read and checked before anything is stored: the cells, the
 * days covered and the files. The day's totals (`imported_visitors`) must be among them: every
 * other number is checked against them (aggregator/imports/disclosure.ts). Every value passes
 * through `scrub`, as every string the collector takes does (collector/privacy/pii.ts): an
 * e-mail address in a path Plausible kept is stored as `[email]`, and cells that become alike
 * are added up when read.
 */
export function readPlausibleExport(files: ReadonlyMap<string, Uint8Array>, scrub: Scrub): ParsedImport {
  const names = [...files.keys()].sort()
  if (names.length === 0) throw new ImportError('no files to import: give the zip of a Plausible CSV export, or its CSV files')
  const tables = names.map((n) => ({ name: n, ...plausibleFile(n) }))
  const twice = tables.find((t, i) => tables.findIndex((u) => u.table === t.table) !== i)
  if (twice) throw new ImportError(`two files of the table ${twice.table}: ${tables.filter((t) => t.table === twice.table).map((t) => t.name).join(', ')}`, { file: twice.name })
  if (!tables.some((t) => t.table === 'visitors')) throw new ImportError('imported_visitors_<dates>.csv is missing: the day totals are needed beside the other files')
  const cells = names.flatMap((n) => readFile(n, files.get(n)!, scrub))
  return { source: 'plausible', files: names, first: tables.reduce((a, t) => (t.first < a ? t.first : a), tables[0].first), last: tables.reduce((a, t) => (t.last > a ? t.last : a), tables[0].last), cells }
}
