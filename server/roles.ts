import type { FastifyBaseLogger } from 'fastify'
import type { RollupJob } from '../aggregator/rollup/job.ts'
import type { StoreSaltBackend } from '../collector/salts.ts'
import type { RetentionSchedule } from '../retention/schedule.ts'
import { storeErrorSummary } from '../store/errors.ts'
import type { Config } from './config.ts'
import { StoreLease, type Lease } from './lease.ts'

/**
 * What a server process does (`analytics serve --role`):
 * - `all` (the default): everything, as one process on the embedded engine or a ClickHouse server;
 * - `collector`: beacons, the tracker, the spool and its inserts into the store;
 * - `aggregator`: the stats API, exports, dashboards and the admin API, and the scheduled jobs
 *   (daily rollups, retention, deleting expired salts), which run in one aggregator at a time.
 * Several of each may run against one ClickHouse store; the embedded engine belongs to one process.
 */
export const ROLES = ['all', 'collector', 'aggregator'] as const
export type Role = (typeof ROLES)[number]

/** Whether the role takes beacons. */
export const collects = (role: Role) => role !== 'aggregator'
/** Whether the role answers questions and runs the scheduled jobs. */
export const aggregates = (role: Role) => role !== 'collector'

/** The role asked for, once it is known to fit the store: a role of its own needs a store other processes can reach. */
export function checkRole(role: string, config: Pick<Config, 'clickhouseUrl'>): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`)
  if (role !== 'all' && !config.clickhouseUrl) {
    throw new Error(`--role ${role} shares a store with other processes: set CLICKHOUSE_URL (a ClickHouse server, or \`analytics store serve\`); the embedded engine belongs to one process`)
  }
  return role as Role
}

/** How often expired salts are looked for (they are deleted within a minute of their period's end). */
const SALT_CLEANUP_MS = 60_000

export interface ScheduledJobsOptions {
  /** Who runs the jobs now: this process alone on the embedded engine, else a lease in the store. */
  lease: Lease
  rollups: RollupJob
  /** Its timer runs in every aggregator and purges only while `lease` is held (its `active` option). */
  retention: RetentionSchedule
  salts: StoreSaltBackend
  now: () => number
  config: Pick<Config, 'rollupIntervalMs'>
  log: FastifyBaseLogger
}

/**
 * The scheduled jobs of an aggregator: built daily rollups, retention's purge, expired salts
 * deleted from the store. They run in the process holding the `jobs` lease; when it dies, the
 * lease expires and another aggregator takes them over. A job already running when the lease is
 * lost finishes; no new one starts.
 */
export class ScheduledJobs {
  private saltTimer: NodeJS.Timeout | null = null

  constructor(private opts: ScheduledJobsOptions) {}

  start(): void {
    const { lease, log } = this.opts
    if (lease instanceof StoreLease) lease.start((err) => log.warn({ err: storeErrorSummary(err) }, 'the jobs lease could not be taken or renewed; retried'))
    else this.changed(true)
    this.opts.retention.start()
    this.saltTimer = setInterval(() => {
      if (!lease.held) return
      this.opts.salts.dropExpired(this.opts.now()).catch((err) => log.warn({ err: storeErrorSummary(err) }, 'deleting expired salts failed'))
    }, SALT_CLEANUP_MS)
    this.saltTimer.unref()
  }

  /** The lease's `onChange`. */
  changed(held: boolean): void {
    const { rollups, config, log } = this.opts
    if (!held) {
      log.info('the scheduled jobs run in another process now')
      void rollups.stop()
      return
    }
    if (this.opts.lease instanceof StoreLease) log.info('this process runs the scheduled jobs (rollups, retention, salts)')
    if (config.rollupIntervalMs > 0) {
      rollups.start(config.rollupIntervalMs, (err, where) => log.warn({ err: storeErrorSummary(err), ...where }, 'building rollups failed'))
    }
  }

  async stop(): Promise<void> {
    if (this.saltTimer) clearInterval(this.saltTimer)
    await this.opts.rollups.stop()
    await this.opts.retention.stop()
    if (this.opts.lease instanceof StoreLease) await this.opts.lease.stop()
  }
}
