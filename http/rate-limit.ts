/**
 * Rate limits, in memory only: beacons (`INGEST_RATE_LIMIT`), sign-in attempts per client and
 * per account, wrong shared-link passwords per client and per link, and questions to the stats
 * API per token all count here. A client is known by `clientKey`, a SHA-256 of a random key made
 * when the process starts followed by its address: the address itself is never kept, logged or
 * stored, and without the key (gone with the process) the 2^32 IPv4 addresses cannot be tried
 * against a hash. An account is known by `nameKey`, the same hash of the name typed.
 * An IPv6 client is its /48, the largest block one subscriber is given: keyed by /64, one
 * subscriber's /48 held 65,536 clients, each with the full limit.
 *
 * Questions to the stats API count in a token bucket (TokenBucket): at most a burst at once,
 * then the limit's rate; every other limit counts in fixed windows (RateLimiter).
 *
 * Fixed windows on the monotonic clock (a clock set back does not stretch them): `max` hits
 * per `windowMs` for each key, counters in an LRU of bounded size, so a flood of new addresses
 * costs memory up to that bound and then only forgets the oldest.
 */
import crypto from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { isIPv6 } from 'node:net'
import type { FastifyReply } from 'fastify'
import { LRUCache } from 'lru-cache'

const CLIENT_KEY = crypto.randomBytes(32).toString('base64')

/** The part of an address that names one client: IPv4 whole, IPv6 its /48 (an IPv4-mapped IPv6 its IPv4). */
export function clientPrefix(address: string): string {
  // no colon, no IPv6: the IPv6 test is one long regular expression (0.6 µs a beacon from IPv4 clients)
  if (!address.includes(':') || !isIPv6(address)) return address
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]
  const [head, tail] = address.split('::')
  const left = head ? head.split(':') : []
  // groups to the right of `::`; an embedded IPv4 in them fills two groups
  const right = tail === undefined ? [] : tail ? tail.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups.slice(0, 3).map((g) => parseInt(g, 16).toString(16)).join(':')}::/48`
}

/**
 * A keyed hash for a limiter's key. A secret prefix rather than an HMAC: a counter key is never
 * shown to anyone, and the one-shot hash costs 0.4 µs a beacon where an HMAC object cost 1.9 µs.
 */
function keyed(text: string): string {
  return crypto.hash('sha256', CLIENT_KEY + text, 'base64url').slice(0, 22)
}

/** A client's key for the limits: a keyed hash of its address's client prefix, never the address. */
export function clientKey(address: string | undefined): string {
  return keyed(clientPrefix(address ?? ''))
}

/** An account's key for the limits: a keyed hash of the name typed (it may be an e-mail address), never the name. */
export function nameKey(name: string): string {
  // no address holds a NUL: a name's key never equals a client's
  return keyed(`name\0${name}`)
}

export interface Limit {
  /** Hits allowed in one window. */
  max: number
  windowMs: number
}

interface Window {
  count: number
  resetAt: number
}

/** Counts hits per key in fixed windows. */
export class RateLimiter implements Limiter {
  private readonly windows: LRUCache<string, Window>

  /** `maxKeys` bounds memory: past it the least recently seen key is forgotten. */
  constructor(readonly limit: Limit, maxKeys = 100_000) {
    // bounded by size, not `max`: `max` allocates its arrays for every key up front (2.5 MB a limiter, at idle too)
    this.windows = new LRUCache({ maxSize: maxKeys, sizeCalculation: () => 1 })
  }

  private window(key: string, now: number): Window {
    let w = this.windows.get(key)
    if (!w) this.windows.set(key, (w = { count: 0, resetAt: now + this.limit.windowMs }))
    else if (w.resetAt <= now) {
      w.count = 0
      w.resetAt = now + this.limit.windowMs
    }
    return w
  }

  /** Counts one hit: 0 when it is within the limit, else the seconds until the window ends (for Retry-After). */
  hit(key: string, now = performance.now()): number {
    const w = this.window(key, now)
    return ++w.count > this.limit.max ? retryAfter(w, now) : 0
  }

  /** Seconds until `key` may try again when it is at its limit now, else 0; counts nothing. */
  blocked(key: string, now = performance.now()): number {
    const w = this.windows.get(key)
    return w && w.resetAt > now && w.count >= this.limit.max ? retryAfter(w, now) : 0
  }

  /** Takes back one hit of the current window (a check that turned out right). */
  undo(key: string, now = performance.now()): void {
    const w = this.windows.get(key)
    if (w && w.resetAt > now && w.count > 0) w.count--
  }

  /** The keys held now (tests look: none may be an address). */
  keys(): string[] {
    return [...this.windows.keys()]
  }
}

/** What the limits are asked: RateLimiter (fixed windows) and TokenBucket (a burst, then a steady rate). */
export interface Limiter {
  hit(key: string, now?: number): number
  blocked(key: string, now?: number): number
  undo(key: string, now?: number): void
  keys(): string[]
}

/** A token, less what adding up fractions of one in floating point may lose. */
const ONE_TOKEN = 1 - 1e-9

interface Bucket {
  tokens: number
  at: number
}

/**
 * A token bucket per key: `burst` hits at once, then `max` per `windowMs` as the bucket refills
 * (a token every windowMs / max), so that a limit's allowance cannot be spent in one go: with a
 * fixed window, a caller could ask a minute's 300 questions in its first second.
 * The same questions as RateLimiter's, on the monotonic clock, keys in a bounded LRU.
 */
export class TokenBucket implements Limiter {
  private readonly buckets: LRUCache<string, Bucket>
  /** Tokens a millisecond. */
  private readonly rate: number

  constructor(
    readonly limit: Limit & { burst: number },
    maxKeys = 100_000,
  ) {
    this.buckets = new LRUCache({ maxSize: maxKeys, sizeCalculation: () => 1 })
    this.rate = limit.max / limit.windowMs
  }

  /** The key's tokens at `now` (a new key's bucket is full); `keep` stores the refill. */
  private tokens(key: string, now: number, keep: boolean): Bucket {
    const b = this.buckets.get(key)
    const tokens = b ? Math.min(this.limit.burst, b.tokens + Math.max(0, now - b.at) * this.rate) : this.limit.burst
    const at = b ? Math.max(b.at, now) : now
    if (!keep) return { tokens, at }
    if (b) {
      b.tokens = tokens
      b.at = at
      return b
    }
    const fresh = { tokens, at }
    this.buckets.set(key, fresh)
    return fresh
  }

  /** Takes a token: 0 when there was one, else the seconds until there is (for Retry-After). */
  hit(key: string, now = performance.now()): number {
    const b = this.tokens(key, now, true)
    if (b.tokens >= ONE_TOKEN) {
      b.tokens = Math.max(0, b.tokens - 1)
      return 0
    }
    return this.wait(b.tokens)
  }

  /** Seconds until `key` has a token, 0 when it has one now; takes nothing. */
  blocked(key: string, now = performance.now()): number {
    const { tokens } = this.tokens(key, now, false)
    return tokens >= ONE_TOKEN ? 0 : this.wait(tokens)
  }

  /** Gives back one token (a check that turned out right). */
  undo(key: string, now = performance.now()): void {
    const b = this.tokens(key, now, true)
    b.tokens = Math.min(this.limit.burst, b.tokens + 1)
  }

  keys(): string[] {
    return [...this.buckets.keys()]
  }

  private wait(tokens: number): number {
    return Math.max(1, Math.ceil((1 - tokens) / this.rate / 1000))
  }
}

function retryAfter(w: Window, now: number): number {
  return Math.max(1, Math.ceil((w.resetAt - now) / 1000))
}

/** The JSON answer over a limit: 429, `Retry-After`, and why. */
export function tooManyRequests(reply: FastifyReply, retryAfterS: number, error: string) {
  return reply.code(429).header('retry-after', String(retryAfterS)).send({ error })
}
