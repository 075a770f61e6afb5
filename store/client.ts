import fs from 'node:fs'
import path from 'node:path'
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client'

// Both modes answer 64-bit integers as JSON numbers, so code never sees strings for counts.
// chDB applies a query's settings to its whole session: the spool writer's deduplication token
// would stick to every later insert (and silently drop a repeat), so each query resets it.
const settings = { output_format_json_quote_64bit_integers: 0, insert_deduplication_token: '' } as const
// The client's own logger may print failed requests; our callers log a sanitised summary instead.
const log = { level: ClickHouseLogLevel.OFF }

/** Where the store is: the embedded engine under `dataDir`, or a server (the config's CLICKHOUSE_* settings). */
export interface StoreConfig {
  dataDir: string
  /** A ClickHouse server's URL; undefined means the embedded chDB engine. */
  clickhouseUrl?: string
  clickhouseUser?: string
  clickhousePassword?: string
  clickhouseDatabase: string
}

export interface Store {
  client: ClickHouseClient
  /** The database every table lives in. */
  database: string
  embedded: boolean
  /** Makes sure the database exists (server mode; nothing to do embedded). Safe to repeat. */
  prepare(): Promise<void>
  close(): Promise<void>
}

/**
 * The one ClickHouse client of the program: the embedded chDB engine under
 * `$ANALYTICS_DATA_DIR/clickhouse` by default, a server when CLICKHOUSE_URL is set.
 * With `{ prepare: false }` a server is not contacted yet (the collector starts while it is
 * down, and calls `prepare` until it answers); otherwise its database is created first.
 */
export async function openStore(config: StoreConfig, opts: { prepare?: boolean } = {}): Promise<Store> {
  const store = await createStore(config)
  if (opts.prepare !== false) await store.prepare()
  return store
}

async function createStore(config: StoreConfig): Promise<Store> {
  const database = config.clickhouseDatabase
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error('CLICKHOUSE_DATABASE must be a plain identifier')
  if (config.clickhouseUrl) {
    const url = config.clickhouseUrl
    const prepare = async () => {
      const admin = createClient({ url, username: config.clickhouseUser, password: config.clickhousePassword, clickhouse_settings: settings, log })
      try {
        await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
      } finally {
        await admin.close()
      }
    }
    const client = createClient({
      url: config.clickhouseUrl,
      username: config.clickhouseUser,
      password: config.clickhousePassword,
      database,
      clickhouse_settings: settings,
      log,
    })
    return { client, database, embedded: false, prepare, close: () => client.close() }
  }
  const dir = path.join(config.dataDir, 'clickhouse')
  fs.mkdirSync(dir, { recursive: true })
  const { createChdbConnection } = await import('chdb/connection')
  const client = createClient({
    // chdb re-exports the client's Connection type from its own copy of client-common
    connection: new LazyConnection(() => createChdbConnection({ path: dir })) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'],
    clickhouse_settings: settings,
    log,
  })
  // The embedded engine belongs to this program alone: its tables live in chDB's `default` database.
  return { client, database: 'default', embedded: true, prepare: async () => undefined, close: () => client.close() }
}

type ChdbConnection = ReturnType<typeof import('chdb/connection').createChdbConnection>

/**
 * The embedded engine, opened on first use rather than at start: a data directory it cannot
 * open (read-only, say) fails each query, like a server refusing connections, until it can,
 * and the collector keeps taking beacons into its spool meanwhile.
 */
class LazyConnection {
  private conn: ChdbConnection | null = null

  constructor(private open: () => ChdbConnection) {}

  private get(): ChdbConnection {
    return (this.conn ??= this.open())
  }

  query(params: Parameters<ChdbConnection['query']>[0]) {
    return this.get().query(params)
  }
  exec(params: Parameters<ChdbConnection['exec']>[0]) {
    return this.get().exec(params)
  }
  command(params: Parameters<ChdbConnection['command']>[0]) {
    return this.get().command(params)
  }
  insert(params: Parameters<ChdbConnection['insert']>[0]) {
    return this.get().insert(params)
  }
  ping(params: Parameters<ChdbConnection['ping']>[0]) {
    return this.get().ping(params)
  }
  async close() {
    await this.conn?.close()
  }
}
