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
 * Each question's answer read alone (`read` given it alone), for a fold that would not pay
 * (goal-conversions.ts, funnel.ts).
 */
export const readApart = <R>(qs: StatsQuestion[], read: (qs: StatsQuestion[]) => Promise<R[]>): Promise<R[]> => Promise.all(qs.map(async (q) => (await read([q]))[0]))

/**
 * Questions that differ only in their filters, as one read: `q` under the filters they all have,
 * `flags` the others (each a condition the read computes once, named `x0`, `x1`… by default),
 * and for each question the indexes of its flags (`own`).
 */
export interface Folded {
  q: StatsQuestion
  flags: Filter[]
  own: number[][]
}

export function foldFilters(qs: StatsQuestion[]): Folded {
  const id = (f: Filter) => JSON.stringify(f)
  const ids = qs.map((q) => new Set(q.filters.map(id)))
  const common = qs[0].filters.filter((f) => ids.every((s) => s.has(id(f))))
  const commonIds = new Set(common.map(id))
  const flags = [...new Map(qs.flatMap((q) => q.filters.filter((f) => !commonIds.has(id(f))).map((f) => [id(f), f] as const))).values()]
  const names = flags.map(id)
  return { q: { ...qs[0], filters: common }, flags, own: qs.map((q) => q.filters.filter((f) => !commonIds.has(id(f))).map((f) => names.indexOf(id(f)))) }
}

/** A flag's name in the read: `x0`… */
export const flagName = (j: number) => `x${j}`

/** Each question's condition over the flags (`name` gives a flag's column), ANDed; '1' for none. */
export const askConditions = (fold: Folded, name = flagName): string[] => fold.own.map((js) => (js.length ? js.map(name).join(' AND ') : '1'))

/**
 * Whether a row is one of some question's (its flags all hold), over the flags as `name` gives
 * them; with `defs`, each flag's SQL written where it is first named, `(def AS x0)`, for a read
 * that keeps its rows by this before it computes anything else (funnel.ts). Null when a question
 * has no flag: every row is one of its. (A sum of products: `or` and `and` may skip evaluating a
 * flag the SELECT reads too.)
 */
export function anyQuestion(fold: Folded, defs?: string[]): string | null {
  if (fold.own.some((js) => js.length === 0)) return null
  const named = new Set<number>()
  const flag = (j: number) => (!defs || named.has(j) ? flagName(j) : (named.add(j), `(${defs[j]} AS ${flagName(j)})`))
  return `(${fold.own.map((js) => js.map((j) => `toUInt8(${flag(j)})`).join(' * ')).join(' + ')}) > 0`
}
