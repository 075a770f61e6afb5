import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { removeReplacedParts } from '../retention/erase.ts'

const HOUR = 3_600_000

/** Where persisted salts live (the store's `salts` table), shared by every collector. */
export interface SaltBackend {
  /** Saves a candidate salt and answers the salt every collector agrees on for the period. */
  agree(periodHours: number, period: number, candidate: Buffer): Promise<Buffer>
  /** Deletes every salt whose period ended at or before `now`. */
  dropExpired(now: number): Promise<number>
}

/**
 * Random salts, one per salt period (a day by default). In memory only, unless a policy
 * persists them: then they are also kept in the store until their period ends. Either way a
 * salt is wiped as soon as its period is over, so old visitor hashes can never be recomputed.
 */
export class SaltStore {
  private salts = new Map<string, Buffer>()
  private pending = new Set<string>()

  constructor(
    private now: () => number = Date.now,
    private backend: SaltBackend | null = null,
  ) {}

  private static key(periodHours: number, index: number) {
    return `${periodHours}:${index}`
  }

  /** The salt for the period that `ts` falls in; older periods are wiped on the way. */
  saltFor(ts: number, periodHours: number, persist = false): Buffer {
    const index = Math.floor(ts / (periodHours * HOUR))
    const key = SaltStore.key(periodHours, index)
    let salt = this.salts.get(key)
    if (!salt) {
      this.rotate()
      salt = crypto.randomBytes(32)
      this.salts.set(key, salt)
      // Hashes made before the store answers use this candidate; if another collector's
      // salt was first, everyone converges on that one from then on.
      if (persist && this.backend) void this.adopt(periodHours, index, salt)
    }
    return salt
  }

  private async adopt(periodHours: number, index: number, candidate: Buffer): Promise<void> {
    const key = SaltStore.key(periodHours, index)
    if (this.pending.has(key)) return
    this.pending.add(key)
    try {
      const agreed = await this.backend!.agree(periodHours, index, candidate)
      if (this.salts.get(key) === candidate && !agreed.equals(candidate)) {
        this.salts.set(key, agreed)
        candidate.fill(0)
      }
    } catch {
      // The store is down: this collector keeps its candidate, and `prepare` (run again once
      // the store answers, and every minute) saves it or adopts the one already agreed on.
    } finally {
      this.pending.delete(key)
    }
  }

  /** Loads (or creates and saves) the current period's salt before the first event needs it. */
  async prepare(periodHours: number, persist: boolean): Promise<void> {
    if (!persist || !this.backend) return
    const index = Math.floor(this.now() / (periodHours * HOUR))
    const key = SaltStore.key(periodHours, index)
    const candidate = this.salts.get(key) ?? crypto.randomBytes(32)
    const agreed = await this.backend.agree(periodHours, index, candidate)
    if (agreed !== candidate) candidate.fill(0)
    this.salts.set(key, agreed)
  }

  /** Wipes every salt whose period has ended, in memory and in the store. */
  rotate(): void {
    const now = this.now()
    for (const [key, salt] of this.salts) {
      const [hours, index] = key.split(':').map(Number)
      if ((index + 1) * hours * HOUR <= now) {
        salt.fill(0)
        this.salts.delete(key)
      }
    }
  }

  async rotateEverywhere(): Promise<void> {
    this.rotate()
    await this.backend?.dropExpired(this.now())
  }

  /** How many salts exist now in memory (for tests and the audit). */
  get size(): number {
    return this.salts.size
  }
}

/** A keyed hash of site, IP and User-Agent under the period's salt, as a decimal UInt64 (never 0). */
export function visitorHash(salt: Buffer, site: string, ip: string, userAgent: string): string {
  return keyedId(salt, `${site}\0${ip}\0${userAgent}`)
}

/**
 * A keyed hash as a decimal UInt64 (never 0): SHA-256 of the salt followed by the message, its
 * first 8 bytes. A secret prefix rather than an HMAC: with the digest cut to 64 bits a length
 * extension has nothing to extend, and one one-shot hash costs about half an HMAC object (whose
 * two hashes and key set-up were a tenth of the pipeline). The message is copied after the salt
 * into one scratch buffer, zeroed after use, so no copy of the salt (nor the address) outlives the call.
 */
export function keyedId(salt: Buffer, message: string): string {
  const need = salt.length + Buffer.byteLength(message)
  if (scratch.length < need) scratch = Buffer.alloc(Math.max(need, 2 * scratch.length))
  salt.copy(scratch, 0)
  const end = salt.length + scratch.write(message, salt.length)
  // the digest as a 'binary' (latin1) string: a Buffer answer costs 2–3 µs more a hash (its allocation), ~0.8 µs in all this way
  const digest = crypto.hash('sha256', scratch.subarray(0, end), 'binary')
  scratch.fill(0, 0, end)
  const id = (BigInt(bigEndian32(digest, 0)) << 32n) | BigInt(bigEndian32(digest, 4))
  return (id === 0n ? 1n : id).toString()
}

/** The 32-bit unsigned integer of four bytes (chars of a latin1 string) from `at`, most significant first. */
const bigEndian32 = (bytes: string, at: number): number =>
  ((bytes.charCodeAt(at) << 24) | (bytes.charCodeAt(at + 1) << 16) | (bytes.charCodeAt(at + 2) << 8) | bytes.charCodeAt(at + 3)) >>> 0

let scratch = Buffer.alloc(1024)

/** Salts in the store's `salts` table (migration 004), one partition per period. */
export class StoreSaltBackend implements SaltBackend {
  constructor(private client: ClickHouseClient) {}

  async agree(periodHours: number, period: number, candidate: Buffer): Promise<Buffer> {
    const params = { hours: periodHours, period }
    const first = async () => {
      const rs = await this.client.query({
        query: 'SELECT salt FROM salts WHERE period_hours = {hours:UInt32} AND period = {period:UInt64} ORDER BY created_at, salt LIMIT 1',
        query_params: params,
        format: 'JSONEachRow',
      })
      const [row] = await rs.json<{ salt: string }>()
      return row ? Buffer.from(row.salt, 'hex') : null
    }
    const existing = await first()
    if (existing) return existing
    await this.client.insert({
      table: 'salts',
      values: [{ period_hours: periodHours, period, salt: candidate.toString('hex'), created_at: Date.now() }],
      format: 'JSONEachRow',
    })
    return (await first()) ?? candidate
  }

  async dropExpired(now: number): Promise<number> {
    const rs = await this.client.query({
      query: `SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = 'salts' AND active`,
      format: 'JSONEachRow',
    })
    let dropped = 0
    for (const { partition_id } of await rs.json<{ partition_id: string }>()) {
      const m = partition_id.match(/^(\d+)-(\d+)$/)
      if (!m) continue
      const [hours, period] = [Number(m[1]), Number(m[2])]
      if ((period + 1) * hours * HOUR > now) continue
      await this.client.command({ query: 'ALTER TABLE salts DROP PARTITION ID {id:String}', query_params: { id: partition_id } })
      dropped++
    }
    // a dropped salt's files leave the disk now, not when the engine's cleanup next looks
    if (dropped > 0) await removeReplacedParts(this.client, 'salts')
    return dropped
  }
}
