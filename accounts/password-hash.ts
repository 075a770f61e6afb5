/**
 * Password hashes (users' passwords, shared links' passphrases): scrypt, `scrypt$N$r$p$salt$hash`
 * with a random 16-byte salt, compared in constant time.
 *
 * scrypt is slow on purpose (16 MiB, ~50 ms a run) and runs on libuv's thread pool, which the
 * spool's appends and fsyncs share: a flood of sign-ins ran up to four at once, took both cores
 * and raised beacon p50 from 6 ms to 60 ms. So every run here waits its turn in one queue,
 * `SCRYPT_CONCURRENCY` at a time, and past `SCRYPT_QUEUE` waiting a new one is refused with
 * `PasswordChecksBusy` (503 with Retry-After) instead of queueing without bound.
 */
import crypto from 'node:crypto'
import { promisify } from 'node:util'
import pLimit from 'p-limit'
import { Overloaded } from '../http/errors.ts'

/** scrypt runs at once, at most: one core of two stays for beacons. */
export const SCRYPT_CONCURRENCY = 1
/** Runs that may wait for their turn (about 3 s of work); one more is refused. */
export const SCRYPT_QUEUE = 64

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 }
const MAXMEM = 64 * 1024 * 1024
const scrypt = promisify(crypto.scrypt) as (password: string, salt: Buffer, keylen: number, options: crypto.ScryptOptions) => Promise<Buffer>

const queue = pLimit(SCRYPT_CONCURRENCY)

/** Too many password checks wait already: nothing is checked, the caller gets 503 with Retry-After. */
export class PasswordChecksBusy extends Overloaded {
  constructor() {
    super('too many password checks at once: try again in a few seconds', 5)
  }
}

/** The queue now (tests look: never more than SCRYPT_CONCURRENCY running). */
export function scryptQueue(): { running: number; waiting: number } {
  return { running: queue.activeCount, waiting: queue.pendingCount }
}

function queued(password: string, salt: Buffer, keylen: number, options: crypto.ScryptOptions): Promise<Buffer> {
  if (queue.pendingCount >= SCRYPT_QUEUE) return Promise.reject(new PasswordChecksBusy())
  return queue(() => scrypt(password, salt, keylen, { ...options, maxmem: MAXMEM }))
}

// base64url, not hex: a hash is not personal data, and the privacy audit flags long hex runs.
const b64 = (b: Buffer) => b.toString('base64url')

export async function hashPassphrase(password: string): Promise<string> {
  const salt = crypto.randomBytes(16)
  const hash = await queued(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p })
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${b64(salt)}$${b64(hash)}`
}

export async function passphraseMatches(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number)
  const salt = Buffer.from(parts[4], 'base64url')
  const expected = Buffer.from(parts[5], 'base64url')
  if (![N, r, p].every(Number.isInteger) || expected.length === 0) return false
  const actual = await queued(password, salt, expected.length, { N, r, p })
  return crypto.timingSafeEqual(actual, expected)
}
