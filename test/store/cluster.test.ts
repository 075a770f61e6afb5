import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../store/client.ts'
import { clusterRead, clusterStatement, clusterTranslator, SHARDED } from '../../store/cluster.ts'
import { migrationPlan } from '../../store/migrate.ts'
import { tempDataDir } from '../helpers/app.ts'

/**
 * The DDL a ClickHouse cluster gets (CLICKHOUSE_CLUSTER). No cluster runs here: every statement
 * is parsed by the engine's own parser (`formatQuery`, through the embedded engine), and its
 * shape checked: ON CLUSTER, replicated engines, distributed tables over the sharded ones.
 */
const cluster = { name: 'analytics_cluster', database: 'analytics' }
const plan = migrationPlan(cluster)
const all = [...plan.bootstrap, ...plan.migrations.flatMap((m) => m.statements)]

let store: Store
beforeAll(async () => {
  store = await openStore({ dataDir: tempDataDir(), clickhouseDatabase: 'analytics' })
})
afterAll(async () => {
  await store?.close()
})

describe('migrations on a cluster', () => {
  it('are statements the engine parses, every one of them', async () => {
    for (const query of all) {
      const rs = await store.client.query({ query: 'SELECT formatQuery({q:String}) AS f', query_params: { q: query }, format: 'JSONEachRow' })
      const [{ f }] = await rs.json<{ f: string }>()
      expect(f.length).toBeGreaterThan(0)
    }
  })

  it('run every change ON CLUSTER, on replicated tables only', () => {
    for (const q of all) {
      if (/^INSERT INTO/.test(q)) continue
      expect(q, q.slice(0, 80)).toContain(`ON CLUSTER ${cluster.name}`)
      for (const [, engine] of q.matchAll(/ENGINE = (\w+)/g)) expect(engine, q.slice(0, 80)).toMatch(/^(?:Replicated\w*MergeTree|Distributed)$/)
    }
    // a table dropped and made again gets a new Keeper path: dropped SYNC, kept under its uuid
    for (const q of all.filter((q) => /^DROP /.test(q))) expect(q).toMatch(/ SYNC$/)
    for (const q of all.filter((q) => /ENGINE = Replicated/.test(q))) expect(q).toMatch(/Replicated\w*MergeTree\('\/clickhouse\/tables\/\{uuid\}\/(?:\{shard\}|all)', '\{replica\}'/)
  })

  it('shard events and what the store derives from them, each read through a Distributed table', () => {
    for (const [table, key] of Object.entries(SHARDED)) {
      const local = all.filter((q) => q.startsWith(`CREATE TABLE IF NOT EXISTS ${table}_local ON CLUSTER`))
      expect(local.at(-1)).toContain("'/clickhouse/tables/{uuid}/{shard}'")
      expect(all).toContain(`CREATE TABLE IF NOT EXISTS ${table} ON CLUSTER ${cluster.name} AS ${table}_local\nENGINE = Distributed(${cluster.name}, analytics, ${table}_local, ${key})`)
    }
    // the views derive on each shard from its own events, into its own tables
    const views = all.filter((q) => q.startsWith('CREATE MATERIALIZED VIEW'))
    expect(views.length).toBeGreaterThanOrEqual(3)
    for (const v of views) {
      expect(v).toMatch(/ TO (?:visits|event_counts|visitless_counts|page_days|headcount_days)_local AS\n/)
      expect(v).toMatch(/\bFROM events_local\b/)
      expect(v).not.toMatch(/\bFROM events\b/)
    }
    // visits sorted anew (031): the shards' local tables change places, each Distributed table names its own
    expect(all).toContain(`EXCHANGE TABLES visits_local AND visits_by_start_local ON CLUSTER ${cluster.name}`)
    expect(all).toContain(`EXCHANGE TABLES visits_local AND visits_with_views_local ON CLUSTER ${cluster.name}`)
    // the days of visits in several parts merged before their rows are marked (034): on each shard's own
    expect(all).toContain(`OPTIMIZE TABLE visits_local ON CLUSTER ${cluster.name} FINAL SETTINGS optimize_skip_merged_partitions = 1`)
    expect(all.filter((q) => /^EXCHANGE /.test(q))).toHaveLength(2)
    // a new column reaches the local tables and the Distributed one alike
    expect(all).toContain(`ALTER TABLE events_local ON CLUSTER ${cluster.name} ADD COLUMN IF NOT EXISTS network_id UInt64 DEFAULT 0 AFTER visitor_id`)
    expect(all).toContain(`ALTER TABLE events ON CLUSTER ${cluster.name} ADD COLUMN IF NOT EXISTS network_id UInt64 DEFAULT 0 AFTER visitor_id`)
  })

  it('keep small tables whole on every node; a staging copy gets its own replicated storage', () => {
    const sites = all.find((q) => q.startsWith('CREATE TABLE IF NOT EXISTS sites '))!
    expect(sites).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/all', '{replica}', created_at)")
    const stage = all.find((q) => q.startsWith('CREATE TABLE IF NOT EXISTS rollup_daily_stage '))!
    expect(stage).toMatch(/^CREATE TABLE IF NOT EXISTS rollup_daily_stage ON CLUSTER analytics_cluster AS rollup_daily\nENGINE = ReplicatedSummingMergeTree\('\/clickhouse\/tables\/\{uuid\}\/all', '\{replica\}'\)\nPARTITION BY build_day\nORDER BY \(site, dim, day, value\)$/)
    expect(plan.bootstrap[0]).toBe('CREATE DATABASE IF NOT EXISTS analytics ON CLUSTER analytics_cluster')
    expect(plan.bootstrap.some((q) => q.startsWith('CREATE TABLE IF NOT EXISTS leases ON CLUSTER'))).toBe(true)
  })

  it('refuse a statement they do not know how to make on a cluster', () => {
    const translate = clusterTranslator(cluster)
    expect(() => translate('CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a')).toThrow(/no translation/)
    expect(() => translate('RENAME TABLE a TO b')).toThrow(/no translation/)
    expect(() => clusterTranslator({ name: 'x; DROP', database: 'analytics' })).toThrow(/identifier/)
  })
})

describe("statements that change a sharded table's rows or parts", () => {
  const c = 'analytics_cluster'
  it('reach its local table on every shard', () => {
    expect(clusterStatement(c, 'ALTER TABLE events DROP PARTITION ID {id:String}', { id: '20261129' })).toEqual({
      query: `ALTER TABLE events_local ON CLUSTER ${c} DROP PARTITION ID {id:String}`,
      params: { id: '20261129' },
    })
    expect(clusterStatement(c, 'DELETE FROM visits WHERE site = {site:String}').query).toBe(`DELETE FROM visits_local ON CLUSTER ${c} WHERE site = {site:String}`)
    expect(clusterStatement(c, 'OPTIMIZE TABLE visits PARTITION {day:Date} FINAL').query).toBe(`OPTIMIZE TABLE visits_local ON CLUSTER ${c} PARTITION {day:Date} FINAL`)
    // a table named by parameter (a site's removal walks the tables system.tables lists)
    expect(clusterStatement(c, 'ALTER TABLE {table:Identifier} DELETE WHERE site = {site:String}', { table: 'events_local', site: 'example.com' })).toEqual({
      query: `ALTER TABLE {table:Identifier} ON CLUSTER ${c} DELETE WHERE site = {site:String}`,
      params: { table: 'events_local', site: 'example.com' },
    })
  })

  it('leave replicated tables, and reads, as they are; a read of a local table by name sees every shard', () => {
    for (const q of ['ALTER TABLE salts DROP PARTITION ID {id:String}', 'DELETE FROM users WHERE name = {name:String}', 'SELECT count() FROM events']) {
      expect(clusterStatement(c, q, { id: '1' }).query).toBe(q)
    }
    expect(clusterStatement(c, 'ALTER TABLE {table:Identifier} DELETE WHERE 1', { table: 'tokens' }).query).toBe('ALTER TABLE {table:Identifier} DELETE WHERE 1')
    expect(clusterRead('SELECT count() FROM {table:Identifier} WHERE site = {site:String}', { table: 'events_local', site: 'events_local' })).toEqual({ table: 'events', site: 'events_local' })
  })
})
