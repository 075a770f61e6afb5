import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { LRUCache } from 'lru-cache'

/** `visit_flags` bits of an events row: what the event is to its visit. */
export const FIRST_EVENT = 1
export const FIRST_PAGEVIEW = 2

const DAY_MS = 86_400_000

interface OpenVisit {
  id: string
  /** The visit's latest event (ms since the epoch). */
  last: number
  /** The UTC day it started on (days since the epoch): a visit never spans two. */
  day: number
  pageview: boolean
}

export interface VisitAssignment {
  visitId: string
  /** FIRST_EVENT and FIRST_PAGEVIEW bits. */
  flags: number
}

/**
 * Visits, cut as events arrive (as Plausible's session cache does): an event continues its
 * visitor's visit when it comes at most the policy's visit timeout after that visit's latest
 * event, on the same UTC day, and starts a new visit otherwise. The store derives each visit's
 * numbers from its events as they are inserted (`visits`, a materialised view), so nothing is
 * rebuilt later. A visit never spans two UTC days: visitor hashes change with the daily salt,
 * and `visits` is partitioned by UTC day.
 *
 * Only a visit id (time-ordered: newVisitId) and the visit's latest time are kept here, for visitors seen recently,
 * in a bounded LRU; `restore` reloads the visits still open from the store after a restart.
 * An event older than its visitor's latest one (a seed sending past traffic out of order)
 * starts a visit of its own rather than joining a later one.
 */
export class VisitTracker {
  private open: LRUCache<string, OpenVisit>

  constructor(maxVisitors = 200_000) {
    // bounded by size, not `max`: `max` allocates its arrays for every entry up front (5 MB here, at idle too)
    this.open = new LRUCache({ maxSize: maxVisitors, sizeCalculation: () => 1 })
  }

  assign(site: string, visitorId: string, ts: number, timeoutMs: number, pageview: boolean): VisitAssignment {
    const key = keyOf(site, visitorId)
    const v = this.open.get(key)
    const day = Math.floor(ts / DAY_MS)
    if (v && v.day === day && ts >= v.last && ts - v.last <= timeoutMs) {
      v.last = ts
      const flags = pageview && !v.pageview ? FIRST_PAGEVIEW : 0
      if (pageview) v.pageview = true
      return { visitId: v.id, flags }
    }
    const id = newVisitId(ts)
    // an out-of-order past event leaves the visitor's latest visit open
    if (!v || ts >= v.last) this.open.set(key, { id, last: ts, day, pageview })
    return { visitId: id, flags: FIRST_EVENT | (pageview ? FIRST_PAGEVIEW : 0) }
  }

  /** Takes an already stamped events row (a spool's backlog after a restart) as the latest of its visit. */
  observe(row: Record<string, unknown>): void {
    const id = String(row.visit_id ?? '0')
    const ts = Number(row.ts)
    if (id === '0' || !Number.isFinite(ts)) return
    const key = keyOf(String(row.site), String(row.visitor_id))
    const v = this.open.get(key)
    if (v && v.last > ts) return
    this.open.set(key, { id, last: ts, day: Math.floor(ts / DAY_MS), pageview: row.name === 'pageview' || (v?.id === id && v.pageview) })
  }

  get size(): number {
    return this.open.size
  }

  /**
   * The visits that may still be open at `now` (their latest event within `timeoutMs`), from
   * the store: a restart does not cut its visitors' visits in two.
   */
  async restore(client: ClickHouseClient, now: number, timeoutMs: number): Promise<number> {
    const rs = await client.query({
      query: `SELECT site, toString(visitor_id) AS visitor_id, toString(argMax(visit_id, end)) AS visit_id,
                toUnixTimestamp64Milli(max(end)) AS last, argMax(pageviews, end) > 0 AS pageview
              FROM visits FINAL
              WHERE day >= toDate(fromUnixTimestamp64Milli({since:Int64})) AND end >= fromUnixTimestamp64Milli({since:Int64})
              GROUP BY site, visitor_id`,
      query_params: { since: now - timeoutMs },
      format: 'JSONEachRow',
    })
    const rows = await rs.json<{ site: string; visitor_id: string; visit_id: string; last: number; pageview: number | boolean }>()
    for (const r of rows) {
      const last = Number(r.last)
      // the spool's backlog, observed first, may hold a later event of the visitor
      const key = keyOf(r.site, r.visitor_id)
      if ((this.open.get(key)?.last ?? -Infinity) >= last) continue
      this.open.set(key, { id: r.visit_id, last, day: Math.floor(last / DAY_MS), pageview: Boolean(Number(r.pageview)) })
    }
    return rows.length
  }
}

/** A visitor of a site (visitor hashes are per site already; the site keeps two sites' hashes apart regardless). */
const keyOf = (site: string, visitorId: string) => `${site}\u0000${visitorId}`

/** Random bytes drawn 4 KiB at a time: a call to the CSPRNG per visit cost 2–3 µs, a pooled read 0.1. */
const randomPool = Buffer.alloc(4096)
let randomAt = randomPool.length

/** 2020-01-01T00:00:00Z, in seconds: where the seconds in a visit id start. */
const ID_EPOCH_S = 1_577_836_800

/**
 * A visit's id (0 means "no visit": an event without a visitor hash): the second it started, since
 * 2020 (32 bits, to 2156), above 31 random bits; 63 bits in all, never 0. Time-ordered so that
 * the store keeps a day's visits in the order they started (`visits` is sorted by visit id,
 * migration 031): the visits an insert updates are then the last half hour's, and a query's
 * FINAL merges those only. Two visits share an id only when they start in the same second and
 * draw the same 31 bits: at 13 new visits a second (ten million events a day), about once a year.
 */
function newVisitId(startMs: number): string {
  if (randomAt === randomPool.length) {
    crypto.randomFillSync(randomPool)
    randomAt = 0
  }
  const random = randomPool.readUInt32BE(randomAt) >>> 1
  randomAt += 4
  const seconds = Math.min(2 ** 32 - 1, Math.max(0, Math.floor(startMs / 1000) - ID_EPOCH_S))
  return ((BigInt(seconds) << 31n) | BigInt(random === 0 && seconds === 0 ? 1 : random)).toString()
}
