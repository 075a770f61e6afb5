import crypto from 'node:crypto'

/**
 * Random salts, one per salt period (a day by default), kept in memory only. A salt is
 * wiped as soon as its period is over, so yesterday's visitor hashes can never be recomputed.
 */
export class SaltStore {
  private salts = new Map<string, Buffer>()

  constructor(private now: () => number = Date.now) {}

  private static key(periodHours: number, index: number) {
    return `${periodHours}:${index}`
  }

  /** The salt for the period that `ts` falls in; older periods are wiped on the way. */
  saltFor(ts: number, periodHours: number): Buffer {
    const index = Math.floor(ts / (periodHours * 3_600_000))
    const key = SaltStore.key(periodHours, index)
    let salt = this.salts.get(key)
    if (!salt) {
      this.rotate()
      salt = crypto.randomBytes(32)
      this.salts.set(key, salt)
    }
    return salt
  }

  /** Wipes every salt whose period has ended. */
  rotate(): void {
    const now = this.now()
    for (const [key, salt] of this.salts) {
      const [hours, index] = key.split(':').map(Number)
      if ((index + 1) * hours * 3_600_000 <= now) {
        salt.fill(0)
        this.salts.delete(key)
      }
    }
  }

  /** How many salts exist now (for tests and the audit). */
  get size(): number {
    return this.salts.size
  }
}

/** A keyed hash of site, IP and User-Agent under the period's salt, as a decimal UInt64 (never 0). */
export function visitorHash(salt: Buffer, site: string, ip: string, userAgent: string): string {
  const digest = crypto.createHmac('sha256', salt).update(site).update('\0').update(ip).update('\0').update(userAgent).digest()
  const id = digest.readBigUInt64BE(0)
  return (id === 0n ? 1n : id).toString()
}
