import type { Readable } from 'node:stream'
import type { Limits } from '../stats/disclosure.ts'
import type { ClickHouseClient } from '@clickhouse/client'
import { zipSync } from 'fflate'
import type { Policy } from '../../policy/policy.ts'
import type { Site } from '../../accounts/sites.ts'
import { parseFilters, type Filter } from '../stats/filters.ts'
import { resolveGoalFilters } from '../stats/goal-filter.ts'
import { PERIODS, resolvePeriod, type Range } from '../stats/period.ts'
import { property as findProperty, PROPERTY_NAMES, type Property } from '../stats/properties.ts'
import { rangeDays, type Interval } from '../stats/query.ts'
import type { Scope } from '../stats/service.ts'
import { ExportNoiseStore } from './budget.ts'
import { keyedHash } from './noise.ts'
import { renderTable, toBuffer, type TableFormat } from './render.ts'
import { addNoise, breakdownTable, digest, timeseriesTable, type ExportTable } from './tables.ts'
import { InputError } from '../../http/errors.ts'

export const EXPORT_FORMATS = ['csv', 'json', 'parquet', 'zip'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]
/** Whole days only: a realtime window is not an export. */
export const EXPORT_PERIODS = PERIODS.filter((p) => p !== 'realtime')
export const EXPORT_INTERVALS = ['day', 'week', 'month'] as const

const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/x-ndjson; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
  zip: 'application/zip',
}
const EXTENSIONS: Record<ExportFormat, string> = { csv: 'csv', json: 'ndjson', parquet: 'parquet', zip: 'zip' }

/** The zip export: one CSV per table, named as in Plausible's export. `null`: the time series. */
export const ZIP_TABLES: readonly { file: string; property: string | null }[] = [
  { file: 'visitors.csv', property: null },
  { file: 'sources.csv', property: 'source' },
  { file: 'channels.csv', property: 'channel' },
  { file: 'referrers.csv', property: 'referrer' },
  { file: 'utm_sources.csv', property: 'utm_source' },
  { file: 'utm_mediums.csv', property: 'utm_medium' },
  { file: 'utm_campaigns.csv', property: 'utm_campaign' },
  { file: 'utm_contents.csv', property: 'utm_content' },
  { file: 'utm_terms.csv', property: 'utm_term' },
  { file: 'pages.csv', property: 'page' },
  { file: 'entry_pages.csv', property: 'entry_page' },
  { file: 'exit_pages.csv', property: 'exit_page' },
  { file: 'countries.csv', property: 'country' },
  { file: 'regions.csv', property: 'region' },
  { file: 'cities.csv', property: 'city' },
  { file: 'browsers.csv', property: 'browser' },
  { file: 'browser_versions.csv', property: 'browser_version' },
  { file: 'operating_systems.csv', property: 'os' },
  { file: 'operating_system_versions.csv', property: 'os_version' },
  { file: 'devices.csv', property: 'device' },
  { file: 'screens.csv', property: 'screen' },
  { file: 'custom_events.csv', property: 'event' },
  { file: 'outbound_links.csv', property: 'outbound' },
  { file: 'file_downloads.csv', property: 'download' },
]

/** What an export asks, as the query string (or the CLI's options) says it. */
export interface ExportQuery {
  site: string
  period?: string
  date?: string
  from?: string
  to?: string
  format?: string
  property?: string
  filters?: string
  interval?: string
}

/** A question an export cannot answer as asked: 400, or 404 for an unknown site. */
export class ExportError extends InputError {
  constructor(status: 400 | 404, message: string) {
    super(message)
    this.statusCode = status
  }
}

/** What an export needs from the server, or from the CLI when it opens the store itself. */
export interface ExportContext {
  client: ClickHouseClient
  site(domain: string): Site | undefined
  policy: Policy
  noise: ExportNoiseStore
  now?: number
}

interface Named {
  name: string
  prop: Property & { propKey?: string }
}

export interface ExportPlan {
  site: Site
  range: Range
  /** First and last local day of the range. */
  first: string
  last: string
  format: ExportFormat
  property: Named | null
  filters: Filter[]
  interval: Interval
  /** The policy's `min_visitors.export`. */
  /** The export audience's minimum group (policy `min_visitors.export`, `min_networks.export`). */
  limits: Limits
  /** The policy's `noise.export_epsilon`: null exports exact numbers. */
  epsilon: number | null
  filename: string
  contentType: string
  tables: { file: string; property: Named | null }[]
}

function named(name: string): Named {
  const prop = findProperty(name)
  if (!prop) throw new ExportError(400, `property must be one of ${PROPERTY_NAMES.join(', ')}`)
  return { name, prop }
}

/** Checks an export question and resolves it against the site and its policy; throws ExportError 400/404. */
export function planExport(ctx: ExportContext, q: ExportQuery): ExportPlan {
  const site = ctx.site(q.site.trim().toLowerCase())
  if (!site) throw new ExportError(404, 'unknown site')
  const format = (q.format ?? 'csv') as ExportFormat
  if (!EXPORT_FORMATS.includes(format)) throw new ExportError(400, `format must be one of ${EXPORT_FORMATS.join(', ')}`)
  if (q.period === 'realtime') throw new ExportError(400, `period must be one of ${EXPORT_PERIODS.join(', ')}: exports cover whole days`)
  const interval = (q.interval ?? 'day') as Interval
  if (!(EXPORT_INTERVALS as readonly string[]).includes(interval)) throw new ExportError(400, `interval must be one of ${EXPORT_INTERVALS.join(', ')}`)
  if (q.interval && q.property) throw new ExportError(400, 'interval applies to the time series: leave it out with a property')
  if (q.property && format === 'zip') throw new ExportError(400, 'a zip holds every property: leave property out')
  const range = resolvePeriod(q, site.timezone, ctx.now)
  const filters = parseFilters(q.filters)
  const property = q.property ? named(q.property) : null
  const days = rangeDays(range, site.timezone)
  const rules = ctx.policy.forSite(site.domain)
  const suffix = property ? `-${property.name.replace(/[^A-Za-z0-9_.-]/g, '-')}` : ''
  return {
    site,
    range,
    first: days.first,
    last: days.last,
    format,
    property,
    filters,
    interval,
    limits: { k: rules.minVisitors.export, kn: rules.minNetworks.export },
    epsilon: rules.exportEpsilon,
    filename: `${site.domain}-${days.first}-${days.last}${suffix}.${EXTENSIONS[format]}`,
    contentType: CONTENT_TYPES[format],
    tables: format === 'zip' ? ZIP_TABLES.map((t) => ({ file: t.file, property: t.property ? named(t.property) : null })) : [{ file: '', property }],
  }
}

/** The months (YYYY-MM) from the first to the last day, inclusive. */
export function monthsCovered(first: string, last: string): string[] {
  const out: string[] = []
  let [y, m] = first.split('-').map(Number)
  const [ly, lm] = last.split('-').map(Number)
  while (y < ly || (y === ly && m <= lm)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`)
    if (++m > 12) [y, m] = [y + 1, 1]
  }
  return out
}

/** Filters in a canonical order, so `a;b` and `b;a` are one question (and one answer). */
function canonicalFilters(filters: Filter[]): string[][] {
  return filters.map((f) => [f.name, f.op, ...[...new Set(f.values)].sort()]).sort((a, b) => (a.join('\0') < b.join('\0') ? -1 : 1))
}

/** Everything the numbers of a table depend on, except the format. */
function question(plan: ExportPlan, property: Named | null) {
  return ['export/v1', plan.site.domain, plan.range.from, plan.range.to, property ? property.name : `timeseries:${plan.interval}`, canonicalFilters(plan.filters), plan.limits.k, plan.limits.kn, plan.epsilon]
}

export interface ExportProgress {
  done: number
  total: number
  /** What is being worked on: the file of a zip, or the export's file name. */
  label: string
}

export interface ExportResult {
  body: Readable | Buffer
  /** Whether this export spent budget (false: exact numbers, or an answer given before). */
  charged: boolean
  /** For a single table whose whole population is below k. */
  withheld?: string
}

/**
 * Runs a planned export: every table from the stats service with the export k (so small values
 * are withheld or folded into `(other)` on the true numbers), then, when the policy asks for
 * noise, the budget check and the noise, then ClickHouse writes the format.
 */
export async function runExport(ctx: ExportContext, plan: ExportPlan, onProgress?: (p: ExportProgress) => void): Promise<ExportResult> {
  const filters = await resolveGoalFilters(ctx.client, plan.site.domain, plan.filters)
  const scope: Scope = { site: plan.site.domain, timezone: plan.site.timezone, filters, limits: plan.limits }
  const total = plan.tables.length * 2
  let done = 0
  const step = (label: string) => onProgress?.({ done: ++done, total, label })
  onProgress?.({ done, total, label: plan.tables[0].file || plan.filename })

  let tables: ExportTable[] = []
  for (const t of plan.tables) {
    tables.push(t.property ? await breakdownTable(ctx.client, scope, plan.range, t.property.name, t.property.prop) : await timeseriesTable(ctx.client, scope, plan.range, plan.interval))
    step(t.file || plan.filename)
  }

  let charged = false
  if (plan.epsilon !== null) {
    const epsilon = plan.epsilon
    const key = await ctx.noise.key(plan.site.domain)
    const seeds = plan.tables.map((t, i) => keyedHash(key, ['table', question(plan, t.property), digest(tables[i])]))
    const answer = keyedHash(key, ['answer', plan.format === 'zip' ? 'zip' : 'table', seeds.map((s) => s.toString('base64url'))]).toString('base64url')
    const kind = plan.format === 'zip' ? 'zip' : (plan.property?.name ?? 'timeseries')
    ;({ charged } = await ctx.noise.charge(plan.site.domain, answer, kind, monthsCovered(plan.first, plan.last), epsilon))
    tables = tables.map((t, i) => addNoise(t, seeds[i], epsilon))
  }

  if (plan.format !== 'zip') {
    const body = await renderTable(ctx.client, tables[0], plan.format as TableFormat)
    step(plan.filename)
    return { body, charged, withheld: tables[0].withheld }
  }
  const files: Record<string, Uint8Array> = {}
  for (const [i, t] of plan.tables.entries()) {
    files[t.file] = await toBuffer(await renderTable(ctx.client, tables[i], 'csv'))
    step(t.file)
  }
  // A fixed time stamp (noon UTC of the last day) keeps the same export byte-identical.
  return { body: Buffer.from(zipSync(files, { level: 6, mtime: new Date(`${plan.last}T12:00:00Z`) })), charged }
}
