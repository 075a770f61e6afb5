import fs from 'node:fs'
import type { ClickHouseClient } from '@clickhouse/client'

const migrationsDir = new URL('./migrations/', import.meta.url)

/** Numbered `.sql` files, applied in order, each once; each file is idempotent on its own too. */
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

export async function migrate(client: ClickHouseClient): Promise<number[]> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now())
            ENGINE = ReplacingMergeTree ORDER BY version`,
  })
  const rs = await client.query({ query: 'SELECT version FROM schema_migrations FINAL', format: 'JSONEachRow' })
  const done = new Set((await rs.json<{ version: number }>()).map((r) => r.version))
  const applied: number[] = []
  for (const m of listMigrations()) {
    if (done.has(m.version)) continue
    for (const query of m.statements) await client.command({ query })
    await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' })
    applied.push(m.version)
  }
  return applied
}
