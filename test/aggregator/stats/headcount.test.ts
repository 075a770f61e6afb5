import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { headcountOnly, querySums, sumsSql, type StatsQuestion } from '../../../aggregator/stats/query.ts'
import { rng } from '../../helpers/identifier-corpus.ts'
import { DAY, HOUR, MINUTE, openFixture, rows, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * A headcount (service.ts `headcount`: the totals' visitors and networks alone, what the k rules
 * compare) over whole UTC days under filters every event carries is counted from the visit rows
 * as inserted, without FINAL (query.ts `headcountOnly`). Its visitors and networks must be those
 * of the whole totals, and those worked out here from what was sent, with each visit's events
 * inserted in several parts (so several rows of a visit are not merged yet) and visitors sharing
 * networks. Nothing is built: every day is read live.
 */

const SITE = 'example.com'
const DAYS = ['2030-11-05', '2030-11-06']
const start = (d: string) => Date.parse(`${d}T00:00:00Z`)
const COUNTRIES = ['DE', 'US', 'FR']
const BROWSERS = ['Firefox', 'Chrome']
const PAGES = ['/', '/pricing', '/docs']

const r = rng(20301105)
const sent: EventSpec[] = []
for (const [d, day] of DAYS.entries()) {
  for (let v = 1; v <= 40; v++) {
    // a visitor's hash is the day's; its place, browser and network are on each of its events
    const visitor = (d + 1) * 1000 + v
    const dims = { country: r.pick(COUNTRIES), browser: r.pick(BROWSERS) }
    const networkId = r.next() < 0.2 ? 0 : 1 + r.int(0, 9)
    let ts = start(day) + r.int(1, 22) * HOUR + r.int(0, 59) * MINUTE
    for (let visit = 0; visit < r.int(1, 2); visit++) {
      for (let e = 0; e < r.int(1, 4); e++) {
        sent.push({ ts, visitor, path: r.pick(PAGES), dims, networkId })
        ts += r.int(1, 20) * MINUTE
      }
      ts += 2 * HOUR
    }
  }
  // a visit of each country and browser across a cut (below): its row of the later part holds none of its first event's values
  for (const [c, country] of COUNTRIES.entries()) {
    for (const [b, browser] of BROWSERS.entries()) {
      const visitor = (d + 1) * 1000 + 100 + c * 10 + b
      // at cuts away from PART's ends (6:00 on the first day, 12:00 on the second)
      const at = start(day) + [3, 9, 15, 18, 21, 3][c * 2 + b] * HOUR
      for (const ts of [at - 10 * MINUTE, at + 10 * MINUTE]) sent.push({ ts, visitor, path: r.pick(PAGES), dims: { country, browser }, networkId: visitor })
    }
  }
  // events without a visitor hash count no visitor
  sent.push({ ts: start(day) + 5 * HOUR, visitor: 0, path: '/', dims: { country: 'DE', browser: 'Firefox' } })
}
sent.sort((a, b) => a.ts - b.ts)

let fx: StoreFixture
beforeAll(async () => {
  fx = await openFixture({ [SITE]: 'UTC' }, start(DAYS[1]) + 2 * DAY)
  // in time order, in parts cut every three hours: a visit running across a cut has a row in each
  const cuts = new Map<number, EventSpec[]>()
  for (const e of sent) {
    const part = Math.floor(e.ts / (3 * HOUR))
    cuts.set(part, [...(cuts.get(part) ?? []), e])
  }
  // merges would make the rows of a visit one before the questions: none is made
  await fx.client.command({ query: 'SYSTEM STOP MERGES visits' })
  for (const part of cuts.values()) await fx.insert(part)
})
afterAll(async () => {
  await fx?.close()
})

/** The visitors and networks of the visits the filters keep, per UTC day, added up (hashes are daily). */
function model(filters: string, range: { from: number; to: number }) {
  const keep = (e: EventSpec) =>
    parseFilters(filters).every((f) => {
      const value = f.name === 'page' ? e.path : (e.dims as Record<string, string>)[f.name]
      const hit = f.op === '~' ? f.values.some((v) => (value ?? '').toLowerCase().includes(v.toLowerCase())) : f.values.includes(value ?? '')
      return f.op === '!=' ? !hit : hit
    })
  let visitors = 0
  let networks = 0
  for (const day of DAYS) {
    const on = sent.filter((e) => e.visitor !== 0 && e.ts >= Math.max(start(day), range.from) && e.ts < Math.min(start(day) + DAY, range.to))
    // a page filter keeps the visitors with such a pageview (each visitor here has its visits on one day)
    const kept = new Set(on.filter(keep).map((e) => e.visitor))
    visitors += kept.size
    networks += new Set(on.filter((e) => kept.has(e.visitor)).map((e) => (e.networkId ? `n${e.networkId}` : `v${e.visitor}`))).size
  }
  return { visitors, networks }
}

const question = (filters: string, range: { from: number; to: number }, lean: boolean): StatsQuestion => ({
  site: SITE,
  timezone: 'UTC',
  range,
  filters: parseFilters(filters),
  ...(lean ? { lean } : {}),
})
const counted = async (q: StatsQuestion) => {
  const rs = await querySums(fx.client, q)
  return { visitors: rs.reduce((a, x) => a + x.visitors, 0), networks: rs.reduce((a, x) => a + x.networks, 0) }
}

const WHOLE = { from: start(DAYS[0]), to: start(DAYS[1]) + DAY }
const PART = { from: start(DAYS[0]) + 6 * HOUR, to: start(DAYS[1]) + 12 * HOUR }

describe('a headcount', () => {
  it('is read from visit rows not merged yet: the data has visits in several rows', async () => {
    const [{ n }] = await rows<{ n: number }>(fx.client, 'SELECT count() AS n FROM visits')
    const [{ m }] = await rows<{ m: number }>(fx.client, 'SELECT count() AS m FROM visits FINAL')
    expect(Number(n)).toBeGreaterThan(Number(m))
  })

  it.each([
    ['', WHOLE, true],
    ['country==DE', WHOLE, true],
    ['country!=DE;browser==Firefox', WHOLE, true],
    // a visit's rows without its first event hold no country: `!=` and the empty value would pick them
    ['country!=DE', WHOLE, false],
    ['country==(none)|DE', WHOLE, false],
    ['country!=(none)|DE', WHOLE, true],
    ['browser~fire', WHOLE, true],
    ['country!=DE;browser!=Chrome', WHOLE, false],
    ['country==US|FR', WHOLE, true],
    // not carried by every event, or part of a day: the merged visits, as the totals
    ['page==/pricing', WHOLE, false],
    ['country==DE', PART, false],
    ['', PART, false],
  ] as const)('under "%s" equals the totals and what was sent', async (filters, range, fast) => {
    const lean = question(filters, range, true)
    const days = DAYS
    expect(headcountOnly(lean, days)).toBe(fast)
    // the fast read has no FINAL; the others read as the totals do
    expect(sumsSql(lean, days).sql.includes('FINAL')).toBe(!fast)
    const [head, whole] = await Promise.all([counted(lean), counted(question(filters, range, false))])
    const truth = model(filters, range)
    expect(truth.visitors).toBeGreaterThan(0)
    expect(head).toEqual(truth)
    expect(whole).toEqual(truth)
  })

  it('is no headcount with an interval or a property', () => {
    const q = question('', WHOLE, true)
    expect(headcountOnly({ ...q, interval: 'hour' }, DAYS)).toBe(false)
    expect(headcountOnly({ ...q, property: { level: 'visit', expr: 'country', eventExpr: 'country', dim: 'country', onEveryEvent: true } }, DAYS)).toBe(false)
    expect(headcountOnly({ ...q, lean: undefined }, DAYS)).toBe(false)
  })
})
