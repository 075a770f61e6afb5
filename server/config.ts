import { isIP } from 'node:net'
import path from 'node:path'
import { smtpSettings, type SmtpSettings } from '../aggregator/reports/mailer.ts'

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
  /** A ClickHouse cluster's name (CLICKHOUSE_CLUSTER): migrations create replicated and distributed tables on it. */
  clickhouseCluster?: string
  /** How long the scheduled jobs' lease lasts without renewal before another process takes it over. */
  leaseTtlMs: number
  /**
   * Which X-Forwarded-For hops are believed (Fastify's trustProxy): none, the number of proxies
   * in front of the server, or their addresses; the client is the first address not trusted.
   */
  trustProxy: false | number | string[]
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
  /** Questions to the stats and export API each token (a per-site token, a shared link, a session) may ask a minute; 0 turns the limit off. */
  statsRateLimit: number
  /** How often visits and rollups are rebuilt from new events; 0 turns the schedule off. */
  rollupIntervalMs: number
  logLevel: string
  /** The SMTP server reports are sent through (SMTP_URL or SMTP_HOST…, SMTP_FROM); null: none is sent. */
  smtp: SmtpSettings | null
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`)
  return n
}

/** proxy-addr's names for address ranges, accepted as addresses are. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])

function trustedAddress(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true
  const [address, bits, ...rest] = entry.split('/')
  const version = isIP(address)
  if (!version || rest.length) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

/**
 * TRUST_PROXY: a hop count or a list of proxy addresses and CIDR blocks. Never `true`: Fastify
 * then takes the leftmost X-Forwarded-For address, which the client itself writes, so every
 * per-client limit could be dodged by changing a header.
 */
function trustProxy(raw: string | undefined): false | number | string[] {
  const value = raw?.trim() ?? ''
  if (value === '' || value === 'false' || value === '0') return false
  if (value === 'true') {
    throw new Error('TRUST_PROXY=true would believe any X-Forwarded-For address a client writes: set the number of proxies in front of the server (TRUST_PROXY=1 behind one reverse proxy) or their addresses (TRUST_PROXY=10.0.0.5 or 10.0.0.0/8)')
  }
  if (/^\d+$/.test(value)) return Number(value)
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean)
  const bad = entries.filter((e) => !trustedAddress(e))
  if (bad.length) throw new Error(`TRUST_PROXY must be a hop count or a comma-separated list of proxy addresses and CIDR blocks; not an address: ${bad.join(', ')}`)
  return entries
}

/**
 * TRUST_PROXY as Fastify takes it. A hop count becomes proxy-addr's trust function (trust the
 * socket's peer and the hops after it, `hops` in all): Fastify 5 itself trusts no hop for a number.
 */
export function fastifyTrustProxy(trust: Config['trustProxy']): false | string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust
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
    clickhouseCluster: env.CLICKHOUSE_CLUSTER || undefined,
    leaseTtlMs: int(env, 'LEASE_TTL_MS', 30_000),
    trustProxy: trustProxy(env.TRUST_PROXY),
    adminToken: env.ANALYTICS_ADMIN_TOKEN || undefined,
    policyFile: path.resolve(env.POLICY_FILE || new URL('../policies/strict.yaml', import.meta.url).pathname),
    geoipDb: env.GEOIP_DB || undefined,
    referrerSpamFiles: (env.REFERRER_SPAM_FILES || '').split(path.delimiter).filter(Boolean).map((f) => path.resolve(f)),
    spoolCapBytes: int(env, 'SPOOL_CAP_BYTES', 1024 * 1024 * 1024),
    batchRows: int(env, 'BATCH_ROWS', 20000),
    batchMs: int(env, 'BATCH_MS', 1000),
    spoolFsync: env.SPOOL_FSYNC !== '0' && env.SPOOL_FSYNC !== 'false',
    bodyLimit: int(env, 'BODY_LIMIT', 8 * 1024),
    ingestRateLimit: int(env, 'INGEST_RATE_LIMIT', 1200),
    statsRateLimit: int(env, 'STATS_RATE_LIMIT', 300),
    rollupIntervalMs: int(env, 'ROLLUP_INTERVAL_MS', 60_000),
    logLevel: env.LOG_LEVEL || 'info',
    smtp: smtpSettings(env),
    ...overrides,
  }
}
