import type { ClickHouseClient } from '@clickhouse/client'

/**
 * Deleting on request, as opposed to by age (purge.ts): a removed site's data, and rows whose
 * secrets must leave the disk now rather than at some later merge.
 */

/** The store's tables holding rows per site: every MergeTree table with a `site` column (views hold nothing). */
export async function perSiteTables(client: ClickHouseClient): Promise<string[]> {
  const rs = await client.query({
    query: `SELECT t.name AS name FROM system.tables AS t
            INNER JOIN system.columns AS c ON c.database = t.database AND c.table = t.name
            WHERE t.database = currentDatabase() AND c.name = 'site' AND t.engine LIKE '%MergeTree'
            ORDER BY name`,
    format: 'JSONEachRow',
  })
  return (await rs.json<{ name: string }>()).map((r) => r.name)
}

/**
 * Deletes every row of `site` from every per-site table (events, visits, daily statistics,
 * goals, tokens and shared links, export keys and budgets, and any table added later with a
 * `site` column). A mutation rewrites the parts, so the rows leave the disk and not only the
 * answers; it returns once every table is done. Answers the tables that held rows of the site.
 */
export async function eraseSiteData(client: ClickHouseClient, site: string): Promise<string[]> {
  const touched: string[] = []
  for (const table of await perSiteTables(client)) {
    const rs = await client.query({ query: 'SELECT count() AS n FROM {table:Identifier} WHERE site = {site:String}', query_params: { table, site }, format: 'JSONEachRow' })
    const [{ n }] = await rs.json<{ n: number }>()
    if (Number(n) === 0) continue
    await client.command({
      query: 'ALTER TABLE {table:Identifier} DELETE WHERE site = {site:String}',
      query_params: { table, site },
      clickhouse_settings: { mutations_sync: '2' },
    })
    touched.push(table)
  }
  return touched
}

/**
 * Rewrites `table` into merged parts, so that rows deleted or replaced in it (a removed user's
 * password hash, say) are in no active part any more, then waits for the parts it replaced to
 * leave the disk (see `removeReplacedParts`).
 */
export async function eraseFromDisk(client: ClickHouseClient, table: string): Promise<boolean> {
  await client.command({ query: 'OPTIMIZE TABLE {table:Identifier} FINAL', query_params: { table } })
  return removeReplacedParts(client, table)
}

/**
 * Waits (up to `timeoutMs`) until no replaced or dropped part of `table` is left on disk; false
 * if some still is. Tables holding secrets keep such parts a second (`old_parts_lifetime`,
 * migrations 014 and 018), but on a quiet store the engine's cleanup backs off for tens of
 * seconds: `SYSTEM START CLEANUP` has it look again now.
 */
export async function removeReplacedParts(client: ClickHouseClient, table: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    // a server account without SYSTEM rights cannot ask: the cleanup then comes in its own time
    await client.command({ query: 'SYSTEM START CLEANUP {table:Identifier}', query_params: { table } }).catch(() => undefined)
    const rs = await client.query({
      query: 'SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = {table:String} AND NOT active',
      query_params: { table },
      format: 'JSONEachRow',
    })
    const [{ n }] = await rs.json<{ n: number }>()
    if (Number(n) === 0) return true
    if (Date.now() >= deadline) return false
    await new Promise((r) => setTimeout(r, 250))
  }
}
