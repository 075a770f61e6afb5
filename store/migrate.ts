import fs from 'node:fs'
import type { ClickHouseClient } from '@clickhouse/client'
import { clusterTranslator, type Cluster } from './cluster.ts'

const migrationsDir = new URL('./migrations/', import.meta.url)

/**
 * Numbered `.sql` files, applied in order, each once; each file is idempotent on its own too.
 * A statement with the parameter `{day:Date}` runs once for each day the `visits` table holds,
 * oldest first (a copy of a big table made a day at a time, its memory bounded by a day's rows).
 */
export function listMigrations(): { version: number; name: string; statements: string[] }[] {
  return fs
    .readdirSync(migrationsDir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(new URL(name, migrationsDir), 'utf8')
      const statements = sql
        .split(/;\s*$/m)
        .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
        .filter(Boolean)
      return { version: Number(name.split('_')[0]), name, statements }
    })
}

/**
 * The tables migrations themselves need, made before any is applied: which versions are
 * applied, and the leases through which one process at a time applies them (server/lease.ts).
 */
export const BOOTSTRAP = [
  `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now())
   ENGINE = ReplacingMergeTree ORDER BY version`,
  // one row per take, renewal or release of a lease; the newest version of a name says who holds it
  `CREATE TABLE IF NOT EXISTS leases (name LowCardinality(String), holder String, version UInt64, expires_at DateTime64(3, 'UTC'))
   ENGINE = ReplacingMergeTree(version) ORDER BY name`,
]

export interface MigrateOptions {
  /** A ClickHouse cluster: every statement as `clusterTranslator` makes it (ON CLUSTER, replicated and distributed tables). */
  cluster?: Cluster
  /**
   * Runs the pending migrations while no other process does (a lease in the store); unset, they
   * run at once (the embedded engine belongs to this process alone).
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>
}

/** The bootstrap and every migration, as the statements this store runs (a cluster's translated in order). */
export function migrationPlan(cluster?: Cluster): { bootstrap: string[]; migrations: { version: number; name: string; statements: string[] }[] } {
  const migrations = listMigrations()
  if (!cluster) return { bootstrap: BOOTSTRAP, migrations }
  const translate = clusterTranslator(cluster)
  return {
    bootstrap: [`CREATE DATABASE IF NOT EXISTS ${cluster.database} ON CLUSTER ${cluster.name}`, ...BOOTSTRAP.flatMap(translate)],
    migrations: migrations.map((m) => ({ ...m, statements: m.statements.flatMap(translate) })),
  }
}

const EACH_DAY = '{day:Date}'

/** The days `visits` holds, oldest first. */
async function visitDays(client: ClickHouseClient): Promise<string[]> {
  const rs = await client.query({ query: 'SELECT DISTINCT toString(day) AS day FROM visits ORDER BY day', format: 'JSONEachRow' })
  return (await rs.json<{ day: string }>()).map((r) => r.day)
}

/** Runs a migration's statements in order, a statement with `{day:Date}` once for each day of `visits`. */
export async function runStatements(client: ClickHouseClient, statements: string[]): Promise<void> {
  for (const query of statements) {
    if (!query.includes(EACH_DAY)) await client.command({ query })
    else for (const day of await visitDays(client)) await client.command({ query, query_params: { day } })
  }
}

/** Applies the migrations this store lacks; answers their versions. */
export async function migrate(client: ClickHouseClient, opts: MigrateOptions = {}): Promise<number[]> {
  const plan = migrationPlan(opts.cluster)
  for (const query of plan.bootstrap) await client.command({ query })
  const pending = async () => {
    const rs = await client.query({ query: 'SELECT version FROM schema_migrations FINAL', format: 'JSONEachRow' })
    const done = new Set((await rs.json<{ version: number }>()).map((r) => r.version))
    return plan.migrations.filter((m) => !done.has(m.version))
  }
  if ((await pending()).length === 0) return []
  const apply = async () => {
    const applied: number[] = []
    // read again once it is this process's turn: another may have applied them meanwhile
    for (const m of await pending()) {
      await runStatements(client, m.statements)
      await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' })
      applied.push(m.version)
    }
    return applied
  }
  return opts.exclusive ? opts.exclusive(apply) : apply()
}
