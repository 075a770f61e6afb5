import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import { isRefusedData, storeErrorSummary } from '../../store/errors.ts'
import type { InsertBlock } from '../../store/insert-block.ts'
import type { Segment, Spool } from './spool.ts'

export interface WriterStats {
  insertedRows: number
  insertedSegments: number
  failures: number
  lastError: string | null
  /** When the last insert failed, while no insert has succeeded since (ms since the epoch). */
  lastFailedAt: number | null
  /** Segments the store refused as data (moved to spool/rejected/). */
  rejectedSegments: number
}

/** How long the spool stays empty after a send before the writer reports the burst over. */
const IDLE_MS = 5000

/** A segment the store refuses this many times as malformed data is set aside. */
const REJECT_AFTER = 3

export interface WriterOptions {
  /** The table the segments go to. */
  table?: string
  /** Called once the spool has stayed empty `idleMs` after the writer sent something (the burst is over), or when `settled` says so. */
  onIdle?: () => void
  /** Asked once a second while the spool is empty and the writer has nothing to report: whether another kind of burst is over. */
  settled?: (quietMs: number) => boolean
  idleMs?: number
}

/**
 * Sends sealed spool segments to the store, oldest first, one insert of one Native block per
 * segment with the segment's name as deduplication token: a segment replayed after a crash is
 * stored once.
 * While the store fails, it retries with exponential backoff (up to 30 s) and the spool grows.
 */
export class SpoolWriter {
  readonly stats: WriterStats = { insertedRows: 0, insertedSegments: 0, failures: 0, lastError: null, lastFailedAt: null, rejectedSegments: 0 }
  /** The segment at the head of the spool and how often the store refused its data. */
  private refused = { name: '', times: 0 }
  private running = false
  private stopped = false
  private wake: (() => void) | null = null
  private backoffMs = 0
  private loop: Promise<void> | null = null
  /** When the writer last sent a segment, until it reports the burst over (performance.now()). */
  private lastSentAt: number | null = null
  private readonly table: string

  constructor(
    private spool: Spool,
    private insert: InsertBlock,
    private log: FastifyBaseLogger,
    private opts: WriterOptions = {},
  ) {
    this.table = opts.table ?? 'events'
    spool.onSealed(() => this.wake?.())
  }

  /** Starts sending; after stop() it may start again. */
  start(): void {
    if (this.running) return
    this.running = true
    this.stopped = false
    // what a start does (migrations, a replayed backlog, opening the engine) is a burst of its own
    this.lastSentAt ??= performance.now()
    this.loop = this.run()
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const seg = this.spool.peek()
      if (!seg) {
        const idleMs = this.opts.idleMs ?? IDLE_MS
        if (this.lastSentAt !== null ? performance.now() - this.lastSentAt >= idleMs : this.opts.settled?.(idleMs)) {
          this.lastSentAt = null
          this.opts.onIdle?.()
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve
          setTimeout(resolve, 1000).unref()
        })
        this.wake = null
        continue
      }
      try {
        await this.send(seg)
        this.backoffMs = 0
      } catch (err) {
        this.stats.failures++
        this.stats.lastError = storeErrorSummary(err)
        this.stats.lastFailedAt = Date.now()
        // One segment the store cannot parse must not hold back every later one: after a few
        // tries it is set aside on disk (never deleted) and reported; an outage is only retried.
        if (isRefusedData(err)) {
          this.refused = this.refused.name === seg.name ? { name: seg.name, times: this.refused.times + 1 } : { name: seg.name, times: 1 }
          if (this.refused.times >= REJECT_AFTER) {
            const file = this.spool.reject(seg)
            this.stats.rejectedSegments++
            this.backoffMs = 0
            this.log.error({ segment: seg.name, kept: file, err: this.stats.lastError }, 'the store refuses this spool segment as data: set aside, the segments after it go on')
            continue
          }
        }
        this.backoffMs = Math.min(30_000, this.backoffMs ? this.backoffMs * 2 : 250)
        this.log.warn({ segment: seg.name, retryInMs: this.backoffMs, err: this.stats.lastError }, 'store insert failed; the spool keeps the events')
        await new Promise<void>((resolve) => {
          this.wake = resolve
          setTimeout(resolve, this.backoffMs).unref()
        })
        this.wake = null
      }
    }
  }

  private async send(seg: Segment): Promise<void> {
    // This process's own segments are sent as the block built while they were written; a
    // replayed one is read back, checked and converted once.
    const block = this.spool.toBlock(seg)
    if (block.rows > 0) await this.insert(this.table, block, seg.name)
    this.lastSentAt = performance.now()
    this.spool.done(seg)
    this.stats.lastFailedAt = null
    this.stats.insertedRows += block.rows
    this.stats.insertedSegments++
  }

  /** Seals what is pending and sends everything the store will take, within `timeoutMs`. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    await this.spool.drainAppends()
    if (this.stopped) return !this.spool.peek()
    const deadline = performance.now() + timeoutMs
    // one early retry, not one per poll: a failing store keeps its backoff
    if (this.backoffMs === 0) this.wake?.()
    while (this.spool.peek() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    return !this.spool.peek()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.loop
    this.running = false
  }
}
