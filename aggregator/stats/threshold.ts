import { addSums, ZERO, type Sums } from './metrics.ts'

export const OTHER = '(other)'

/** Why a number is null: the same words wherever a number is withheld. */
export const withheldReason = (k: number) => `fewer than ${k} visitors`

export interface Row {
  key: string
  sums: Sums
}

/**
 * Rows drawn from fewer than `k` visitors are folded into one `(other)` row. If `(other)`
 * itself would stand for fewer than k visitors, the smallest visible rows join it until it
 * does, so that no hidden row can be recovered by subtracting the visible rows from a total.
 * When the whole population is below k, nothing is returned (`withheld`).
 */
export function foldSmallRows(rows: Row[], k: number): { rows: Row[]; folded: number; withheld: boolean } {
  const total = rows.reduce((s, r) => s + r.sums.visitors, 0)
  if (total < k) return { rows: [], folded: rows.length, withheld: rows.length > 0 }
  const visible = rows.filter((r) => r.sums.visitors >= k).sort((a, b) => b.sums.visitors - a.sums.visitors || (a.key < b.key ? -1 : 1))
  const hidden = rows.filter((r) => r.sums.visitors < k)
  let other = hidden.reduce((s, r) => addSums(s, r.sums), { ...ZERO })
  let folded = hidden.length
  while (folded > 0 && other.visitors < k && visible.length > 0) {
    other = addSums(other, visible.pop()!.sums)
    folded++
  }
  if (folded > 0 && other.visitors < k) return { rows: [], folded: rows.length, withheld: true }
  return { rows: folded > 0 ? [...visible, { key: OTHER, sums: other }] : visible, folded, withheld: false }
}
