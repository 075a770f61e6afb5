import path from 'node:path'

/** Everything the program reads from the environment, read once. */
export interface Config {
  host: string
  port: number
  dataDir: string
  /** ClickHouse server URL; undefined means the embedded chDB engine. */
  clickhouseUrl?: string
  clickhouseUser?: string
  clickhousePassword?: string
  clickhouseDatabase: string
  /** Whether X-Forwarded-For is believed (Fastify's trustProxy: true, hop count or address list). */
  trustProxy: boolean | number | string
  adminToken?: string
  policyFile: string
  geoipDb?: string
  /** More referrer-spam hosts files (one host per line), added to the built-in list. */
  referrerSpamFiles: string[]
  /** Refuse beacons with 503 once the spool holds this many bytes. */
  spoolCapBytes: number
  /** A spool segment is sealed and sent after this many rows or this many ms. */
  batchRows: number
  batchMs: number
  /** fsync the spool before answering 202 (group commit); off trades crash-of-machine safety for speed. */
  spoolFsync: boolean
  bodyLimit: number
  /** Beacons each client (keyed hash of its address) may send a minute; 0 turns the limit off. */
  ingestRateLimit: number
  /** How often visits and rollups are rebuilt from new events; 0 turns the schedule off. */
  rollupIntervalMs: number
  logLevel: string
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`)
  return n
}

function trustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false
  if (raw === 'true') return true
  if (/^\d+$/.test(raw)) return Number(raw)
  return raw
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const dataDir = path.resolve(env.ANALYTICS_DATA_DIR || './data')
  return {
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 8080),
    dataDir,
    clickhouseUrl: env.CLICKHOUSE_URL || undefined,
    clickhouseUser: env.CLICKHOUSE_USER || undefined,
    clickhousePassword: env.CLICKHOUSE_PASSWORD || undefined,
    clickhouseDatabase: env.CLICKHOUSE_DATABASE || 'analytics',
    trustProxy: trustProxy(env.TRUST_PROXY),
    adminToken: env.ANALYTICS_ADMIN_TOKEN || undefined,
    policyFile: path.resolve(env.POLICY_FILE || new URL('../policies/strict.yaml', import.meta.url).pathname),
    geoipDb: env.GEOIP_DB || undefined,
    referrerSpamFiles: (env.REFERRER_SPAM_FILES || '').split(path.delimiter).filter(Boolean).map((f) => path.resolve(f)),
    spoolCapBytes: int(env, 'SPOOL_CAP_BYTES', 1024 * 1024 * 1024),
    batchRows: int(env, 'BATCH_ROWS', 5000),
    batchMs: int(env, 'BATCH_MS', 1000),
    spoolFsync: env.SPOOL_FSYNC !== '0' && env.SPOOL_FSYNC !== 'false',
    bodyLimit: int(env, 'BODY_LIMIT', 8 * 1024),
    ingestRateLimit: int(env, 'INGEST_RATE_LIMIT', 1200),
    rollupIntervalMs: int(env, 'ROLLUP_INTERVAL_MS', 60_000),
    logLevel: env.LOG_LEVEL || 'info',
    ...overrides,
  }
}
