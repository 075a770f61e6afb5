import type { ClickHouseClient } from '@clickhouse/client'
import { renewRollupBuilds } from '../aggregator/rollup/job.ts'
import type { Policy } from '../policy/policy.ts'
import { chTime, utcDay } from '../store/time.ts'

const DAY = 86_400_000

/**
 * A table of statistics kept for the policy's `retention.aggregates_days`. Rollups register
 * here (names like `*_rollup*` or `agg_*`) so `purge` and the audit keep them within retention.
 */
export interface AggregateTable {
  table: string
  /** A Date, Date32, DateTime or DateTime64 column: the time a row describes. */
  timeColumn: string
  /** The column naming the site; null for tables across all sites (the longest retention applies). */
  siteColumn: string | null
}

/** Every aggregate table of the store: statistics, kept `aggregates_days`. */
export const AGGREGATE_TABLES: readonly AggregateTable[] = [{ table: 'rollup_daily', timeColumn: 'day', siteColumn: 'site' }]

export interface SitePurge {
  rawEventsDays: number
  /** Raw events before this instant (ISO) are expired. */
  rawCutoff: string
  /** Rows of this site in the dropped partitions. */
  droppedRows: number
  /** Rows removed by a lightweight DELETE (older than the cutoff, outside dropped partitions). */
  deletedRows: number
  aggregatesDays: number
  aggregateRows: number
}

export interface PurgeReport {
  /** Partition ids (YYYYMMDD) of the events table dropped whole. */
  droppedPartitions: string[]
  /** Rows in dropped partitions plus rows deleted (counted just before deleting). */
  deletedRowsEstimate: number
  perSite: Record<string, SitePurge>
  dryRun: boolean
}

export interface PurgeOptions {
  aggregates?: readonly AggregateTable[]
  /** Count what would go, change nothing. */
  dryRun?: boolean
}

/** Identifiers come from our own constants or system tables; anything else is refused, not quoted. */
const IDENTIFIER = /^[A-Za-z0-9_.]+$/
function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a plain identifier: ${JSON.stringify(name)}`)
  return '`' + name + '`'
}

/** The instant before which a site's raw events are expired. */
export function rawEventsCutoff(policy: Policy, site: string, now: Date): Date {
  return new Date(now.getTime() - policy.forSite(site).rawEventsDays * DAY)
}

/** The instant before which a site's aggregates are expired. */
export function aggregatesCutoff(policy: Policy, site: string, now: Date): Date {
  return new Date(now.getTime() - policy.forSite(site).aggregatesDays * DAY)
}


/**
 * Drops a table partitioned by day of its partitions before the day `beforeId` (YYYYMMDD). The id
 * is a parameter and matched /^\d{8}$/ first: a value from system.parts never becomes SQL text.
 */
async function dropDaysBefore(client: ClickHouseClient, table: 'visits' | 'page_days' | 'headcount_days', beforeId: string): Promise<void> {
  const parts = await select<{ partition_id: string }>(
    client,
    'SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = {table:String} AND active',
    { table },
  )
  for (const { partition_id: id } of parts) {
    if (/^\d{8}$/.test(id) && id < beforeId) await client.command({ query: `ALTER TABLE ${table} DROP PARTITION ID {id:String}`, query_params: { id } })
  }
}

async function select<T>(client: ClickHouseClient, query: string, query_params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params, format: 'JSONEachRow' })
  return rs.json<T>()
}

/** Every site with rows, plus the given ones: a site left out of the registry still gets its retention. */
export async function sitesWithEvents(client: ClickHouseClient, sites: Iterable<string>): Promise<string[]> {
  const found = await select<{ site: string }>(client, 'SELECT DISTINCT site FROM events')
  return [...new Set([...sites, ...found.map((r) => r.site)])].sort()
}

/**
 * Removes what the policy no longer allows to keep:
 * - whole days of `events` (partitions) that every site's retention has expired are dropped;
 * - the rest of each site's expired events go by a lightweight DELETE (its own cutoff);
 * - rows of aggregate tables older than each site's `aggregates_days`.
 * Lightweight deletes hide rows at once; their bytes leave the disk at the parts' next merge,
 * or at the latest when their day's partition is dropped.
 */
export async function purge(
  client: ClickHouseClient,
  policy: Policy,
  sites: Iterable<string>,
  now: Date = new Date(),
  opts: PurgeOptions = {},
): Promise<PurgeReport> {
  const dryRun = opts.dryRun ?? false
  const given = [...sites]
  const all = await sitesWithEvents(client, given)
  const report: PurgeReport = { droppedPartitions: [], deletedRowsEstimate: 0, perSite: {}, dryRun }
  for (const site of all) siteEntry(report, policy, site, now)
  for (const agg of opts.aggregates ?? AGGREGATE_TABLES) {
    report.deletedRowsEstimate += await purgeAggregate(client, policy, given, now, agg, dryRun, report)
  }
  if (all.length === 0) return report

  // 1. Whole days older than the longest retention of any site: one partition each.
  const longest = Math.max(...all.map((s) => policy.forSite(s).rawEventsDays))
  // A day is wholly expired when it ends at or before the earliest cutoff, i.e. it lies before the cutoff's day.
  const firstKeptDay = utcDay(new Date(now.getTime() - longest * DAY))
  const firstKeptId = firstKeptDay.replace(/-/g, '')
  const [table] = await select<{ partition_key: string }>(
    client,
    `SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = 'events'`,
  )
  // Only when the table is still partitioned by day is a partition id a day (YYYYMMDD).
  const byDay = table?.partition_key.replace(/\s+/g, '') === 'toDate(ts)'
  let floor: string | null = null
  if (byDay) {
    const parts = await select<{ partition_id: string }>(
      client,
      `SELECT DISTINCT partition_id FROM system.parts
       WHERE database = currentDatabase() AND table = 'events' AND active ORDER BY partition_id`,
    )
    const expired = parts.map((p) => p.partition_id).filter((id) => /^\d{8}$/.test(id) && id < firstKeptId)
    if (expired.length > 0) {
      floor = `${firstKeptDay} 00:00:00.000`
      const perSite = await select<{ site: string; n: number }>(
        client,
        'SELECT site, count() AS n FROM events WHERE ts < {floor:DateTime64(3, \'UTC\')} GROUP BY site',
        { floor },
      )
      for (const { site, n } of perSite) {
        report.perSite[site].droppedRows = n
        report.deletedRowsEstimate += n
      }
    }
    for (const id of expired) {
      // The id is a parameter (ClickHouse 26 binds {id:String} in DROP PARTITION ID), and it
      // also matched /^\d{8}$/ above: a value from system.parts can never become SQL text.
      if (!dryRun) await client.command({ query: 'ALTER TABLE events DROP PARTITION ID {id:String}', query_params: { id } })
      report.droppedPartitions.push(id)
    }
  }

  // Visits are derived from raw events and carry the same visitor hashes: they go with them.
  if (!dryRun) {
    await dropDaysBefore(client, 'visits', firstKeptId)
    // Today's page rows (migration 033) are read for today alone: every earlier day goes, within
    // the hour after midnight, before any site's cutoff (a day at least) reaches today.
    await dropDaysBefore(client, 'page_days', utcDay(now).replace(/-/g, ''))
    // today's headcount (migration 035) likewise
    await dropDaysBefore(client, 'headcount_days', utcDay(now).replace(/-/g, ''))
    for (const site of all) {
      const cutoff = chTime(new Date(report.perSite[site].rawCutoff))
      const [{ n }] = await select<{ n: number }>(client, `SELECT count() AS n FROM visits WHERE site = {site:String} AND start < {cutoff:DateTime64(3, 'UTC')}`, { site, cutoff })
      if (n > 0) await client.command({ query: `DELETE FROM visits WHERE site = {site:String} AND start < {cutoff:DateTime64(3, 'UTC')}`, query_params: { site, cutoff } })
    }
  }

  // 2. Each site's own cutoff, inside the days that are kept. Counted first: no mutation when nothing expired.
  for (const site of all) {
    const entry = report.perSite[site]
    // A dry run changed nothing: rows in the partitions it would drop are counted there already.
    const params = { site, cutoff: chTime(new Date(entry.rawCutoff)), floor: dryRun && floor ? floor : '1970-01-01 00:00:00.000' }
    const [{ n }] = await select<{ n: number }>(
      client,
      `SELECT count() AS n FROM events
       WHERE site = {site:String} AND ts < {cutoff:DateTime64(3, 'UTC')} AND ts >= {floor:DateTime64(3, 'UTC')}`,
      params,
    )
    if (n === 0) continue
    entry.deletedRows = n
    report.deletedRowsEstimate += n
    if (!dryRun) {
      await client.command({
        query: `DELETE FROM events WHERE site = {site:String} AND ts < {cutoff:DateTime64(3, 'UTC')}`,
        query_params: params,
      })
    }
  }
  return report
}

function siteEntry(report: PurgeReport, policy: Policy, site: string, now: Date): SitePurge {
  let entry = report.perSite[site]
  if (!entry) {
    const rules = policy.forSite(site)
    entry = report.perSite[site] = {
      rawEventsDays: rules.rawEventsDays,
      rawCutoff: rawEventsCutoff(policy, site, now).toISOString(),
      droppedRows: 0,
      deletedRows: 0,
      aggregatesDays: rules.aggregatesDays,
      aggregateRows: 0,
    }
  }
  return entry
}

/** An aggregate table's expired rows, per site (or by the longest retention for tables without a site column). */
async function purgeAggregate(
  client: ClickHouseClient,
  policy: Policy,
  given: string[],
  now: Date,
  agg: AggregateTable,
  dryRun: boolean,
  report: PurgeReport,
): Promise<number> {
  const [column] = await select<{ type: string }>(
    client,
    'SELECT type FROM system.columns WHERE database = currentDatabase() AND table = {table:String} AND name = {column:String}',
    { table: agg.table, column: agg.timeColumn },
  )
  if (!column) return 0 // not created yet
  const table = ident(agg.table)
  const time = ident(agg.timeColumn)
  // A Date row covers its whole day: it goes once the day has ended before the cutoff.
  const isDay = /^(?:Nullable\()?Date(?:32)?\)?$/.test(column.type)
  const bound = (cutoff: Date) => (isDay ? { cutoff: utcDay(cutoff) } : { cutoff: chTime(cutoff) })
  const cmp = isDay ? `${time} < {cutoff:Date32}` : `${time} < {cutoff:DateTime64(3, 'UTC')}`

  // The sites this table holds rows for: statistics outlive their raw events.
  const sites = agg.siteColumn
    ? [...new Set([...given, ...(await select<{ site: string }>(client, `SELECT DISTINCT toString(${ident(agg.siteColumn)}) AS site FROM ${table}`)).map((r) => r.site)])]
    : given
  const longest = Math.max(policy.forSite('').aggregatesDays, ...sites.map((s) => policy.forSite(s).aggregatesDays))
  const targets: { site: string | null; cutoff: Date }[] = agg.siteColumn
    ? sites.map((site) => ({ site, cutoff: aggregatesCutoff(policy, site, now) }))
    : [{ site: null, cutoff: new Date(now.getTime() - longest * DAY) }]
  let total = 0
  for (const t of targets) {
    const where = t.site === null ? cmp : `${ident(agg.siteColumn!)} = {site:String} AND ${cmp}`
    const params = { ...bound(t.cutoff), ...(t.site === null ? {} : { site: t.site }) }
    const [{ n }] = await select<{ n: number }>(client, `SELECT count() AS n FROM ${table} WHERE ${where}`, params)
    if (n === 0) continue
    total += n
    if (t.site !== null) siteEntry(report, policy, t.site, now).aggregateRows += n
    if (!dryRun) await client.command({ query: `DELETE FROM ${table} WHERE ${where}`, query_params: params })
  }
  if (total > 0 && !dryRun && agg.table === 'rollup_daily') await renewRollupBuilds(client)
  return total
}

/** The report as `analytics purge` prints it. */
export function formatPurgeReport(r: PurgeReport): string {
  const verb = r.dryRun ? 'would remove' : 'removed'
  const days = r.droppedPartitions.length
  const lines = [
    `purge${r.dryRun ? ' (dry run)' : ''}: ${verb} ${r.deletedRowsEstimate} rows; ` +
      (days ? `${days} whole day(s) ${r.dryRun ? 'to drop' : 'dropped'} (${r.droppedPartitions[0]}..${r.droppedPartitions[days - 1]})` : 'no whole day expired'),
  ]
  for (const [site, s] of Object.entries(r.perSite)) {
    lines.push(
      `  ${site}: raw events kept ${s.rawEventsDays} days (before ${s.rawCutoff} expired): ` +
        `${s.droppedRows} in dropped days, ${s.deletedRows} deleted; aggregates kept ${s.aggregatesDays} days: ${s.aggregateRows} deleted`,
    )
  }
  return lines.join('\n')
}
