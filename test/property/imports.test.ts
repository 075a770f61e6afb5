import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, tempDataDir, testApp } from '../helpers/app.ts'
import { plausibleCsvs, zipOf, type WorldDay } from '../aggregator/imports/plausible-export.ts'

/**
 * Issue 16, point 3: the k promise for imported statistics, against an oracle built from the CSV
 * the test made. Random exports (four days, each with its visitors, pages a visitor may view
 * several of, and countries that split the day) are imported through the HTTP route into sites
 * of their own; random ranges are asked, with their totals, series and page and country rows, as
 * the admin (exact numbers). Every answer must keep the rules of aggregator/imports/disclosure.ts:
 * (a) every published visitor number is at least k and equals the sum, over the range's days, of
 *     the day cells the oracle keeps (a day's total with ≥ k visitors; a row cell with ≥ k that
 *     leaves none or ≥ k of its day outside it), and nothing else is published (0 is withheld);
 * (b) neighbours never differ by 1..k−1: the range and the range with one day more, a row and
 *     the total, a day of the series and the total of the range.
 */

const K = 3
const POLICY = `version: 1
name: imports (oracle)
defaults:
  min_visitors: { dashboard: ${K}, shared: ${K}, export: ${K} }
`
const DAYS = ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01']
const RUNS = Number(process.env.IMPORTS_PROPERTY_RUNS ?? 12)
const PAGES = ['/', '/a', '/b']
const COUNTRIES = ['DE', 'FR', 'US']

const SITE = 'example.com'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
let app: FastifyInstance

const day = fc.integer({ min: 0, max: 12 }).chain((visitors) =>
  fc.record({
    visitors: fc.constant(visitors),
    pages: fc.tuple(...PAGES.map(() => fc.integer({ min: 0, max: visitors }))),
    countries: fc.tuple(...COUNTRIES.map(() => fc.nat())).map((w) => {
      // a split of the day's visitors between the countries
      const sum = w.reduce((a, b) => a + b, 0) || 1
      const parts = w.map((x) => Math.floor((x * visitors) / sum))
      parts[0] += visitors - parts.reduce((a, b) => a + b, 0)
      return parts
    }),
  }),
)
const world = fc.tuple(...DAYS.map(() => day)).map((days): WorldDay[] =>
  days.map((d, i) => ({
    date: DAYS[i],
    visitors: d.visitors,
    pages: Object.fromEntries(PAGES.map((p, j) => [p, d.pages[j]]).filter(([, v]) => v !== 0)),
    countries: Object.fromEntries(COUNTRIES.map((c, j) => [c, d.countries[j]]).filter(([, v]) => v !== 0)),
  })),
)
const range = fc.tuple(fc.integer({ min: 0, max: DAYS.length - 1 }), fc.integer({ min: 0, max: DAYS.length - 1 })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const)

// ---- the oracle: the rules restated on the numbers the CSV holds -------------------------------

const totalKept = (t: number) => (t >= K ? t : 0)
const rowKept = (v: number, t: number) => (v >= K && t >= K && (t - v === 0 || t - v >= K) ? v : 0)
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const oracle = {
  total: (w: WorldDay[], a: number, b: number) => sum(w.slice(a, b + 1).map((d) => totalKept(d.visitors))),
  rows: (w: WorldDay[], a: number, b: number, of: 'pages' | 'countries') => {
    const out = new Map<string, number>()
    for (const d of w.slice(a, b + 1)) for (const [value, v] of Object.entries(d[of] ?? {})) out.set(value, (out.get(value) ?? 0) + rowKept(v, d.visitors))
    return new Map([...out].filter(([, v]) => v > 0))
  },
}

const shownOrZero = (v: number | null) => v ?? 0
const neighbours = (x: number, y: number) => Math.abs(x - y) === 0 || Math.abs(x - y) >= K

describe('imported statistics keep the k promise', () => {
  beforeAll(async () => {
    const dir = tempDataDir('imports-oracle-')
    fs.writeFileSync(path.join(dir, 'policy.yaml'), POLICY)
    app = await testApp({ policyFile: path.join(dir, 'policy.yaml') }, [SITE])
  }, 60_000)
  afterAll(async () => {
    await app?.close()
  })

  it('publishes only sums of kept cells, each number ≥ k, neighbours never 1..k−1 apart', async () => {
    await fc.assert(
      fc.asyncProperty(world, fc.array(range, { minLength: 2, maxLength: 3 }), async (w, ranges) => {
        const site = SITE
        const imported = await app.inject({ method: 'POST', url: `/api/v1/imports?site=${site}`, headers: { ...auth, 'content-type': 'application/zip' }, payload: Buffer.from(zipOf(plausibleCsvs(w, ['visitors', 'pages', 'locations']))) })
        expect(imported.statusCode, imported.body).toBe(201)
        try {
          await check(site, w, ranges)
        } finally {
          // each world in the same site: its import is deleted, so the next does not overlap it
          await app.inject({ method: 'DELETE', url: `/api/v1/imports/${imported.json().import.id}?site=${site}`, headers: auth })
        }
      }),
      { numRuns: RUNS, seed: process.env.IMPORTS_PROPERTY_SEED ? Number(process.env.IMPORTS_PROPERTY_SEED) : undefined },
    )
  }, 300_000)
})

/** (a) and (b) for the ranges asked of one imported world. */
async function check(site: string, w: WorldDay[], ranges: (readonly [number, number])[]) {
  const ask = async (a: number, b: number) => {
    const q = `site=${site}&from=${DAYS[a]}&to=${DAYS[b]}`
    const get = async (url: string) => (await app.inject({ method: 'GET', url, headers: auth })).json()
    const [overview, pages, countries] = await Promise.all([get(`/api/v1/stats/imported?${q}`), get(`/api/v1/stats/imported/breakdown?${q}&property=page&limit=100`), get(`/api/v1/stats/imported/breakdown?${q}&property=country&limit=100`)])
    return { overview, pages, countries }
  }
  for (const [a, b] of ranges) {
    const { overview, pages, countries } = await ask(a, b)
    // (a) the total, the series and the rows are the oracle's sums; a published number is ≥ k
    const total = overview.results.visitors.value as number | null
    expect(shownOrZero(total)).toBe(oracle.total(w, a, b))
    if (total !== null) expect(total).toBeGreaterThanOrEqual(K)
    for (const [i, r] of (overview.timeseries as { date: string; visitors: number | null }[]).entries()) {
      expect(shownOrZero(r.visitors)).toBe(totalKept(w[a + i].visitors))
      // (b) a day against the range
      expect(neighbours(shownOrZero(r.visitors), shownOrZero(total))).toBe(true)
    }
    for (const [answer, of, name] of [[pages, 'pages', 'page'], [countries, 'countries', 'country']] as const) {
      const got = new Map((answer.results as Record<string, string | number>[]).map((r) => [String(r[name]), Number(r.visitors)]))
      expect(got).toEqual(oracle.rows(w, a, b, of))
      for (const v of got.values()) {
        expect(v).toBeGreaterThanOrEqual(K)
        // (b) a row against the total
        expect(neighbours(v, shownOrZero(total))).toBe(true)
      }
    }
    // (b) one day more, before and after
    for (const [a2, b2] of [[a - 1, b], [a, b + 1]]) {
      if (a2 < 0 || b2 >= DAYS.length) continue
      const wider = await ask(a2, b2)
      expect(neighbours(shownOrZero(wider.overview.results.visitors.value), shownOrZero(total))).toBe(true)
      const rowsNow = new Map((pages.results as Record<string, number>[]).map((r) => [String(r.page), r.visitors]))
      for (const r of wider.pages.results as Record<string, number>[]) expect(neighbours(r.visitors, rowsNow.get(String(r.page)) ?? 0)).toBe(true)
    }
  }
}
