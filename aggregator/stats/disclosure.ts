import { countNoise, keyedHash } from '../export/noise.ts'
import type { Filter } from './filters.ts'
import type { Sums } from './metrics.ts'

/**
 * What may be published: the rules of the k promise, each named as in the README ("What the
 * numbers guarantee"). Every statistics route asks these functions, never its own comparison.
 *
 * - R0 `distinct`: a visitor number is the distinct count over exactly the set it stands for
 *   (totals and "(other)" are counted again over the union, never added up from rows).
 * - R1 `min-group`: a set is published only with at least k visitors and kn networks.
 * - R2 `alike`: an answer about 0 visitors looks exactly like one about 1..k−1 (`WITHHELD`).
 * - R3 `remove-filter`: each filter must set apart at least k visitors (0 included), or its
 *   answer with the filter and without it would differ by the few it sets apart; within each
 *   breakdown row and time bucket shown it sets apart none or at least k (a filter on the
 *   broken-down property itself picks rows and is checked on the total only).
 * - R4 `row-vs-total`: a row (a value, a goal, a page before or after) is shown only if at
 *   least k visitors of the total lack it; the rest are folded into "(other)".
 * - R5 `bucket`: a time bucket leaves at least k visitors outside it in its parent bucket and in
 *   the whole range, unless it is the whole range.
 * - R6 `add-day`: an answer over whole days is withheld when the day just before or just after
 *   holds 1..k−1 visitors under the same filters (0 is allowed: see the README's open points).
 * - R7 `funnel-step`: each step is at least k visitors below the one before it.
 * - R8 `change`: a change is shown only against a previous period that passes R1.
 * - N1 `noise`: where the policy gives the audience an ε, each published count carries
 *   consistent noise (`Noise`).
 */

/** The limits of one audience (dashboard, shared link or export), from the policy. */
export interface Limits {
  /** Distinct visitors a published number needs. */
  k: number
  /** Distinct networks (hashed /24 or /48) it needs beside them. */
  kn: number
}

/** R2: the one reason every withheld number gives, whichever rule withheld it. */
export const withheldReason = (k: number) => `fewer than ${k} visitors behind this number or its neighbours`

export const OTHER = '(other)'

/** R1 `min-group`. */
export const minGroup = (s: Pick<Sums, 'visitors' | 'networks'>, l: Limits) => s.visitors >= l.k && s.networks >= l.kn

/**
 * R3, R4, R5, R7: `part` is a subset of `whole`; at least k visitors of `whole` are outside it.
 * With `equalAllowed`, `part` may also be all of `whole` (a bucket that is the whole range).
 * With k = 1 (a policy that publishes single visitors) there is no small difference to hide.
 */
export const apart = (whole: number, part: number, l: Limits, equalAllowed = false) =>
  l.k <= 1 || whole - part >= l.k || (equalAllowed && whole === part)

/**
 * R3 row by row: a row's (a bucket's, a goal's, "(other)"'s) visitors against those of the same
 * without each filter (`without`): the same, or at least k more.
 */
export const apartFromEach = (without: readonly number[], visitors: number, l: Limits) => without.every((n) => apart(n, visitors, l, true))

/**
 * R3 settled before today is read. A neighbour (the question without one of its filters) counts on
 * each UTC day at least the visitors the question counts that day: every filter is a condition a
 * visit meets or not, so the question's visits of a day are among the neighbour's, with the same
 * events and the same day; and a visitor is a visitor of one UTC day (the daily salt), so a count
 * over days is the sum of the days' counts. The neighbour's lead over the whole range is thus at
 * least its lead over any of its days: when the days whose rows are kept already (`question` and
 * `neighbour`, summed over the same days, row by row) put the neighbour k visitors ahead at a row,
 * `apart` holds there whatever the other days (today's live ones) add. A row `equal` is known to
 * count the same visitors with the filter and without it (the filter holds for every visit the row
 * counts: a funnel step past a step that is the filter's page). The rows settled so, each true or
 * false; where every row compared is settled, the neighbour need not be read: it stands as `APART`
 * visitors. `neighbour` null: its rows are not kept for every one of those days. (test/aggregator/
 * stats/settled-apart.test.ts: the answers are those of the neighbours read.)
 */
export function settledApart(question: readonly Pick<Sums, 'visitors'>[], neighbour: readonly Pick<Sums, 'visitors'>[] | null, l: Limits, equal: readonly boolean[] = []): boolean[] {
  return question.map((q, i) => equal[i] === true || (neighbour !== null && neighbour.length === question.length && neighbour[i].visitors - q.visitors >= l.k))
}

/**
 * R3 row by row settled by the kept days (settledApart), for rows with keys (a breakdown's, goals',
 * page flow's): the rows `mine` (the question) and `theirs` (a neighbour) have over the days whose
 * rows are kept. The neighbour's lead is at least their difference when every day the question
 * reads and has not kept (`unread`: today) is one the neighbour reads and has not kept either: on
 * such a day it counts at least the question's visitors, and a day kept by one side alone only
 * lowers the difference (a day the question reads that the neighbour does not, the day before a
 * filtered range, counts in `mine` against nothing). Null when that is not so or the neighbour
 * has nothing kept. `settles(rows)`: whether the neighbour is k visitors ahead at every row of
 * `rows` (the question's, read) R1 may let through (k visitors or more: a row below is folded and
 * compared with nothing, and an "(other)" of it alone fails R1 too); `likely`: whether it is so at
 * every row the kept days give k visitors or more (a row new today is known once the rows are read).
 */
export interface KeptLeads {
  likely: boolean
  settles: (rows: { key: string; visitors: number }[]) => boolean
}
export function keptLeads(mine: KeptRows, theirs: KeptRows, l: Limits): KeptLeads | null {
  if (theirs.days.length === 0 || !mine.unread.every((d) => theirs.unread.includes(d))) return null
  const lead = new Map<string, number>()
  const kept = new Map<string, number>()
  for (const r of theirs.rows) lead.set(r.key, (lead.get(r.key) ?? 0) + r.visitors)
  for (const r of mine.rows) {
    lead.set(r.key, (lead.get(r.key) ?? 0) - r.visitors)
    kept.set(r.key, (kept.get(r.key) ?? 0) + r.visitors)
  }
  const ahead = (key: string) => settledApart([{ visitors: 0 }], [{ visitors: lead.get(key) ?? 0 }], l)[0]
  return {
    likely: [...kept].every(([key, visitors]) => visitors < l.k || ahead(key)),
    settles: (rows) => rows.every((r) => r.visitors < l.k || ahead(r.key)),
  }
}
/** Rows kept of the days a question reads (keptSums in query.ts): those days, the days it reads besides (live), and the rows. */
export interface KeptRows {
  days: string[]
  unread: string[]
  rows: { key: string; visitors: number }[]
}

/** The visitors a neighbour settled apart (settledApart) stands as: more than any count, k apart from every one. */
export const APART = Number.POSITIVE_INFINITY

/** R6 `add-day`: the visitors of an adjacent day are none, or at least k. */
export const adjacentDayAllows = (visitors: number, l: Limits) => visitors === 0 || visitors >= l.k

export interface Row {
  key: string
  sums: Sums
}

/**
 * R1, R4 and R3 over the rows of one answer: the rows that may be shown, largest first, and the
 * keys that must be folded. The caller counts "(other)" over the folded keys (R0) and asks
 * `otherAllowed`; if it fails, the smallest shown row joins the folded ones (`foldOneMore`). A
 * question filtering the broken-down property on one value (`picked`) has that value's row as its
 * total: "no visitor of the total lacks it" is what the question says, not something the row
 * tells, and "(other)" would show the same number under another name.
 */
export function splitRows(
  rows: Row[],
  total: number,
  l: Limits,
  neighbours: ReadonlyMap<string, Pick<Sums, 'visitors'>>[] = [],
  /** The one value the question itself picks (`page==/pricing` on the page breakdown): its row is the total by construction, so it may equal it (R4). */
  picked: string | null = null,
): { shown: Row[]; folded: Row[] } {
  const sorted = [...rows].sort((a, b) => b.sums.visitors - a.sums.visitors || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  // R3 row by row: the same row without one of the filters (`neighbours`) has k visitors more, or the same
  const ok = (r: Row) =>
    r.key !== OTHER &&
    minGroup(r.sums, l) &&
    apart(total, r.sums.visitors, l, r.key === picked) &&
    apartFromEach(neighbours.map((n) => n.get(r.key)?.visitors ?? 0), r.sums.visitors, l)
  return { shown: sorted.filter(ok), folded: sorted.filter((r) => !ok(r)) }
}

/**
 * How many times "(other)" may be counted again, a shown row folded into it each time, before
 * every row is: a list then shows "(other)" alone, or nothing (never rows beside folded values
 * that have no "(other)", whose visitors the total and the rows would tell).
 */
export const OTHER_TRIES = 3

/** "(other)" is shown when it passes R1 and leaves k visitors outside it, or is everything. */
export const otherAllowed = (other: Pick<Sums, 'visitors' | 'networks'>, total: number, l: Limits) => minGroup(other, l) && apart(total, other.visitors, l, true)

/** The identity of a published cell: what it counts, however the question reached it. */
export interface Cell {
  /** The filters that select it, with the row's own value as one more (`country==US`). */
  filters: { name: string; op: string; values: string[] }[]
  /** Its time span: [from, to) in ms, or a bucket label with its zone. */
  span: string
}

export function cellOf(filters: Filter[], span: string, row?: { name: string; op: string; values: string[] }): Cell {
  const all: Cell['filters'] = filters.map((f) => ({ name: f.name, op: f.op, values: [...f.values].sort() }))
  if (row) all.push({ ...row, values: [...row.values].sort() })
  all.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
  return { filters: all, span }
}

/**
 * N1: consistent noise. The noise of a count is drawn from a keyed stream over the cell's
 * identity (its filters and row value in a canonical order, its time span), the metric and the
 * true value: asking again, or reaching the same cell through another question (a day's bucket
 * of a week, or that day alone; a breakdown row, or the total filtered on it), gives the same
 * number, so repeating or re-slicing averages nothing away. Two-sided geometric (discrete
 * Laplace) noise with the policy's ε per count (aggregator/export/noise.ts).
 */
export class Noise {
  constructor(
    private readonly key: Buffer,
    readonly epsilon: number,
  ) {}

  count(cell: Cell, metric: string, value: number): number {
    if (value === 0) return 0
    const seed = keyedHash(this.key, [cell, metric, value])
    return Math.max(0, value + countNoise(seed, '', metric, this.epsilon))
  }

  /** The sums of a cell with noise on each count; the durations and rates follow the noisy counts. */
  sums(cell: Cell, s: Sums): Sums {
    const n = (m: keyof Sums) => this.count(cell, m, s[m])
    const visits = n('visits')
    const pageviews = n('pageviews')
    const scale = (x: number, from: number, to: number) => (from > 0 ? Math.round((x * to) / from) : 0)
    return {
      visitors: n('visitors'),
      networks: s.networks,
      visits,
      pageviews,
      events: n('events'),
      bounces: scale(s.bounces, s.entries, n('entries')),
      entries: n('entries'),
      duration_ms: scale(s.duration_ms, s.visits, visits),
      engagement_ms: scale(s.engagement_ms, s.pageviews, pageviews),
      // revenue follows its noisy events, as durations follow theirs (its average stays true);
      // scroll depth is an average, and the visitors behind each are thresholds, decided on true counts
      ...this.measures(cell, s),
    }
  }

  private measures(cell: Cell, s: Sums): Pick<Sums, 'revenue' | 'revenue_events' | 'revenue_visitors' | 'revenue_networks' | 'scroll_sum' | 'scroll_views' | 'scroll_visitors' | 'scroll_networks'> {
    const revenueEvents = this.count(cell, 'revenue_events', s.revenue_events)
    return {
      revenue: s.revenue_events > 0 ? Math.round((s.revenue * revenueEvents) / s.revenue_events) : 0,
      revenue_events: revenueEvents,
      revenue_visitors: s.revenue_visitors,
      revenue_networks: s.revenue_networks,
      scroll_sum: s.scroll_sum,
      scroll_views: s.scroll_views,
      scroll_visitors: s.scroll_visitors,
      scroll_networks: s.scroll_networks,
    }
  }
}
