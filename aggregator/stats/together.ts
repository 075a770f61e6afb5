import type { ClickHouseClient } from '@clickhouse/client'
import type { Filter } from './filters.ts'
import type { StatsQuestion } from './query.ts'

/**
 * Reads of one turn that differ only in their filters, answered together: a question of goals,
 * funnel steps or page flow and its neighbours without each of its filters, which the k rules
 * compare it with (R3, disclosure.ts), each a read of the same day's events of its own before.
 * Folded, one read takes the filters every ask has as filters and the others as flags on each
 * row (foldFilters), and tells each ask's numbers apart by its flags: the day's events are read
 * once, and each set of visits a filter names (a page viewed, a source) is found once, where
 * apart the question and its neighbours found each two or three times.
 *
 * As the live reads of sums are (query.ts pendingLive): the questions asked at once resume
 * together after the look at the days they share, and ask their reads in the same turn.
 */
const pending = new WeakMap<ClickHouseClient, Map<string, Batch>>()

interface Batch {
  qs: StatsQuestion[]
  waiting: { at: number; resolve: (r: unknown) => void; reject: (e: unknown) => void }[]
  read: (qs: StatsQuestion[]) => Promise<unknown[]>
}

/**
 * `q`'s answer from `read`, which is given every question asked in this turn under the same `id`
 * (what they share: everything but their filters, which must then be all they differ in) and
 * answers each, in order; a question asked twice is read once.
 */
export function askedTogether<R>(client: ClickHouseClient, id: string, q: StatsQuestion, read: (qs: StatsQuestion[]) => Promise<R[]>): Promise<R> {
  let turn = pending.get(client)
  if (!turn) {
    const mine = (turn = new Map<string, Batch>())
    pending.set(client, mine)
    setImmediate(() => {
      pending.delete(client)
      for (const b of mine.values()) {
        b.read(b.qs).then(
          (answers) => {
            for (const w of b.waiting) w.resolve(answers[w.at])
          },
          (e) => {
            for (const w of b.waiting) w.reject(e)
          },
        )
      }
    })
  }
  let batch = turn.get(id)
  if (!batch) turn.set(id, (batch = { qs: [], waiting: [], read: read as Batch['read'] }))
  const filters = JSON.stringify(q.filters)
  let at = batch.qs.findIndex((x) => JSON.stringify(x.filters) === filters)
  if (at < 0) at = batch.qs.push(q) - 1
  const b = batch
  return new Promise<R>((resolve, reject) => b.waiting.push({ at, resolve: resolve as (r: unknown) => void, reject }))
}

/** What a batch's id leaves out: its questions' filters (askedTogether). */
export const withoutFilters = (q: StatsQuestion): StatsQuestion => ({ ...q, filters: [] })

/**
 * Questions that differ only in their filters, as one read: `q` under the filters they all have,
 * `flags` the others (each a condition the read computes on every row once, `x0`, `x1`…), and
 * for each question its flags (`asks`: SQL over the flags' names, '1' for none, ANDed), and
 * `any`, whether a row is one of some question's (null when one question has no flag: every row is).
 */
export interface Folded {
  q: StatsQuestion
  flags: Filter[]
  asks: string[]
  any: string | null
}

/**
 * `any` with each flag's SQL (`defs`, by index) written where it is first named, as `(def AS x0)`:
 * for a read that keeps its rows by `any` before it computes anything else (funnel.ts), and
 * names the flags there for the rest.
 */
export function anyDefining(fold: Folded, defs: string[]): string | null {
  if (fold.any === null) return null
  const named = new Set<string>()
  return fold.any.replace(/\bx(\d+)\b/g, (x, j: string) => (named.has(x) ? x : (named.add(x), `(${defs[Number(j)]} AS ${x})`)))
}

export function foldFilters(qs: StatsQuestion[]): Folded {
  const id = (f: Filter) => JSON.stringify(f)
  const ids = qs.map((q) => new Set(q.filters.map(id)))
  const common = qs[0].filters.filter((f) => ids.every((s) => s.has(id(f))))
  const commonIds = new Set(common.map(id))
  const flags = [...new Map(qs.flatMap((q) => q.filters.filter((f) => !commonIds.has(id(f))).map((f) => [id(f), f] as const))).values()]
  const names = flags.map(id)
  const own = qs.map((q) => q.filters.filter((f) => !commonIds.has(id(f))).map((f) => `x${names.indexOf(id(f))}`))
  // (a row is kept when some question's flags all hold: a sum of products, as `or` and `and` may skip
  // evaluating a flag the SELECT reads too)
  const any = own.some((xs) => xs.length === 0) ? null : `(${own.map((xs) => xs.map((x) => `toUInt8(${x})`).join(' * ')).join(' + ')}) > 0`
  return { q: { ...qs[0], filters: common }, flags, asks: own.map((xs) => (xs.length ? xs.join(' AND ') : '1')), any }
}
