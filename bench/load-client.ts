/**
 * The load test's own beacon client (bench/load.ts): every beacon has a unique path
 * (/load/<tag>/<n>, n in the letters g..z), and a ledger records what each one was answered,
 * so that the store can be checked path by path after a fault: every 202 stored exactly once.
 * Keep-alive HTTP/1.1 from this process (node:http), varied visitors as the wrk scripts send
 * them (bench/wrk-common.lua: real browser User-Agents, X-Forwarded-For from the
 * documentation ranges; the collector runs with TRUST_PROXY).
 */
import fs from 'node:fs'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import type { PathCount } from './lib.ts'

// ---------------------------------------------------------------- visitors

/** The browsers and address ranges of bench/wrk-common.lua, read from it: one list for Lua and TypeScript. */
function luaStrings(block: string): string[] {
  const lua = fs.readFileSync(fileURLToPath(new URL('./wrk-common.lua', import.meta.url)), 'utf8')
  const body = lua.match(new RegExp(`${block.replace('.', '\\.')}\\s*=\\s*\\{([^}]*)\\}`))?.[1]
  const strings = [...(body ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1])
  if (!strings.length) throw new Error(`bench/wrk-common.lua: no strings in ${block}`)
  return strings
}
const AGENTS = luaStrings('M.agents')
const DOC_RANGES = luaStrings('local doc_ranges')

export const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]

export function visitorHeaders(): Record<string, string> {
  return { 'content-type': 'text/plain', 'user-agent': pick(AGENTS), 'x-forwarded-for': pick(DOC_RANGES) + (1 + Math.floor(Math.random() * 254)) }
}

/** n in the letters g..z, as the wrk script writes its markers (no digits: the URL scrubber keeps it). */
export function letters(n: number): string {
  let s = ''
  do {
    s = String.fromCharCode(103 + (n % 20)) + s
    n = Math.floor(n / 20)
  } while (n > 0)
  return s
}

export function fromLetters(s: string): number {
  let n = 0
  for (const ch of s) n = n * 20 + (ch.charCodeAt(0) - 103)
  return n
}

// ---------------------------------------------------------------- one beacon

export interface Answer {
  /** 0 when there was no answer (refused connection, reset, timeout). */
  status: number
  retryAfter: string | null
  /** The server's Date header: its wall clock, to the second. */
  date: string | null
  error?: string
}

/** Keep-alive connections to one collector, at most `connections` at a time. */
export class BeaconClient {
  private agent: http.Agent
  private base: URL

  constructor(url: string, connections = 50) {
    this.base = new URL(url)
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  }

  /** POST /api/event, a pageview of https://example.com<path> as sendBeacon sends it. */
  send(path: string, timeoutMs = 10_000): Promise<Answer> {
    const body = JSON.stringify({ n: 'pageview', u: `https://example.com${path}`, d: 'example.com', r: 'https://www.google.com/', w: 1280 })
    return new Promise((resolve) => {
      const req = http.request(
        { host: this.base.hostname, port: this.base.port, path: '/api/event', method: 'POST', agent: this.agent, headers: { ...visitorHeaders(), 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume()
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: (res.headers['retry-after'] as string | undefined) ?? null,
              date: res.headers.date ?? null,
            }),
          )
          res.on('error', (err) => resolve({ status: 0, retryAfter: null, date: null, error: err.message }))
        },
      )
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')))
      req.on('error', (err) => resolve({ status: 0, retryAfter: null, date: null, error: (err as NodeJS.ErrnoException).code ?? err.message }))
      req.end(body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

// ---------------------------------------------------------------- the ledger

export type Outcome = 'acked' | 'refused' | 'failed' | 'other'

export interface Sent {
  seq: number
  outcome: Outcome
  status: number
  /** Which wave of a sequential run it went in (a wave is sent only after the previous one was answered). */
  wave: number
  /** Real time it was sent (ms since the epoch, this process's clock). */
  sentAt: number
  /** A label of the run's phase (e.g. the clock setting at the time). */
  stage: string
}

/** What every beacon of one fault was answered, by path. */
export class Ledger {
  readonly byPath = new Map<string, Sent>()
  /** 503 answers without a positive Retry-After. */
  noRetryAfter = 0
  /** Statuses other than 202 and 503, and socket errors, by kind. */
  readonly oddities: Record<string, number> = {}
  private seq = 0
  wave = 0
  stage = ''

  constructor(readonly tag: string) {}

  /** Sends the next beacon and records its answer. */
  async send(client: BeaconClient): Promise<Answer> {
    const seq = this.seq++
    const path = `/load/${this.tag}/${letters(seq)}`
    const entry: Sent = { seq, outcome: 'failed', status: 0, wave: this.wave, sentAt: Date.now(), stage: this.stage }
    this.byPath.set(path, entry)
    const a = await client.send(path)
    entry.status = a.status
    if (a.status === 202) entry.outcome = 'acked'
    else if (a.status === 503) {
      entry.outcome = 'refused'
      if (!(Number(a.retryAfter) > 0)) this.noRetryAfter++
    } else {
      entry.outcome = a.status ? 'other' : 'failed'
      const kind = a.status ? String(a.status) : (a.error ?? 'error')
      this.oddities[kind] = (this.oddities[kind] ?? 0) + 1
    }
    return a
  }

  count(outcome: Outcome): number {
    let n = 0
    for (const s of this.byPath.values()) if (s.outcome === outcome) n++
    return n
  }

  get sent(): number {
    return this.byPath.size
  }
}

/**
 * `concurrency` beacons in flight until `stop()` says so (checked before each one); each
 * worker sends its next beacon as soon as the previous one is answered.
 */
export async function pump(client: BeaconClient, ledger: Ledger, concurrency: number, stop: () => boolean): Promise<void> {
  const worker = async () => {
    while (!stop()) await ledger.send(client)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

/** Waves of `size` beacons, each sent once the previous wave was answered. */
export async function wave(client: BeaconClient, ledger: Ledger, size: number): Promise<Answer[]> {
  const answers = await Promise.all(Array.from({ length: size }, () => ledger.send(client)))
  ledger.wave++
  return answers
}

export interface CapRun {
  /** 202 before the first 503. */
  accepted: number
  refused: number
  /** 202 after the first 503 (the cap must hold until the spool shrinks). */
  acceptedAfterRefusal: number
  /** Statuses other than 202/503 and socket errors. */
  other: number
}

/**
 * Waves of 10 until `refusals` answers were 503 (or `max` beacons were sent, or `alive()`
 * says the server is gone): the spool cap reached while the store takes nothing.
 */
export async function sendUntilRefused(client: BeaconClient, ledger: Ledger, opts: { refusals?: number; max?: number; alive: () => boolean }): Promise<CapRun> {
  const r: CapRun = { accepted: 0, refused: 0, acceptedAfterRefusal: 0, other: 0 }
  const refusals = opts.refusals ?? 50
  const max = opts.max ?? 20_000
  let n = 0
  while (r.refused < refusals && n < max && opts.alive()) {
    const answers = await wave(client, ledger, 10)
    n += answers.length
    for (const a of answers) {
      if (a.status === 202) {
        if (r.refused) r.acceptedAfterRefusal++
        else r.accepted++
      } else if (a.status === 503) r.refused++
      else r.other++
    }
  }
  return r
}

// ---------------------------------------------------------------- the ledger against the store

export interface Reconciled {
  sent: number
  acked: number
  /** Acknowledged and not stored. */
  lost: number
  /** Rows beyond the first of any path. */
  duplicates: number
  /** Rows stored under this ledger's prefix. */
  storedRows: number
  /** No answer (connection reset by the kill), yet stored: durable, but the 202 was lost. */
  unansweredStored: number
  /** Answered 503 (the client would retry: a duplicate in the making), yet stored. */
  refusedStored: number
  /** Stored under the prefix but never sent. */
  stray: number
}

/** The ledger against the rows stored per path (countPaths with the prefix `/load/<tag>/`). */
export function reconcile(ledger: Ledger, stored: Map<string, PathCount>): Reconciled {
  const r: Reconciled = { sent: ledger.sent, acked: 0, lost: 0, duplicates: 0, storedRows: 0, unansweredStored: 0, refusedStored: 0, stray: 0 }
  for (const [path, s] of ledger.byPath) {
    const n = stored.get(path)?.n ?? 0
    if (s.outcome === 'acked') {
      r.acked++
      if (n === 0) r.lost++
    } else if (n > 0) {
      if (s.outcome === 'refused') r.refusedStored++
      else r.unansweredStored++
    }
  }
  for (const [path, c] of stored) {
    r.storedRows += c.n
    r.duplicates += c.n - 1
    if (!ledger.byPath.has(path)) r.stray++
  }
  return r
}

/**
 * Pairs of beacons stored in an order other than the one they were sent in: beacon a in an
 * earlier wave than b (so a was answered before b was sent) but stored with a later ts.
 * Beacons of one wave are concurrent: no order among them. Also how many beacons are stored
 * earlier than some beacon of an earlier wave, and how many with the same ts as one of an
 * earlier wave (ties: not reordered, but the store cannot tell their order).
 */
export function outOfOrder(ledger: Ledger, stored: Map<string, PathCount>): { pairs: number; beacons: number; ties: number } {
  const items = [...ledger.byPath]
    .filter(([path, s]) => s.outcome === 'acked' && stored.has(path))
    .map(([path, s]) => ({ wave: s.wave, ts: stored.get(path)!.ts }))
    .sort((a, b) => a.wave - b.wave)
  // Fenwick tree over the ranks of ts: how many earlier-wave beacons have a larger ts
  const ranks = [...new Set(items.map((i) => i.ts))].sort((a, b) => a - b)
  const rank = new Map(ranks.map((t, i) => [t, i + 1]))
  const tree = new Array<number>(ranks.length + 1).fill(0)
  const add = (i: number) => {
    for (; i < tree.length; i += i & -i) tree[i]++
  }
  const upTo = (i: number) => {
    let s = 0
    for (; i > 0; i -= i & -i) s += tree[i]
    return s
  }
  let pairs = 0
  let beacons = 0
  let ties = 0
  let inserted = 0
  for (let i = 0; i < items.length; ) {
    let j = i
    while (j < items.length && items[j].wave === items[i].wave) j++
    for (let k = i; k < j; k++) {
      const r = rank.get(items[k].ts)!
      const later = inserted - upTo(r)
      pairs += later
      if (later > 0) beacons++
      if (upTo(r) - upTo(r - 1) > 0) ties++
    }
    for (let k = i; k < j; k++) add(rank.get(items[k].ts)!)
    inserted += j - i
    i = j
  }
  return { pairs, beacons, ties }
}

// ---------------------------------------------------------------- paced beacons

/**
 * Beacons at a steady `rps` for `seconds`, each sent at its own time whatever the earlier ones
 * still wait for (an open loop, as visitors send them, so a slow server cannot slow the load
 * down and hide its own delay): the latency of every 202, in ms.
 */
export async function paced(client: BeaconClient, ledger: Ledger, rps: number, seconds: number): Promise<number[]> {
  const latencies: number[] = []
  const sends: Promise<void>[] = []
  const t0 = performance.now()
  for (let i = 0; i < Math.round(rps * seconds); i++) {
    const wait = t0 + (i * 1000) / rps - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const sentAt = performance.now()
    sends.push(ledger.send(client).then((a) => void (a.status === 202 && latencies.push(performance.now() - sentAt))))
  }
  await Promise.all(sends)
  return latencies
}

/** The p-th percentile (0-100) of a list of numbers, nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN
}
