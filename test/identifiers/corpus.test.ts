/**
 * The catalogue measured (issue 18, point 5): synthetic values of every kind planted in
 * realistic URLs and texts, and ordinary URLs that must survive untouched. Prints, per kind,
 * the recall (planted values removed), how many were removed by the kind's own detector, and
 * the false positives on the ordinary corpus; fails below the floors it states.
 * `npx vitest run test/identifiers/corpus.test.ts` prints the table.
 */
import { describe, expect, it } from 'vitest'
import { CATALOGUE, scrubIdentifiers } from '../../identifiers/catalogue.ts'
import { CONTEXTS, GENERATORS, KNOWN_COLLATERAL, ORDINARY, plant, rng, secretPart } from '../helpers/identifier-corpus.ts'

const PER_KIND = 80

interface Row {
  kind: string
  planted: number
  removed: number
  own: number
  falsePositives: number
  missed: string[]
}

function measure(): { rows: Row[]; altered: string[] } {
  const r = rng(20261129)
  const rows: Row[] = CATALOGUE.map((k) => ({ kind: k.id, planted: 0, removed: 0, own: 0, falsePositives: 0, missed: [] }))
  for (const row of rows) {
    for (let i = 0; i < PER_KIND; i++) {
      const value = GENERATORS[row.kind](r)
      const text = plant(row.kind, value, CONTEXTS[i % CONTEXTS.length], r)
      const found = new Set<string>()
      const out = scrubIdentifiers(text, [], (kind) => found.add(kind.id))
      row.planted++
      if (out.includes(secretPart(row.kind, value))) row.missed.push(text)
      else row.removed++
      if (found.has(row.kind)) row.own++
    }
  }
  const altered: string[] = []
  for (const text of ORDINARY) {
    const found = new Set<string>()
    if (scrubIdentifiers(text, [], (kind) => found.add(kind.id)) !== text) altered.push(text)
    for (const id of found) rows.find((x) => x.kind === id)!.falsePositives++
  }
  return { rows, altered }
}

/**
 * Random numeric ids (`/product/<n digits>`, first digit not 0) by length: what share each kind
 * takes for an identifier. Short ids always survive; some long ones are indistinguishable from
 * a phone or a card number with a valid check digit, and are measured, not hidden.
 */
function numericIds(): { length: number; altered: number; byKind: Map<string, number> }[] {
  const r = rng(7)
  return Array.from({ length: 16 }, (_, i) => i + 4).map((length) => {
    const byKind = new Map<string, number>()
    let altered = 0
    for (let i = 0; i < 500; i++) {
      const text = `/product/${r.int(1, 9)}${r.digits(length - 1)}`
      const found = new Set<string>()
      if (scrubIdentifiers(text, [], (kind) => found.add(kind.id)) !== text) altered++
      for (const id of found) byKind.set(id, (byKind.get(id) ?? 0) + 1)
    }
    return { length, altered, byKind }
  })
}

describe('the identifier corpus', () => {
  const { rows, altered } = measure()

  it('has a generator for every kind of the catalogue', () => {
    expect(Object.keys(GENERATORS).sort()).toEqual(CATALOGUE.map((k) => k.id).sort())
  })

  it('prints recall and false positives per kind', () => {
    const pct = (n: number, d: number) => `${((100 * n) / d).toFixed(1)}%`
    const lines = [
      `kind                 planted  recall   own kind  false positives (of ${ORDINARY.length} ordinary texts)`,
      ...rows.map((x) => `${x.kind.padEnd(20)} ${String(x.planted).padStart(7)}  ${pct(x.removed, x.planted).padStart(6)}  ${pct(x.own, x.planted).padStart(8)}  ${x.falsePositives}`),
      `ordinary texts altered: ${altered.length} of ${ORDINARY.length}${altered.length ? ` (${altered.join(', ')})` : ''}`,
    ]
    console.log(lines.join('\n'))
    expect(rows.reduce((s, x) => s + x.planted, 0)).toBe(CATALOGUE.length * PER_KIND)
  })

  it('keeps random numeric ids of up to nine digits; prints what share of longer ones is taken', () => {
    const ids = numericIds()
    console.log(['random /product/<id> of n digits: share altered (by kind)', ...ids.map((x) => `${String(x.length).padStart(2)} digits: ${((100 * x.altered) / 500).toFixed(1).padStart(5)}%  ${[...x.byKind].map(([k, n]) => `${k} ${n}`).join(', ')}`)].join('\n'))
    for (const x of ids.filter((x) => x.length <= 9)) expect(x.altered, `${x.length} digits`).toBe(0)
  })

  it('removes every planted value of every kind', () => {
    for (const row of rows) expect(row.missed, row.kind).toEqual([])
  })

  it('leaves every ordinary URL and text exactly as it was, but the known collateral', () => {
    expect(altered).toEqual(KNOWN_COLLATERAL)
  })
})
