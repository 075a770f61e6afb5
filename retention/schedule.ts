import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyBaseLogger } from 'fastify'
import type { Policy } from '../policy/policy.ts'
import { purge, type PurgeOptions, type PurgeReport } from './purge.ts'

export interface RetentionScheduleOptions {
  client: ClickHouseClient
  /** Read at each run: a reloaded policy applies from the next purge on. */
  policy: () => Policy
  sites: () => string[]
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>
  everyMs?: number
  firstAfterMs?: number
  /**
   * Whether the system clock can be believed (collector/clock.ts): a scheduled purge is put
   * off while the wall clock has jumped, so that a clock set ahead by mistake deletes nothing.
   */
  clockSteady?: () => boolean
  /** Whether this process runs the scheduled purge now (it holds the jobs lease, server/lease.ts); `runNow` runs regardless. */
  active?: () => boolean
  /** The purge itself; tests replace it. */
  run?: (opts: PurgeOptions) => Promise<PurgeReport>
}

/**
 * The server's retention: a purge shortly after start, then every hour. Runs never overlap:
 * an on-demand purge (`analytics purge`) waits for a scheduled one in progress, and `stop`
 * waits for the one in progress before the store closes.
 */
export class RetentionSchedule {
  private timer: NodeJS.Timeout | null = null
  private chain: Promise<unknown> = Promise.resolve()
  private stopped = false
  private readonly run: (opts: PurgeOptions) => Promise<PurgeReport>

  constructor(private opts: RetentionScheduleOptions) {
    this.run = opts.run ?? ((o) => purge(opts.client, opts.policy(), opts.sites(), new Date(), o))
  }

  start(): void {
    if (this.timer || this.stopped) return
    this.schedule(this.opts.firstAfterMs ?? 60_000)
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      if (this.opts.active && !this.opts.active()) {
        this.schedule(this.opts.everyMs ?? 3_600_000)
        return
      }
      if (this.opts.clockSteady && !this.opts.clockSteady()) {
        this.opts.log.warn('retention: the system clock jumped; the purge waits until the clock is steady or the jump has lasted an hour')
        this.schedule(this.opts.everyMs ?? 3_600_000)
        return
      }
      this.runNow()
        .then((r) => {
          if (r.droppedPartitions.length || r.deletedRowsEstimate) {
            this.opts.log.info({ droppedPartitions: r.droppedPartitions.length, deletedRows: r.deletedRowsEstimate }, 'retention: expired events removed')
          }
        })
        .catch((err) => this.opts.log.warn({ err: (err as Error).message }, 'retention: purge failed; retried at the next run'))
        .finally(() => this.schedule(this.opts.everyMs ?? 3_600_000))
    }, ms)
    this.timer.unref()
  }

  /** One purge now, after any purge in progress. */
  runNow(opts: PurgeOptions = {}): Promise<PurgeReport> {
    if (this.stopped) return Promise.reject(new Error('retention schedule is stopped'))
    const next = this.chain.then(() => this.run(opts))
    this.chain = next.catch(() => undefined)
    return next
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.chain
  }
}
