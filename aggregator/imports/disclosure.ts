import { apart, type Limits } from '../stats/disclosure.ts'
import { COUNT_NAMES, type Counts, type ImportedCell } from './cells.ts'

/**
 * The k promise for imported statistics. They are per-day cells (a day × a value) with visitor
 * counts summed by another tool: no visitor ids, no networks, no distinct count over days. So a
 * cell is suppressed before anything is added up, and every published number is a sum of kept
 * cells:
 * - I1: a day's totals cell is kept only with at least k visitors (fewer count as none);
 * - I2: a row cell (a page, a source… on a day) is kept only with at least k visitors, on a day
 *   whose totals are kept, leaving none or at least k of the day's visitors outside it.
 * Then every kept cell is 0 or ≥ k, a row cell never exceeds its day's kept total, and every
 * difference between two published numbers that differ by days (one day more, another period
 * holding this one) or by a row against the total is a sum of kept cells or of total-minus-row
 * terms, each 0 or ≥ k, so it is 0 or ≥ k as well. A sum of 0 is withheld like a small one (R2).
 * kn (networks) cannot be applied: an export has no networks.
 */

export const ZERO_COUNTS: Readonly<Counts> = Object.freeze({ visitors: 0, visits: 0, pageviews: 0, bounces: 0, visit_duration: 0, events: 0 })

/** I1: the days whose totals may be counted, with those totals. */
export function keptDays(totals: ImportedCell[], l: Limits): Map<string, Counts> {
  return new Map(totals.filter((c) => c.counts.visitors >= l.k && c.counts.visitors > 0).map((c) => [c.day, c.counts]))
}

/** I2: the row cells that may be counted, given the days' true totals. */
export function keptRows(rows: ImportedCell[], dayTotals: ReadonlyMap<string, Counts>, l: Limits): ImportedCell[] {
  return rows.filter((c) => {
    const day = dayTotals.get(c.day)?.visitors ?? 0
    return c.counts.visitors >= l.k && c.counts.visitors > 0 && day >= l.k && apart(day, c.counts.visitors, l, true) && c.counts.visitors <= day
  })
}

export function addCounts(cells: Iterable<Counts>): Counts {
  const out = { ...ZERO_COUNTS }
  for (const c of cells) for (const n of COUNT_NAMES) out[n] += c[n]
  return out
}
