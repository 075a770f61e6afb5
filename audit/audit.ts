import type { ClickHouseClient } from '@clickhouse/client'
import type { Policy, SitePolicy } from '../policy/policy.ts'
import { DIMENSIONS, type Dimension } from '../policy/schema.ts'
import type { KindInfo } from '../identifiers/catalogue.ts'
import { FindingTally, mask, piiColumnName, policyPatterns, prefilter } from './patterns.ts'
import { AGGREGATE_TABLES, type AggregateTable } from '../retention/purge.ts'
import { chTime } from '../store/time.ts'

/**
 * The privacy officer's evidence: every table and text column of the store scanned (by
 * ClickHouse itself) for personal data, and the stored values checked against the policy.
 * A finding names where, what kind and how many, with at most a masked sample; never a value.
 */
export interface AuditFinding {
  /** `table.column`, or a file (and field) for the spool and logs. */
  where: string
  /** `[email]`, `[ip]`... for personal data; `policy: ...` for what the policy forbids. */
  kind: string
  detail: string
  count: number
  /** The first two characters of one finding and an ellipsis. */
  sample?: string
}

export interface AuditReport {
  clean: boolean
  findings: AuditFinding[]
  scanned: { tables: number; columns: number; rows: number; files: number }
  /** What was deliberately not scanned, and why. */
  notes: string[]
}

export interface AuditProgress {
  done: number
  total: number
  label: string
}

export interface AuditOptions {
  now?: Date
  /** Told what the scan will cover before it starts (for a progress bar on large stores). */
  onPlan?: (plan: { steps: number; rows: number }) => void
  onProgress?: (p: AuditProgress) => void
  aggregates?: readonly AggregateTable[]
}

/** Rows may outlive their cutoff by at most this much: the purge runs every hour. */
export const RETENTION_GRACE_MS = 2 * 3_600_000
/** A persisted salt is wiped within a minute of its period's end; an hour later it is a breach. */
export const SALT_GRACE_MS = 3_600_000

const DAY = 86_400_000
const SKIPPED_TABLES = new Set(['schema_migrations'])
/** Addresses an admin set for e-mail reports (aggregator/reports/): staff's, on purpose, never a visitor's; listed in the notes. */
const REPORT_RECIPIENTS = 'report_settings.recipients'
/** Engines whose rows live in this table (views read other tables; external engines read other systems). */
const SCANNED_ENGINE = /MergeTree$|^(?:Log|TinyLog|StripeLog|Memory)$/
/** Table names as system.tables gives them; `-` for materialised views' inner tables. Quoted in backticks. */
const TABLE_NAME = /^[A-Za-z0-9_.-]+$/
const COLUMN_NAME = /^[A-Za-z0-9_.]+$/
/**
 * Columns the server fills with keyed hashes and random keys (`tokens.secret_hash`,
 * `export_noise_keys.key`, `export_budget.answer`): random-looking by design and never a
 * visitor's, so a random token there is no finding; every other kind still is.
 */
const SERVER_SECRET_COLUMN = /(?:^|_)(?:hash|key|answer)$/
const randomToken = (kind: KindInfo) => kind.placeholder === '[token]'

/** The events columns each dimension fills (a dimension's own name otherwise). */
const DIMENSION_COLUMNS: Partial<Record<Dimension, string[]>> = {
  path: ['pathname'],
  utm: ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'query'],
}

function quote(name: string, pattern: RegExp): string {
  if (!pattern.test(name)) throw new Error(`not a plain identifier: ${JSON.stringify(name)}`)
  return '`' + name + '`'
}

async function select<T>(client: ClickHouseClient, query: string, query_params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params, format: 'JSONEachRow' })
  return rs.json<T>()
}

interface TableInfo {
  name: string
  engine: string
  rows: number
  columns: { name: string; type: string }[]
}

/** How a column's text is reached: one string, or arrays of strings (an Array, a Map's keys and values). */
type TextShape = { kind: 'scalar'; expr: string } | { kind: 'arrays'; exprs: string[] }

function stripWrappers(type: string): string {
  let t = type.trim()
  for (;;) {
    const m = t.match(/^(?:LowCardinality|Nullable)\((.*)\)$/) ?? t.match(/^SimpleAggregateFunction\(\w+,\s*(.*)\)$/)
    if (!m) return t
    t = m[1].trim()
  }
}

function isText(type: string): boolean {
  return /^(?:String|FixedString\(\d+\))$/.test(stripWrappers(type))
}

/** Splits `Map(K, V)`'s arguments at the top-level comma. */
function mapArgs(type: string): [string, string] | null {
  const m = stripWrappers(type).match(/^Map\((.*)\)$/)
  if (!m) return null
  let depth = 0
  for (let i = 0; i < m[1].length; i++) {
    const c = m[1][i]
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === ',' && depth === 0) return [m[1].slice(0, i).trim(), m[1].slice(i + 1).trim()]
  }
  return null
}

function textShape(col: string, type: string): TextShape | null {
  const plain = /^(?:LowCardinality\()?String\)?$/.test(stripWrappers(type))
  if (plain) return { kind: 'scalar', expr: col }
  if (isText(type)) return { kind: 'scalar', expr: `coalesce(toString(${col}), '')` }
  const arr = stripWrappers(type).match(/^Array\((.*)\)$/)
  if (arr && isText(arr[1])) return { kind: 'arrays', exprs: [`arrayMap(x -> coalesce(toString(x), ''), ${col})`] }
  // a tuple is scanned as its text: `('2026-11-30 10:00:00.000','/pricing')`
  if (/^Tuple\(.*String.*\)$/.test(stripWrappers(type))) return { kind: 'scalar', expr: `toString(${col})` }
  // an array of such tuples (a visit's pageviews), each as its text
  if (arr && /^Tuple\(.*String.*\)$/.test(stripWrappers(arr[1]))) return { kind: 'arrays', exprs: [`arrayMap(x -> toString(x), ${col})`] }
  const map = mapArgs(type)
  if (map) {
    const exprs: string[] = []
    if (isText(map[0])) exprs.push(`arrayMap(x -> coalesce(toString(x), ''), mapKeys(${col}))`)
    if (isText(map[1])) exprs.push(`arrayMap(x -> coalesce(toString(x), ''), mapValues(${col}))`)
    return exprs.length ? { kind: 'arrays', exprs } : { kind: 'arrays', exprs: [] }
  }
  return null
}

/** Types that cannot hold free text: nothing to scan. */
function cannotHoldText(type: string): boolean {
  const t = stripWrappers(type)
  return /^(?:U?Int\d+|Float\d+|BFloat16|Decimal.*|Bool|Date|Date32|DateTime.*|Time.*|UUID|IPv4|IPv6|Enum\d*\(.*\)|Nothing|Interval.*)$/.test(t)
    || /^(?:Array|Map)\(/.test(t) && !/String/.test(t)
    // the state of an aggregate over numbers (today's distinct visitors of a page: page_days)
    || /^AggregateFunction\(/.test(t) && !/String/.test(t)
}

/**
 * One query per column: its distinct values that may hold an identifier (the kinds' hints, in
 * the store's RE2), each with the number of rows (or array elements) holding it, streamed.
 */
function candidatesQuery(table: string, shape: TextShape): string | null {
  if (shape.kind === 'scalar') {
    return `SELECT v, count() AS n FROM (SELECT ${shape.expr} AS v FROM ${table}) WHERE match(v, {hint:String}) GROUP BY v`
  }
  if (shape.exprs.length === 0) return null
  return `SELECT v, count() AS n FROM ${table} ARRAY JOIN arrayConcat(${shape.exprs.join(', ')}) AS v WHERE match(v, {hint:String}) GROUP BY v`
}

/** Runs the catalogue over a column's candidates as they stream in. */
async function scanColumn(client: ClickHouseClient, query: string, hint: string, where: string, tally: FindingTally, ignore?: (kind: KindInfo) => boolean): Promise<void> {
  const rs = await client.query({ query, query_params: { hint }, format: 'JSONEachRow' })
  for await (const batch of rs.stream<{ v: string; n: number | string }>()) {
    for (const row of batch) {
      const { v, n } = row.json()
      tally.add(where, v, Number(n), ignore)
    }
  }
}

async function listTables(client: ClickHouseClient): Promise<{ tables: TableInfo[]; notes: string[] }> {
  const notes: string[] = []
  const rows = await select<{ name: string; engine: string }>(
    client,
    `SELECT name, engine FROM system.tables
     WHERE database = currentDatabase() AND NOT is_temporary ORDER BY name`,
  )
  const columns = await select<{ table: string; name: string; type: string }>(
    client,
    'SELECT table, name, type FROM system.columns WHERE database = currentDatabase() ORDER BY table, position',
  )
  const tables: TableInfo[] = []
  for (const t of rows) {
    if (SKIPPED_TABLES.has(t.name)) continue
    if (!SCANNED_ENGINE.test(t.engine)) {
      notes.push(`${t.name}: engine ${t.engine} holds no rows of its own; not scanned`)
      continue
    }
    if (!TABLE_NAME.test(t.name)) {
      notes.push(`a table whose name is not a plain identifier was not scanned`)
      continue
    }
    // count(), not total_rows: rows hidden by a lightweight DELETE are gone for every query
    const [{ n }] = await select<{ n: number }>(client, `SELECT count() AS n FROM ${quote(t.name, TABLE_NAME)}`)
    tables.push({ name: t.name, engine: t.engine, rows: n, columns: columns.filter((c) => c.table === t.name) })
  }
  return { tables, notes }
}

/** The store's part of the audit: PII patterns in every text column, then the policy's limits. */
export async function auditStore(client: ClickHouseClient, policy: Policy, opts: AuditOptions = {}): Promise<AuditReport> {
  const now = opts.now ?? new Date()
  const findings: AuditFinding[] = []
  const { tables, notes } = await listTables(client)
  const work: { table: TableInfo; column: { name: string; type: string } }[] = []
  for (const table of tables) for (const column of table.columns) work.push({ table, column })
  const events = tables.find((t) => t.name === 'events')
  const policySteps = events ? 4 : 0
  const total = work.length + policySteps + 1
  opts.onPlan?.({ steps: total, rows: tables.reduce((s, t) => s + t.rows, 0) })
  let done = 0
  const step = (label: string) => opts.onProgress?.({ done: ++done, total, label })

  const site = policyPatterns(policy)
  const hint = prefilter(site)
  let scannedColumns = 0
  for (const { table, column } of work) {
    const where = `${table.name}.${column.name}`
    const suggests = piiColumnName(column.name)
    if (suggests) {
      findings.push({ where, kind: 'policy: personal column', detail: `the column's name says it holds personal data (${suggests})`, count: table.rows })
    }
    if (where === REPORT_RECIPIENTS) {
      notes.push(`${where}: e-mail addresses an admin set for reports, not visitors'; not scanned`)
      step(where)
      continue
    }
    if (/salt/i.test(table.name) && column.name === 'salt') {
      notes.push(`${where}: salts are random secrets by design; their lifetime is checked instead`)
      step(where)
      continue
    }
    if (!COLUMN_NAME.test(column.name)) {
      findings.push({ where: `${table.name}.(column)`, kind: 'unscanned', detail: 'a column whose name is not a plain identifier could not be scanned', count: table.rows })
      step(where)
      continue
    }
    const shape = textShape(quote(column.name, COLUMN_NAME), column.type)
    if (!shape) {
      if (!cannotHoldText(column.type) && table.rows > 0) {
        findings.push({ where, kind: 'unscanned', detail: `type ${column.type} cannot be scanned for text`, count: table.rows })
      }
      step(where)
      continue
    }
    const query = table.rows > 0 ? candidatesQuery(quote(table.name, TABLE_NAME), shape) : null
    if (query) {
      const tally = new FindingTally(site)
      const serverSecret = SERVER_SECRET_COLUMN.test(column.name)
      if (serverSecret) notes.push(`${where}: keyed hashes or random keys by design; random tokens there are not findings`)
      await scanColumn(client, query, hint, where, tally, serverSecret ? randomToken : undefined)
      findings.push(...tally.findings())
      scannedColumns++
    }
    step(where)
  }

  if (events) {
    const sites = (await select<{ site: string }>(client, 'SELECT DISTINCT site FROM events ORDER BY site')).map((r) => r.site)
    const columns = new Set(events.columns.map((c) => c.name))
    findings.push(...(await forbiddenDimensions(client, policy, columns)))
    step('events: dimensions the policy forbids')
    if (columns.has('props')) findings.push(...(await forbiddenKeys(client, policy, 'props', 'mapKeys(props)', 'prop', (r, k) => r.prop(k))))
    step('events: props the policy forbids')
    if (columns.has('query')) {
      findings.push(
        ...(await forbiddenKeys(client, policy, 'query', "extractURLParameterNames(concat('http://x/?', query))", 'query parameter', (r, k) => r.queryParam(safeDecode(k)))),
      )
    }
    step('events: query parameters the policy forbids')
    findings.push(...(await expiredEvents(client, policy, sites, now)))
    step('events: retention')
  }
  for (const agg of opts.aggregates ?? AGGREGATE_TABLES) {
    if (tables.some((t) => t.name === agg.table)) findings.push(...(await expiredAggregates(client, policy, agg, now)))
  }
  for (const t of tables.filter((t) => /salt/i.test(t.name))) findings.push(...(await expiredSalts(client, policy, t, now)))
  step('salts')

  return {
    clean: findings.length === 0,
    findings,
    scanned: { tables: tables.length, columns: scannedColumns, rows: tables.reduce((s, t) => s + t.rows, 0), files: 0 },
    notes,
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Why a site's policy forbids a dimension's column to hold values, or null when it allows it. */
export function forbiddenBecause(rules: SitePolicy, dimension: Dimension): string | null {
  if (!rules.dimensions.has(dimension)) return `the policy does not list ${dimension} in dimensions`
  const p = rules.geoPrecision
  if (dimension === 'city' && p !== 'city') return `ip.geo_precision is ${p}`
  if (dimension === 'region' && p !== 'region' && p !== 'city') return `ip.geo_precision is ${p}`
  if (dimension === 'country' && p === 'none') return 'ip.geo_precision is none'
  return null
}

async function forbiddenDimensions(client: ClickHouseClient, policy: Policy, columns: Set<string>): Promise<AuditFinding[]> {
  const checked = DIMENSIONS.flatMap((d) => (DIMENSION_COLUMNS[d] ?? [d]).filter((c) => columns.has(c)).map((c) => ({ d, c })))
  const counts = checked.map(({ c }, i) => `countIf(${quote(c, COLUMN_NAME)} != '') AS c${i}`)
  // new/returning comes from the last-visit day, which only `last_visit_day: true` lets the tracker keep (2 = unknown)
  if (columns.has('returning')) counts.push('countIf(returning != 2) AS returning')
  if (counts.length === 0) return []
  const perSite = await select<Record<string, number | string>>(client, `SELECT site, ${counts.join(', ')} FROM events GROUP BY site ORDER BY site`)
  const findings: AuditFinding[] = []
  for (const row of perSite) {
    const site = String(row.site)
    const rules = policy.forSite(site)
    checked.forEach(({ d, c }, i) => {
      const count = Number(row[`c${i}`])
      const why = count > 0 ? forbiddenBecause(rules, d) : null
      if (why) findings.push({ where: `events.${c}`, kind: 'policy: dimension', detail: `${c} is stored for ${site}, but ${why}`, count })
    })
    const returning = Number(row.returning ?? 0)
    if (returning > 0 && !rules.lastVisitDay) {
      findings.push({ where: 'events.returning', kind: 'policy: dimension', detail: `new/returning is stored for ${site}, but the policy sets last_visit_day: false`, count: returning })
    }
  }
  return findings
}

/** Keys (props, query parameters) stored for a site whose policy does not allow them. */
async function forbiddenKeys(
  client: ClickHouseClient,
  policy: Policy,
  column: string,
  keysExpr: string,
  what: string,
  allowed: (rules: SitePolicy, key: string) => boolean,
): Promise<AuditFinding[]> {
  const rows = await select<{ site: string; key: string; n: number }>(
    client,
    `SELECT site, key, count() AS n FROM events ARRAY JOIN ${keysExpr} AS key GROUP BY site, key ORDER BY site, key LIMIT 100000`,
  )
  const bySite = new Map<string, AuditFinding>()
  for (const { site, key, n } of rows) {
    if (allowed(policy.forSite(site), key)) continue
    const f = bySite.get(site) ?? { where: `events.${column}`, kind: `policy: ${what}`, detail: `${what} keys stored for ${site} that the policy does not allow`, count: 0, sample: mask(key) }
    f.count += n
    bySite.set(site, f)
  }
  return [...bySite.values()]
}

async function expiredEvents(client: ClickHouseClient, policy: Policy, sites: string[], now: Date): Promise<AuditFinding[]> {
  const findings: AuditFinding[] = []
  for (const site of sites) {
    const days = policy.forSite(site).rawEventsDays
    const cutoff = new Date(now.getTime() - days * DAY - RETENTION_GRACE_MS)
    const [{ n }] = await select<{ n: number }>(
      client,
      `SELECT count() AS n FROM events WHERE site = {site:String} AND ts < {cutoff:DateTime64(3, 'UTC')}`,
      { site, cutoff: chTime(cutoff) },
    )
    if (n > 0) findings.push({ where: 'events', kind: 'policy: retention', detail: `raw events of ${site} older than retention.raw_events_days (${days})`, count: n })
  }
  return findings
}

async function expiredAggregates(client: ClickHouseClient, policy: Policy, agg: AggregateTable, now: Date): Promise<AuditFinding[]> {
  const table = quote(agg.table, TABLE_NAME)
  const time = quote(agg.timeColumn, COLUMN_NAME)
  const sites = agg.siteColumn
    ? (await select<{ site: string }>(client, `SELECT DISTINCT toString(${quote(agg.siteColumn, COLUMN_NAME)}) AS site FROM ${table}`)).map((r) => r.site)
    : ['']
  const findings: AuditFinding[] = []
  for (const site of sites) {
    const days = agg.siteColumn ? policy.forSite(site).aggregatesDays : Math.max(...policy.all().map((r) => r.aggregatesDays))
    const cutoff = chTime(new Date(now.getTime() - days * DAY - RETENTION_GRACE_MS))
    const where = agg.siteColumn ? `${quote(agg.siteColumn, COLUMN_NAME)} = {site:String} AND ` : ''
    const [{ n }] = await select<{ n: number }>(
      client,
      `SELECT count() AS n FROM ${table} WHERE ${where}toDateTime64(${time}, 3, 'UTC') < {cutoff:DateTime64(3, 'UTC')}`,
      { site, cutoff },
    )
    if (n > 0) findings.push({ where: agg.table, kind: 'policy: retention', detail: `aggregates${site ? ` of ${site}` : ''} older than retention.aggregates_days (${days})`, count: n })
  }
  return findings
}

/**
 * Salts whose period ended more than an hour ago: with them, old visitor hashes could be
 * recomputed. The period's end comes from (period, period_hours), or from an end/expiry column.
 */
async function expiredSalts(client: ClickHouseClient, policy: Policy, t: TableInfo, now: Date): Promise<AuditFinding[]> {
  if (t.rows === 0) return []
  const table = quote(t.name, TABLE_NAME)
  const has = (name: string) => t.columns.some((c) => c.name === name)
  const limit = now.getTime() - SALT_GRACE_MS
  let query: string | null = null
  let params: Record<string, unknown> = {}
  if (has('period') && has('period_hours')) {
    query = `SELECT count() AS n FROM ${table} WHERE (toUInt64(period) + 1) * toUInt64(period_hours) * 3600000 <= {limit:UInt64}`
    params = { limit }
  } else {
    const end = t.columns.find((c) => /expire|until|end/i.test(c.name) && /^(?:Nullable\()?Date/.test(c.type))
    const start = t.columns.find((c) => /created|start|date|day/i.test(c.name) && /^(?:Nullable\()?Date/.test(c.type))
    if (end) {
      query = `SELECT count() AS n FROM ${table} WHERE toDateTime64(${quote(end.name, COLUMN_NAME)}, 3, 'UTC') <= {limit:DateTime64(3, 'UTC')}`
      params = { limit: chTime(new Date(limit)) }
    } else if (start) {
      // without an end, the longest salt period of the policy bounds how old a salt may be
      const hours = Math.max(...policy.all().map((r) => r.saltPeriodHours))
      query = `SELECT count() AS n FROM ${table} WHERE toDateTime64(${quote(start.name, COLUMN_NAME)}, 3, 'UTC') <= {limit:DateTime64(3, 'UTC')}`
      params = { limit: chTime(new Date(limit - hours * 3_600_000)) }
    }
  }
  if (!query) return [{ where: t.name, kind: 'policy: salts', detail: 'salts whose period end cannot be told from the table', count: t.rows }]
  const [{ n }] = await select<{ n: number }>(client, query, params)
  return n > 0 ? [{ where: t.name, kind: 'policy: salts', detail: 'salts kept more than an hour after their period ended', count: n }] : []
}

/** Store, spool and log findings as one report. */
export function combineReports(store: AuditReport, files: { findings: AuditFinding[]; files: number; notes?: string[] }): AuditReport {
  const findings = [...store.findings, ...files.findings]
  return {
    clean: findings.length === 0,
    findings,
    scanned: { ...store.scanned, files: store.scanned.files + files.files },
    notes: [...store.notes, ...(files.notes ?? [])],
  }
}

/** The report as a plain-text table: where, finding, count, masked sample. */
export function formatAuditReport(report: AuditReport): string {
  const s = report.scanned
  const head = `audit: ${s.tables} tables (${s.columns} text columns, ${s.rows} rows) and ${s.files} files scanned`
  const notes = report.notes.length ? ['', 'not scanned:', ...report.notes.map((n) => `  ${n}`)] : []
  if (report.clean) return [`${head}: clean, no personal data and nothing the policy forbids was found.`, ...notes].join('\n')
  const rows = [['WHERE', 'FINDING', 'COUNT', 'SAMPLE'], ...report.findings.map((f) => [f.where, `${f.kind} ${f.detail}`, String(f.count), f.sample ?? ''])]
  const widths = [0, 1, 2].map((i) => Math.min(i === 1 ? 90 : 60, Math.max(...rows.map((r) => r[i].length))))
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i])) : c)).join('  ').trimEnd()
  return [
    `${head}: ${report.findings.length} finding(s).`,
    '',
    line(rows[0]),
    ...rows.slice(1).map(line),
    ...notes,
  ].join('\n')
}
