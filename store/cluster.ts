import type { ClickHouseClient, CommandParams, QueryParams } from '@clickhouse/client'

/**
 * What a ClickHouse cluster (CLICKHOUSE_CLUSTER) changes, in one place: the migrations' DDL, and
 * the few statements that change a sharded table's rows or parts in place.
 *
 * Layout. Events, and what the store derives from them at insert (visits, event counts), are
 * sharded: each shard holds `<name>_local`, a Replicated*MergeTree, and every node has `<name>`,
 * a Distributed table over them, which the program reads and inserts through as before. Events
 * are spread by visitor hash, so all events of a visitor's day, hence every visit, are on one
 * shard, and the materialised views (on each node's `events_local`) derive whole visits. Every
 * other table (sites, salts, tokens, users, goals, rollups, leases, …) is small and replicated
 * on every node of the cluster. All DDL runs ON CLUSTER; Keeper paths use `{uuid}` (a table
 * dropped and created again gets a new one) and `{shard}`, replicas are named by `{replica}`,
 * which must be unique across the cluster (see deploy/).
 */

/** Sharded tables and how rows are spread over the shards when inserted through the Distributed table. */
export const SHARDED: Readonly<Record<string, string>> = {
  events: 'visitor_id',
  visits: 'visitor_id',
  // visits sorted anew (migration 031) while it is made, then exchanged with `visits`
  visits_by_start: 'visitor_id',
  // visits with their pageviews (migration 032), likewise
  visits_with_views: 'visitor_id',
  event_counts: 'rand()',
  // today's page rows (migration 033): a page's states on each shard are of that shard's visitors, merged when read
  page_days: 'rand()',
  // today's headcount (migration 035): likewise, each shard's visitors in its own states
  headcount_days: 'rand()',
  visitless_counts: 'rand()',
}

export interface Cluster {
  name: string
  database: string
}

const local = (table: string) => `${table}_local`
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Tables created so far, with their storage (ENGINE … to the end), for `CREATE TABLE x AS y`. */
type Storage = Map<string, string>

/**
 * Translates the migrations' statements, given in order, into the cluster's DDL (a statement may
 * become several). A statement it does not know is an error, so that a new kind of migration
 * cannot reach a cluster untranslated: the DDL test runs every migration through it.
 */
export function clusterTranslator(cluster: Cluster): (statement: string) => string[] {
  for (const name of [cluster.name, cluster.database]) if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${name}`)
  const storage: Storage = new Map()
  return (statement) => translate(cluster, storage, statement.trim())
}

function translate(c: Cluster, storage: Storage, sql: string): string[] {
  const on = `ON CLUSTER ${c.name}`
  let m: RegExpExecArray | null
  if ((m = /^CREATE TABLE IF NOT EXISTS (\w+) AS (\w+)$/i.exec(sql))) {
    const [, table, source] = m
    const from = SHARDED[source] ? local(source) : source
    const engine = storage.get(from)
    if (!engine) throw new Error(`cluster DDL: ${table} copies ${source}, whose storage is not known`)
    storage.set(table, engine)
    return [`CREATE TABLE IF NOT EXISTS ${table} ${on} AS ${from}\n${replicated(engine, table, false)}`]
  }
  if ((m = /^CREATE TABLE IF NOT EXISTS (\w+)\s*(\([\s\S]*\))\s*(ENGINE\s*=[\s\S]*)$/i.exec(sql))) {
    const [, table, columns, engine] = m
    if (!SHARDED[table]) {
      storage.set(table, engine)
      return [`CREATE TABLE IF NOT EXISTS ${table} ${on}\n${columns}\n${replicated(engine, table, false)}`]
    }
    storage.set(local(table), engine)
    return [
      `CREATE TABLE IF NOT EXISTS ${local(table)} ${on}\n${columns}\n${replicated(engine, local(table), true)}`,
      `CREATE TABLE IF NOT EXISTS ${table} ${on} AS ${local(table)}\nENGINE = Distributed(${c.name}, ${c.database}, ${local(table)}, ${SHARDED[table]})`,
    ]
  }
  if ((m = /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\s([\s\S]*)$/i.exec(sql))) {
    // on each node, from its shard's events into its shard's tables: a view sees the rows inserted where it is
    const [, view, target, select] = m
    const from = select.replace(/\bFROM\s+(\w+)/gi, (whole, t: string) => (SHARDED[t] ? `FROM ${local(t)}` : whole))
    return [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${view} ${on} TO ${SHARDED[target] ? local(target) : target} AS\n${from}`]
  }
  if ((m = /^ALTER TABLE (\w+)\s+([\s\S]*)$/i.exec(sql))) {
    const [, table, change] = m
    if (!SHARDED[table]) return [`ALTER TABLE ${table} ${on} ${change}`]
    // the Distributed table mirrors the columns; settings and data belong to the local tables
    const columns = /^(?:ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b/i.test(change)
    return [`ALTER TABLE ${local(table)} ${on} ${change}`, ...(columns ? [`ALTER TABLE ${table} ${on} ${change}`] : [])]
  }
  if ((m = /^DROP (TABLE|VIEW) IF EXISTS (\w+)$/i.exec(sql))) {
    const [, kind, table] = m
    const drops = [`DROP ${kind} IF EXISTS ${table} ${on} SYNC`]
    if (SHARDED[table]) drops.push(`DROP TABLE IF EXISTS ${local(table)} ${on} SYNC`)
    return drops
  }
  if ((m = /^EXCHANGE TABLES (\w+) AND (\w+)$/i.exec(sql))) {
    const [, a, b] = m
    // two sharded tables: their local tables change places on every shard, and each Distributed
    // table, which names its local table, then reads the other's rows
    if (SHARDED[a] && SHARDED[b]) return [`EXCHANGE TABLES ${local(a)} AND ${local(b)} ${on}`]
    if (SHARDED[a] || SHARDED[b]) throw new Error(`cluster DDL: ${a} and ${b} are not both sharded`)
    return [`EXCHANGE TABLES ${a} AND ${b} ${on}`]
  }
  if ((m = /^OPTIMIZE TABLE (\w+)\s+([\s\S]*)$/i.exec(sql))) {
    // parts are merged where they are: on each shard's local table
    const [, table, rest] = m
    return [`OPTIMIZE TABLE ${SHARDED[table] ? local(table) : table} ${on} ${rest}`]
  }
  if ((m = /^TRUNCATE TABLE IF EXISTS (\w+)$/i.exec(sql))) {
    const table = SHARDED[m[1]] ? local(m[1]) : m[1]
    return [`TRUNCATE TABLE IF EXISTS ${table} ${on}`]
  }
  // rows go in through the Distributed tables, as every insert of the program
  if (/^INSERT INTO \w+(?:\s*\([\w\s,]+\))?\s+SELECT\s/i.test(sql)) return [sql]
  throw new Error(`cluster DDL: no translation for a statement beginning ${JSON.stringify(sql.slice(0, 60))}`)
}

/**
 * `ENGINE = XMergeTree(args) …` as its Replicated form, kept in Keeper under the table's uuid:
 * on each shard for a sharded table's local part, once for the whole cluster otherwise.
 */
function replicated(storage: string, table: string, sharded: boolean): string {
  const m = /^ENGINE\s*=\s*(\w*MergeTree)(?:\(([^)]*)\))?([\s\S]*)$/i.exec(storage.trim())
  if (!m) throw new Error(`cluster DDL: ${table} is not a MergeTree table`)
  const [, engine, args, rest] = m
  const path = sharded ? `'/clickhouse/tables/{uuid}/{shard}'` : `'/clickhouse/tables/{uuid}/all'`
  return `ENGINE = Replicated${engine}(${[path, `'{replica}'`, ...(args?.trim() ? [args.trim()] : [])].join(', ')})${rest}`
}

/**
 * A statement that changes a sharded table's rows or parts (a retention DELETE, a site's
 * removal, OPTIMIZE) must reach its local table on every shard: the Distributed table takes
 * reads and inserts only. Names a program statement gives as a literal or as an
 * `{x:Identifier}` parameter are both routed; a read of a local table by name (a list of tables
 * from system.tables) is sent to the Distributed one, which sees every shard.
 */
export function clusterStatement(cluster: string, query: string, params: Record<string, unknown> = {}): { query: string; params: Record<string, unknown> } {
  const change = /^(\s*(?:ALTER TABLE|OPTIMIZE TABLE|TRUNCATE TABLE(?: IF EXISTS)?|DELETE FROM)\s+)(\w+|\{(\w+):Identifier\})/i.exec(query)
  if (!change) return { query, params }
  const [whole, head, name, param] = change
  const table = param ? params[param] : name
  if (typeof table !== 'string') return { query, params }
  const base = table.endsWith('_local') ? table.slice(0, -'_local'.length) : table
  if (!SHARDED[base]) return { query, params }
  const target = param ? `{${param}:Identifier}` : local(base)
  return {
    query: `${head}${target} ON CLUSTER ${cluster}${query.slice(whole.length)}`,
    params: param ? { ...params, [param]: local(base) } : params,
  }
}

/** A read names a sharded table's Distributed form (in an `{x:Identifier}` parameter), never one shard's local part. */
export function clusterRead(query: string, params: Record<string, unknown> = {}): Record<string, unknown> {
  const out = { ...params }
  for (const [k, v] of Object.entries(params)) {
    if (typeof v === 'string' && v.endsWith('_local') && SHARDED[v.slice(0, -'_local'.length)] && query.includes(`{${k}:Identifier}`)) out[k] = v.slice(0, -'_local'.length)
  }
  return out
}

/** The store client on a cluster: statements routed as `clusterStatement` says, reads as `clusterRead`. */
export function clusterClient(client: ClickHouseClient, cluster: string): ClickHouseClient {
  const command = (p: CommandParams) => {
    const routed = clusterStatement(cluster, p.query, p.query_params)
    return client.command({ ...p, query: routed.query, query_params: routed.params })
  }
  const query = (p: QueryParams) => client.query({ ...p, query_params: clusterRead(p.query, p.query_params) } as QueryParams)
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'command') return command
      if (prop === 'query') return query
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
