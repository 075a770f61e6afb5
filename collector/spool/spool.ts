import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { NativeBlock, NativeBlockWriter } from '../../store/native-format.ts'
import type { EventRow } from '../pipeline/types.ts'
import { eventBlock, rowOf, rowValues } from './event-block.ts'

export interface SpoolOptions {
  dir: string
  /**
   * Data on disk before an append resolves: segments are opened O_DSYNC, so the write that
   * serves the appends waiting at that moment returns once it is synced (as write and
   * fdatasync, in one trip to the thread pool instead of two).
   */
  fsync: boolean
  /** A segment is sealed after this many records... */
  segmentRows: number
  /** ...or this many milliseconds after its first record. */
  segmentMs: number
  capBytes: number
  /** Told once per torn record found when reading a segment back (never its content). */
  onTorn?: (segment: string, byteOffset: number) => void
}

export interface Segment {
  /** The file name: also the store's deduplication token, so a replay is inserted at most once. */
  name: string
  file: string
  bytes: number
  /**
   * What this process wrote and acknowledged, already a Native block for the store (built as
   * the rows were appended). A segment left by an earlier process has none: its file is read
   * back, checked line by line, and converted once (`toBlock`).
   */
  block?: NativeBlock
}

/** The segment being appended to; `writing`: its writes in flight; `closing`: sealed, closed once they are done. */
interface ActiveSegment {
  name: string
  fd: number
  rows: number
  bytes: number
  block: NativeBlockWriter<EventRow> | null
  writing: number
  closing: boolean
}

/**
 * Writes in flight at once: the appends that arrive during a write's sync start their own at
 * once. In the bench (50 connections, fsync on) two served 11-20 % more beacons a second than
 * one in two pairs of runs; three and four did no better, and each write in flight holds one of
 * libuv's four pool threads, which the store's inserts use too.
 */
const WRITES_AT_ONCE = 2

/**
 * How long the first append that waits for a write waits for others to share it (a timer's
 * least, 1 ms) rather than starting one at the next turn of the event loop. Each write costs
 * about the same whatever it carries (the trip to libuv's pool, the synced write, the pool
 * thread's wakeup), and started at the next turn one carried 3-4 beacons at a steady 5,000 a
 * second. Measured against the next turn (December 7, 2026, alternating runs):
 * - at a steady 5,000 beacons a second (wrk paced, ad hoc): CPU 110-148 µs a beacon in all
 *   threads against 123-169, lower in five pairs of five;
 * - at the bench's saturating load (`npm run bench -- --no-queries --no-nofsync --no-freshness
 *   --no-upkeep --no-formats`, twelve pairs): p99 lower in ten (12.3-19.8 ms against
 *   15.5-21.5), CPU a beacon lower in eight, beacons a second mixed (more in three, alike
 *   within 3 % in five, fewer in four).
 * At 2 ms the bench answered a third fewer beacons: each answer waits that much longer, and
 * wrk's 50 connections send their next beacon only then.
 */
const GATHER_MS = 1

/** Told once its record is durable (null) or could not be made so. */
type Waiter = (err: Error | null) => void

/** Tells each waiter, none's error in the way of the others (nor of the spool's own work). */
function tell(waiters: Waiter[], err: Error | null): void {
  for (const w of waiters) {
    try {
      w(err)
    } catch {
      // the waiter's own failure (an answer that could not be written) is its own
    }
  }
}

/** Where segments whose data the store refuses are kept (inside the spool directory). */
export const REJECTED_DIR = 'rejected'

const PRIVATE_DIR = 0o700
const PRIVATE_FILE = 0o600

/** The seconds appendsPerSecond looks back over. */
const RATE_WINDOW_S = 5

/** How much of the sealed backlog (Native bytes) is also kept in memory, to be sent without reading it back. */
const MEMORY_BYTES = 16 * 1024 * 1024

export class SpoolFullError extends Error {
  constructor() {
    super('spool is full')
  }
}

/**
 * The durable queue between the answer and the store: records are appended (already
 * scrubbed, one JSON line each) to the active segment file, and an append resolves only once
 * the bytes are on disk. Full or old segments are sealed and handed to the writer, which
 * deletes each after the store took it.
 *
 * JSON lines on disk, each a JSON array of the row's values in the `events` columns' order
 * (EVENT_FIELDS in ./event-block.ts; lines of objects, as written before, are read too): V8's
 * JSON.stringify is the cheapest way to serialise a row in JS, a torn line (a crash mid-write)
 * is found and skipped on its own, and the audit and an operator read the files with any tool.
 * Alongside, the rows made durable go into the segment's Native block in memory, so the store
 * is sent columns it reads at ~1 µs a row, with no conversion at seal.
 */
export class Spool {
  private active: ActiveSegment | null = null
  private sealed: Segment[] = []
  private buffer: string[] = []
  private records: object[] = []
  private waiters: Waiter[] = []
  /** A flush is queued (a GATHER_MS timer). */
  private flushQueued = false
  private sealTimer: NodeJS.Timeout | null = null
  private sealedBytes = 0
  private memoryBytes = 0
  private seq = 0
  /** The time part of the newest segment name: names never sort before an older segment's. */
  private lastStamp = 0
  private listeners: (() => void)[] = []
  private closed = false
  /** Records appended in each of the last RATE_WINDOW_S whole seconds, and the second the last slot is (appendsPerSecond). */
  private recent = new Array<number>(RATE_WINDOW_S).fill(0)
  private recentSecond = 0

  constructor(private opts: SpoolOptions) {
    // scrubbed events, yet this account's alone: explicit modes, whatever the umask
    fs.mkdirSync(opts.dir, { recursive: true, mode: PRIVATE_DIR })
    // What a previous process left (sealed or not) is replayed first, oldest first.
    for (const name of fs.readdirSync(opts.dir).filter((f) => f.endsWith('.ndjson')).sort()) {
      const file = path.join(opts.dir, name)
      const bytes = fs.statSync(file).size
      if (bytes === 0) {
        fs.unlinkSync(file)
        continue
      }
      this.sealed.push({ name, file, bytes })
      this.sealedBytes += bytes
      // a segment left by an earlier process: ours sort after it, even if the clock went back
      const stamp = Number(/^(\d+)-/.exec(name)?.[1] ?? 0)
      if (stamp >= this.lastStamp) this.lastStamp = stamp + 1
    }
  }

  /**
   * Records appended a second, over the last RATE_WINDOW_S seconds: how busy the beacons keep
   * this process (store/client.ts gives the stats API's questions every core while it is quiet).
   */
  get appendsPerSecond(): number {
    this.count(0)
    return this.recent.reduce((a, b) => a + b, 0) / RATE_WINDOW_S
  }

  private count(n: number): void {
    const second = Math.floor(Date.now() / 1000)
    const gone = Math.min(RATE_WINDOW_S, second - this.recentSecond)
    if (gone > 0) {
      // the slots of the seconds since the last count start empty
      for (let i = 0; i < gone; i++) this.recent[(second - i) % RATE_WINDOW_S] = 0
      this.recentSecond = second
    }
    // a clock that went back counts into the newest slot
    this.recent[this.recentSecond % RATE_WINDOW_S] += n
  }

  /** Bytes waiting on disk or in memory for the store. */
  get bytes(): number {
    return this.sealedBytes + (this.active?.bytes ?? 0)
  }

  get full(): boolean {
    return this.bytes >= this.opts.capBytes
  }

  /**
   * Appends one record, an EventRow (its line holds the row's fields by position, nothing else
   * of the object); resolves once it is durable. Throws SpoolFullError past the cap.
   */
  append(record: object): Promise<void> {
    return new Promise<void>((resolve, reject) => this.appendThen(record, (err) => (err ? reject(err) : resolve())))
  }

  /**
   * `append` with a callback, told once (never before this returns): the beacon route's, which
   * makes no promise a beacon.
   */
  appendThen(record: object, done: Waiter): void {
    if (this.closed || this.full) {
      const err = this.closed ? new Error('spool is closed') : new SpoolFullError()
      queueMicrotask(() => done(err))
      return
    }
    this.buffer.push(JSON.stringify(rowValues(record as EventRow)) + '\n')
    this.records.push(record)
    this.waiters.push(done)
    this.queueFlush()
  }

  /** A flush GATHER_MS after the first append that waits for one: the appends made meanwhile go in one write. */
  private queueFlush(): void {
    if (this.flushQueued || this.buffer.length === 0) return
    this.flushQueued = true
    setTimeout(() => this.flush(), GATHER_MS)
  }

  private openSegment() {
    // Names sort in the order segments were made (the time part never goes back, then a
    // sequence number); the random part makes each one a unique dedup token.
    this.lastStamp = Math.max(Date.now(), this.lastStamp)
    const name = `${this.lastStamp.toString().padStart(15, '0')}-${String(this.seq++).padStart(10, '0')}-${crypto.randomBytes(6).toString('hex')}.ndjson`
    const { O_WRONLY, O_CREAT, O_APPEND, O_DSYNC } = fs.constants
    const fd = fs.openSync(path.join(this.opts.dir, name), O_WRONLY | O_CREAT | O_APPEND | (this.opts.fsync ? O_DSYNC : 0), PRIVATE_FILE)
    this.active = { name, fd, rows: 0, bytes: 0, block: eventBlock(), writing: 0, closing: false }
    this.sealTimer = setTimeout(() => this.seal(), this.opts.segmentMs)
    this.sealTimer.unref()
  }

  /**
   * Starts writes of what waits, up to WRITES_AT_ONCE at a time: appends that arrive while a
   * write is being made durable start a write of their own instead of waiting for it (the file
   * system may commit concurrent O_DSYNC writes together). None starts while the active segment is
   * waiting for its last writes to be closed, so segments are sealed in the order they were made.
   */
  private flush(): void {
    this.flushQueued = false
    // every write in flight is the active segment's: the next one opens once it is closed
    while (this.buffer.length > 0 && (this.active?.writing ?? 0) < WRITES_AT_ONCE && !this.active?.closing) void this.writeGroup()
  }

  private async writeGroup(): Promise<void> {
    // counted a batch at a time: one clock read a batch, none a record
    this.count(this.buffer.length)
    const lines = this.buffer
    const records = this.records
    const waiters = this.waiters
    this.buffer = []
    this.records = []
    this.waiters = []
    try {
      if (!this.active) this.openSegment()
      const seg = this.active!
      // A write that failed part-way may leave part of a line, and a write made beside it may
      // land after it: each write but a segment's first starts a line of its own, so that only
      // the failed write's records (answered as failed) are torn.
      const data = Buffer.from((seg.bytes > 0 || seg.writing > 0 ? '\n' : '') + lines.join(''))
      seg.writing++
      let failed: Error | null = null
      try {
        await writeOnce(seg.fd, data)
      } catch (err) {
        failed = err as Error
      }
      seg.writing--
      if (failed) {
        tell(waiters, failed)
        // A failed write may have left part of a line: later records go to a fresh segment.
        this.seal()
      } else {
        seg.rows += lines.length
        seg.bytes += data.length
        tell(waiters, null)
        // only rows on disk enter the block: it holds exactly what the file holds
        try {
          for (const r of records) seg.block?.append(r as EventRow)
        } catch {
          // a row the block cannot take: the segment is sent from its file, where the store refuses it
          seg.block = null
        }
        if (seg.rows >= this.opts.segmentRows) this.seal()
      }
      // sealed while this write was being made, and the last one of it
      if (seg.closing && seg.writing === 0) this.closeSegment(seg)
    } catch (err) {
      // no segment could be opened
      tell(waiters, err as Error)
    } finally {
      this.flush()
    }
  }

  /** Closes the active segment and queues it for the store. */
  seal(): void {
    const seg = this.active
    if (!seg || seg.closing) return
    if (this.sealTimer) clearTimeout(this.sealTimer)
    this.sealTimer = null
    seg.closing = true
    // writes still being made go into this segment first
    if (seg.writing === 0) this.closeSegment(seg)
  }

  private closeSegment(seg: ActiveSegment): void {
    if (this.active !== seg) return
    this.active = null
    try {
      fs.closeSync(seg.fd)
    } catch {
      // already unusable; what reached the file is still read back
    }
    if (seg.rows === 0) {
      fs.rmSync(path.join(this.opts.dir, seg.name), { force: true })
      this.queueFlush()
      return
    }
    // While the store is down the backlog lives on disk; only the first MEMORY_BYTES stay in memory too.
    const block = seg.block && seg.block.rows === seg.rows ? seg.block.finish() : undefined
    const keep = block !== undefined && this.memoryBytes + block.bytes.length <= MEMORY_BYTES
    if (keep) this.memoryBytes += block.bytes.length
    this.sealed.push({ name: seg.name, file: path.join(this.opts.dir, seg.name), bytes: seg.bytes, ...(keep ? { block } : {}) })
    this.sealedBytes += seg.bytes
    for (const l of this.listeners) l()
    // appends that waited for it start the next segment
    this.queueFlush()
  }

  /** Called whenever a segment is sealed. */
  onSealed(listener: () => void): void {
    this.listeners.push(listener)
  }

  /**
   * The records of segments an earlier process left, made at or after `sinceMs` (by the time in
   * their names), oldest first, read as they are (the writer reports torn records when it sends them).
   */
  *backlogSince(sinceMs: number): Generator<Record<string, unknown>> {
    for (const seg of this.sealed) {
      if (seg.block || Number(/^(\d+)-/.exec(seg.name)?.[1] ?? 0) < sinceMs) continue
      for (const line of fs.readFileSync(seg.file, 'utf8').split('\n')) {
        const record = parseRecord(line)
        if (record) yield record
      }
    }
  }

  /** The oldest sealed segment, if any. */
  peek(): Segment | undefined {
    return this.sealed[0]
  }

  /** The records of a segment's file; a torn one (a crash mid-write) is reported and skipped. */
  recordsOf(seg: Segment): Record<string, unknown>[] {
    const text = fs.readFileSync(seg.file, 'utf8')
    const lines = text.split('\n')
    const tail = lines.pop() // '' when the file ends with a newline
    const good: Record<string, unknown>[] = []
    let offset = 0
    for (const line of lines) {
      const record = line ? parseRecord(line) : null
      if (record) good.push(record)
      else if (line) this.opts.onTorn?.(seg.name, offset)
      offset += Buffer.byteLength(line) + 1
    }
    if (tail) this.opts.onTorn?.(seg.name, offset)
    return good
  }

  /**
   * The segment as a Native block: the one built as it was written, or its file converted once
   * (kept for a retry). Throws NativeEncodeError on a record the events table cannot take.
   */
  toBlock(seg: Segment): NativeBlock {
    if (seg.block) return seg.block
    const block = eventBlock()
    for (const record of this.recordsOf(seg)) block.append(record as unknown as EventRow)
    seg.block = block.finish()
    this.memoryBytes += seg.block.bytes.length
    return seg.block
  }

  /** The store has the segment: delete it. */
  done(seg: Segment): void {
    fs.rmSync(seg.file, { force: true })
    this.forget(seg)
  }

  /**
   * The store refuses the segment's data itself (not an outage): it moves to `rejected/` beside
   * the spool, kept for an operator (moved back into the spool, it is sent again at the next
   * start), and the segments after it go on.
   */
  reject(seg: Segment): string {
    const dir = path.join(this.opts.dir, REJECTED_DIR)
    fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR })
    const target = path.join(dir, seg.name)
    fs.renameSync(seg.file, target)
    this.forget(seg)
    return target
  }

  private forget(seg: Segment): void {
    const i = this.sealed.indexOf(seg)
    if (i >= 0) this.sealed.splice(i, 1)
    this.sealedBytes -= seg.bytes
    if (seg.block) this.memoryBytes -= seg.block.bytes.length
  }

  /** Waits for pending appends, then seals the active segment. */
  async drainAppends(): Promise<void> {
    while (this.active?.writing || this.buffer.length) await new Promise((r) => setTimeout(r, 2))
    this.seal()
  }

  async close(): Promise<void> {
    await this.drainAppends()
    this.closed = true
  }
}

/** A line's record: an array is a row's values by position (rowValues), an object a row as lines were written before. */
function parseRecord(line: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(line)
    if (Array.isArray(v)) return rowOf(v)
    return typeof v === 'object' && v !== null ? v : null
  } catch {
    return null
  }
}

/** One write of the whole buffer; a short one (the disk full part-way) is an error, as it tore its last line. */
function writeOnce(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    fs.write(fd, data, 0, data.length, null, (err, n) => {
      if (err) reject(err)
      else if (n < data.length) reject(new Error(`short write to the spool (${n} of ${data.length} bytes)`))
      else resolve()
    }),
  )
}
