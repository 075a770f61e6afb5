import crypto from 'node:crypto'
import os from 'node:os'
import type { ClickHouseClient } from '@clickhouse/client'

/**
 * Work that one process at a time may do against a shared store (the scheduled jobs, the
 * migrations), decided by a lease kept in the store itself: no other service is needed.
 */
export interface Lease {
  /** Whether this process holds it now. */
  readonly held: boolean
}

/** The embedded engine belongs to one process: it always holds every lease. */
export const SOLE_PROCESS: Lease = { held: true }

/** Who this process is in the `leases` table: the host, the pid and a random part (a restarted pid is someone else). */
export function holderId(): string {
  return `${os.hostname()}/${process.pid}/${crypto.randomBytes(4).toString('hex')}`
}

/** The newest row of a lease (holder '' when free). */
interface LeaseRow {
  holder: string
  version: number
  expiresInMs: number
}

export interface StoreLeaseOptions {
  /** The lease's name: `jobs`, `migrations`. */
  name: string
  /** How long a take or renewal lasts; a holder renews every third of it. */
  ttlMs: number
  holder?: string
  /**
   * Time for a contender that read the same free lease to land its row too, before the read
   * that decides between them. Inserts here take milliseconds; a second is ample.
   */
  settleMs?: number
  /** On a cluster: writes wait for a quorum of replicas and reads see every quorum write. */
  cluster?: boolean
  /** Hears when this process gains or loses the lease. */
  onChange?: (held: boolean) => void
}

/**
 * A lease in the store's `leases` table (a ReplacingMergeTree ordered by name): each take,
 * renewal or release is a new row with the next version, expiring at the store's clock plus the
 * TTL. Taking it is an insert and a read-back, which is safe on ClickHouse without transactions:
 *
 * 1. read the newest row (highest version; between rows of one version, the greatest holder);
 * 2. if another holds it and it has not expired, stop; otherwise write version + 1 with our id;
 * 3. wait `settleMs` (anyone who read the same row writes the same version meanwhile), read
 *    again: we hold it if the newest row is ours. Every contender reads the same winner.
 *
 * A holder renews every third of the TTL. It stops counting itself the holder a tenth of the TTL
 * before the row it wrote last expires, measured on its own clock from before that write, so it
 * has let go before anyone else can take it; if it dies, another takes the lease once the row
 * has expired. Expiry is computed by the store (`now64()`), so the processes' clocks need not agree.
 */
export class StoreLease implements Lease {
  readonly holder: string
  private heldUntil = 0
  private wasHeld = false
  private timer: NodeJS.Timeout | null = null
  private expiry: NodeJS.Timeout | null = null
  private round: Promise<boolean> | null = null
  private stopped = false

  constructor(
    private client: ClickHouseClient,
    private opts: StoreLeaseOptions,
  ) {
    this.holder = opts.holder ?? holderId()
  }

  get held(): boolean {
    return performance.now() < this.heldUntil
  }

  /** One attempt to take or renew the lease; answers whether this process holds it now. */
  tryTake(): Promise<boolean> {
    this.round ??= this.take().finally(() => {
      this.round = null
      this.notify()
    })
    return this.round
  }

  private async take(): Promise<boolean> {
    const started = performance.now()
    const before = await this.read()
    const renewing = before.holder === this.holder && before.expiresInMs > 0
    if (!renewing && before.holder !== '' && before.expiresInMs > 0) return this.until(0)
    const version = before.version + 1
    await this.write(version, this.holder, this.opts.ttlMs)
    // while it is ours and unexpired nobody else writes: only a take can meet a contender
    if (!renewing) await new Promise((r) => setTimeout(r, this.opts.settleMs ?? 1_000))
    const after = await this.read()
    return this.until(after.holder === this.holder && after.version === version ? started + this.opts.ttlMs * 0.9 : 0)
  }

  private until(at: number): boolean {
    this.heldUntil = at
    if (this.expiry) clearTimeout(this.expiry)
    this.expiry = null
    if (this.held) {
      // a timer may fire a little before `performance.now()` reaches `at`: then it waits again
      this.expiry = setTimeout(() => (this.held ? this.until(this.heldUntil) : this.notify()), at - performance.now() + 1)
      this.expiry.unref()
    }
    return this.held
  }

  private notify(): void {
    const held = this.held
    if (held === this.wasHeld) return
    this.wasHeld = held
    this.opts.onChange?.(held)
  }

  /** Takes the lease when free and keeps it, trying every third of the TTL; `onError` hears of failed attempts. */
  start(onError: (err: unknown) => void = () => undefined): void {
    if (this.timer || this.stopped) return
    const tick = () => {
      this.tryTake()
        .catch((err: unknown) => onError(err))
        .finally(() => {
          if (this.stopped) return
          this.timer = setTimeout(tick, this.opts.ttlMs / 3)
          this.timer.unref()
        })
    }
    tick()
  }

  /** Runs `fn` while holding the lease, waiting for it as long as another process holds it, then lets it go. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (!(await this.tryTake())) await new Promise((r) => setTimeout(r, Math.min(1_000, this.opts.ttlMs / 3)))
    // kept while `fn` runs, however long (a cluster's DDL waits for every node)
    const renew = setInterval(() => void this.tryTake().catch(() => undefined), this.opts.ttlMs / 3)
    try {
      return await fn()
    } finally {
      clearInterval(renew)
      await this.round?.catch(() => undefined)
      await this.release()
    }
  }

  /** Stops renewing; a holder writes the lease free, so that another process takes it at once. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.round?.catch(() => undefined)
    await this.release().catch(() => undefined)
  }

  private async release(): Promise<void> {
    if (!this.held) return
    const { version } = await this.read()
    this.until(0)
    this.notify()
    await this.write(version + 1, '', 0)
  }

  private async read(): Promise<LeaseRow> {
    const rs = await this.client.query({
      query: `SELECT argMax(holder, (version, holder)) AS newest_holder, max(version) AS newest_version,
                     dateDiff('millisecond', now64(3), argMax(expires_at, (version, holder))) AS expires_in_ms
              FROM leases WHERE name = {name:String}`,
      query_params: { name: this.opts.name },
      format: 'JSONEachRow',
      clickhouse_settings: this.opts.cluster ? { select_sequential_consistency: '1' } : {},
    })
    const [row] = await rs.json<{ newest_holder: string; newest_version: number; expires_in_ms: number }>()
    return { holder: row.newest_holder, version: Number(row.newest_version), expiresInMs: Number(row.expires_in_ms) }
  }

  private async write(version: number, holder: string, ttlMs: number): Promise<void> {
    await this.client.command({
      query: `INSERT INTO leases (name, holder, version, expires_at)
              SELECT {name:String}, {holder:String}, {version:UInt64}, now64(3) + toIntervalMillisecond({ttl:UInt32})`,
      query_params: { name: this.opts.name, holder, version, ttl: ttlMs },
      clickhouse_settings: this.opts.cluster ? { insert_quorum: 'auto' } : {},
    })
  }
}
