import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { ZERO, type Sums } from '../../../aggregator/stats/metrics.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { querySums, type StatsQuestion, type SumsRow } from '../../../aggregator/stats/query.ts'
import { rng } from '../../helpers/identifier-corpus.ts'
import { DAY, HOUR, MINUTE, openFixture, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * Networks counted up to the network minimum (StatsQuestion.networksUpTo, query.ts
 * `networkCount`): a number of networks is only compared with kn, so each read counts them with
 * uniqUpTo(kn), kn + 1 for any count above kn. Every question shape the statistics read (no
 * property, each kind of property, lean or not, by the hour, under each kind of filter), asked
 * together as a dashboard asks them (grouped reads) and alone, is asked both ways on the same
 * rows: every sum is the same, and each count of networks is the exact one capped at kn + 1 on
 * each UTC day, added up over the days (so whether it reaches kn is decided as on the exact count).
 * Two live days of visitors sharing networks (up to a dozen a key, some none: a visit without a
 * network is one of its own), so rows are below, at and above the cap.
 */

const SITE = 'example.com'
const DAY0 = Date.parse('2026-11-10T00:00:00Z')
const KN = 3
const PAGES = ['/', '/pricing', '/docs', '/blog/a']
const SOURCES = ['Google', 'example.net', '']
const COUNTRIES = ['US', 'DE', 'FR', '']
const PLANS = ['free', 'pro']
const r = rng(20261205)

let fx: StoreFixture

beforeAll(async () => {
  const sent: EventSpec[] = []
  for (const day of [DAY0, DAY0 + DAY]) {
    for (let v = 1; v <= 70; v++) {
      const visitor = v + (day - DAY0) / DAY * 1000
      const networkId = r.next() < 0.25 ? 0 : 1001 + r.int(0, 11)
      const dims = { source: r.pick(SOURCES), country: r.pick(COUNTRIES) }
      let ts = day + HOUR + r.int(0, 600) * MINUTE
      for (let e = r.int(1, 4); e > 0; e--) {
        sent.push({ ts, visitor, path: r.pick(PAGES), networkId, dims })
        ts += r.int(1, 5) * MINUTE
        const extra = r.next()
        if (extra < 0.3) sent.push({ ts, visitor, path: '/pricing', name: 'Signup', props: { plan: r.pick(PLANS) }, networkId, dims })
        else if (extra < 0.5) sent.push({ ts, visitor, path: '/docs', name: 'engagement', engagement_ms: 4000, scrollDepth: r.int(10, 100), networkId, dims })
        ts += MINUTE
      }
    }
  }
  sent.sort((a, b) => a.ts - b.ts)
  fx = await openFixture({ [SITE]: 'UTC' }, DAY0 + DAY + 23 * HOUR)
  // in four inserts: today's visits over several parts, as between merges
  const part = Math.ceil(sent.length / 4)
  for (let i = 0; i < sent.length; i += part) await fx.insert(sent.slice(i, i + part))
})
afterAll(async () => {
  await fx?.close()
})

/** Each count of networks, with the count of visitors it goes with. */
const NETWORK_SUMS = [['networks', 'visitors'], ['scroll_networks', 'scroll_visitors'], ['revenue_networks', 'revenue_visitors']] as const
const range = (days: number[]) => ({ from: DAY0 + Math.min(...days) * DAY, to: DAY0 + (Math.max(...days) + 1) * DAY })
const SHAPES: Omit<StatsQuestion, 'site' | 'timezone' | 'range' | 'filters'>[] = [
  {},
  { lean: true },
  { interval: 'hour' },
  ...['page', 'entry_page', 'exit_page', 'source', 'country', 'event', 'prop:plan'].flatMap((name) => [{ property: property(name)! }, { property: property(name)!, lean: true }]),
  { property: property('page')!, lean: true, scroll: true },
]
const FILTERS = ['', 'country==US', 'source==Google', 'page==/pricing', 'event==Signup', 'page!=/docs', 'country==US;page==/pricing', 'page==/pricing;event==Signup']

/** Each shape under `filters` over `days`: networks counted up to KN (`capped`) or exactly, every question asked at once (`together`) or one by one. */
async function ask(filters: string, days: number[], capped: boolean, together: boolean): Promise<Map<string, Sums>[]> {
  const questions = SHAPES.map((shape): StatsQuestion => ({ site: SITE, timezone: 'UTC', range: range(days), filters: parseFilters(filters), ...shape, ...(capped ? { networksUpTo: KN } : {}) }))
  const byKey = (rows: SumsRow[]) => new Map(rows.map((x) => [`${x.key}|${x.bucket}`, x as Sums]))
  if (together) return (await Promise.all(questions.map((q) => querySums(fx.client, q)))).map(byKey)
  const out: Map<string, Sums>[] = []
  for (const q of questions) out.push(byKey(await querySums(fx.client, q)))
  return out
}

describe.each([
  ['asked together', true],
  ['asked one by one', false],
])('networks counted up to the minimum, %s', (_, together) => {
  it.each(FILTERS)('filters "%s": every sum as counted exactly, networks capped at kn + 1 a day', async (filters) => {
    const [capped, exact, ...days] = await Promise.all([
      ask(filters, [0, 1], true, together),
      ask(filters, [0, 1], false, together),
      ask(filters, [0], false, together),
      ask(filters, [1], false, together),
    ])
    let above = 0
    let checked = 0
    SHAPES.forEach((shape, i) => {
      const what = `${JSON.stringify(shape.property?.dim ?? '')}${shape.lean ? ' lean' : ''}${shape.scroll ? ' scroll' : ''}${shape.interval ? ` by ${shape.interval}` : ''}`
      expect([...capped[i].keys()].sort(), what).toEqual([...exact[i].keys()].sort())
      for (const [key, e] of exact[i]) {
        const c = capped[i].get(key)!
        const each = days.map((d) => d[i].get(key) ?? ZERO)
        for (const m of Object.keys(ZERO) as (keyof Sums)[]) {
          if (!NETWORK_SUMS.some(([n]) => n === m)) expect(c[m], `${what} ${key} ${m}`).toBe(e[m])
        }
        for (const [m, visitors] of NETWORK_SUMS) {
          expect(c[m] >= KN, `${what} ${key} ${m} reaches kn`).toBe(e[m] >= KN)
          expect(c[m], `${what} ${key} ${m}`).toBeLessThanOrEqual(e[m])
          // day by day, where the days' reads count the visitors the range's does (a lean read
          // leaves out the sums it was not asked, and a day read alone may not)
          if (each.reduce((n, d) => n + d[visitors], 0) !== e[visitors]) continue
          expect(c[m], `${what} ${key} ${m}`).toBe(each.reduce((n, d) => n + Math.min(d[m], KN + 1), 0))
          checked++
          if (each.some((d) => d[m] > KN + 1)) above++
        }
      }
    })
    // the data has counts the cap cuts, and most counts were checked day by day
    expect(above).toBeGreaterThan(0)
    expect(checked).toBeGreaterThan(SHAPES.length * 2)
  })
})
