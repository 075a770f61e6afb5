import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { PROPERTIES } from '../../../aggregator/stats/properties.ts'
import { firstEventOnly, querySums, sumsSql, type StatsQuestion } from '../../../aggregator/stats/query.ts'
import { listMigrations, runStatements } from '../../../store/migrate.ts'
import { rng } from '../../helpers/identifier-corpus.ts'
import { DAY, HOUR, MINUTE, openFixture, rows, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * A lean read (visitors and networks alone: service.ts `headcount`, what the k rules compare, and
 * a breakdown of a visit property asking visitors only) by and under what a visit's first event
 * gives is counted from the rows holding each visit's first event as inserted, without FINAL
 * (query.ts `firstEventOnly`, migration 034's `opens`). Its visitors and networks must be those
 * of the full read and those worked out here from what was sent, with each visit's events
 * inserted in several parts (so several rows of a visit are not merged yet: the later ones hold
 * none of the first event's values) and visitors sharing networks. Nothing is built: every day
 * is read live.
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

/** Per country, the visitors of the visits the filters keep (by their first event's country). */
function modelByCountry(filters: string, range: { from: number; to: number }) {
  const out: Record<string, number> = {}
  for (const c of COUNTRIES) {
    const n = model(filters ? `${filters};country==${c}` : `country==${c}`, range).visitors
    if (n > 0) out[c] = n
  }
  return out
}

describe('a lean read', () => {
  it('is read from visit rows not merged yet: the data has visits in several rows, one of each holding its first event', async () => {
    const [{ n }] = await rows<{ n: number }>(fx.client, 'SELECT count() AS n FROM visits')
    const [{ m }] = await rows<{ m: number }>(fx.client, 'SELECT count() AS m FROM visits FINAL')
    expect(Number(n)).toBeGreaterThan(Number(m))
    const opening = await rows<{ visit_id: string; n: number }>(fx.client, 'SELECT toString(visit_id) AS visit_id, count() AS n FROM visits WHERE opens = 1 GROUP BY visit_id')
    expect(opening.length).toBe(Number(m))
    expect(opening.every((o) => Number(o.n) === 1)).toBe(true)
  })

  it.each([
    ['', WHOLE, true],
    ['country==DE', WHOLE, true],
    ['country!=DE;browser==Firefox', WHOLE, true],
    // a visit's rows without its first event hold no country: only the row with it is read
    ['country!=DE', WHOLE, true],
    ['country==(none)|DE', WHOLE, true],
    ['country!=(none)|DE', WHOLE, true],
    ['browser~fire', WHOLE, true],
    ['country!=DE;browser!=Chrome', WHOLE, true],
    ['country==US|FR', WHOLE, true],
    // part of a day: the row holding the first event has the visit's start
    ['country==DE', PART, true],
    ['country!=DE', PART, true],
    ['', PART, true],
    // a page: what a visit's other rows hold too: over whole days, the pageviews of the page
    // (with a filter every event carries: pageviewHeadcount in query.ts); over part of a day, the
    // rows opening the visits found among those holding the page (heldCondition)
    ['page==/pricing', WHOLE, true],
    ['page==/pricing;country==DE', WHOLE, true],
    ['page==/pricing;country!=DE', PART, true],
  ] as const)('under "%s" equals the totals and what was sent', async (filters, range, fast, final: boolean = !fast) => {
    const lean = question(filters, range, true)
    const days = DAYS
    expect(firstEventOnly(lean)).toBe(fast)
    // the fast reads have no FINAL; the others read as the totals do
    expect(sumsSql(lean, days).sql.includes('FINAL')).toBe(final)
    const [head, whole] = await Promise.all([counted(lean), counted(question(filters, range, false))])
    const truth = model(filters, range)
    expect(truth.visitors).toBeGreaterThan(0)
    expect(head).toEqual(truth)
    expect(whole).toEqual(truth)
  })

  it.each([
    ['', WHOLE],
    ['browser==Firefox', WHOLE],
    ['country!=DE', PART],
    ['browser!=Chrome', PART],
  ] as const)('by country under "%s": the rows of the full read and of what was sent', async (filters, range) => {
    const by = (lean: boolean) => ({ ...question(filters, range, lean), property: PROPERTIES.country })
    expect(firstEventOnly(by(true))).toBe(true)
    expect(sumsSql(by(true), DAYS).sql.includes('FINAL')).toBe(false)
    const visitorsOf = async (q: StatsQuestion) => Object.fromEntries((await querySums(fx.client, q)).filter((r) => r.visitors > 0).map((r) => [r.key, r.visitors]))
    const [lean, full] = await Promise.all([visitorsOf(by(true)), visitorsOf(by(false))])
    const truth = modelByCountry(filters, range)
    expect(Object.keys(truth).length).toBeGreaterThan(1)
    expect(lean).toEqual(truth)
    expect(full).toEqual(truth)
  })

  it('by hour: the buckets of the full read', async () => {
    const hourly = (lean: boolean) => ({ ...question('country!=FR', PART, lean), interval: 'hour' as const })
    expect(firstEventOnly(hourly(true))).toBe(true)
    const visitorsOf = async (q: StatsQuestion) => Object.fromEntries((await querySums(fx.client, q)).filter((r) => r.visitors > 0).map((r) => [r.bucket, [r.visitors, r.networks]]))
    const [lean, full] = await Promise.all([visitorsOf(hourly(true)), visitorsOf(hourly(false))])
    expect(Object.keys(full).length).toBeGreaterThan(10)
    expect(lean).toEqual(full)
  })

  it('is not made of the first event rows alone for the entry or exit page, a page filter, or more than visitors', () => {
    const q = question('', WHOLE, true)
    expect(firstEventOnly({ ...q, property: PROPERTIES.entry_page })).toBe(false)
    expect(firstEventOnly({ ...q, property: PROPERTIES.exit_page })).toBe(false)
    expect(firstEventOnly({ ...q, property: PROPERTIES.page })).toBe(false)
    expect(firstEventOnly({ ...q, filters: parseFilters('entry_page==/') })).toBe(false)
    expect(firstEventOnly({ ...q, lean: undefined })).toBe(false)
    expect(firstEventOnly({ ...q, property: PROPERTIES.source })).toBe(true)
  })
})

describe('migration 034 on a store from before it', () => {
  it('marks the rows so that the lean reads still equal the full ones, the rows of a visit in several parts merged first', async () => {
    // a store from before: the visits' rows as the view made them without a mark (so each reads
    // the column's default, 1), in the parts cut every three hours, merges still stopped
    const [migration] = listMigrations().filter((x) => x.version === 34)
    const view = migration.statements.find((st) => st.startsWith('CREATE MATERIALIZED VIEW'))!
    const before = view
      .slice(view.indexOf('SELECT'))
      .replace(/,\s*max\(toUInt8\(bitAnd\(visit_flags, 1\) != 0\)\) AS opens/, '')
      .replace('WHERE visit_id != 0', 'WHERE visit_id != 0 AND intDiv(toUnixTimestamp64Milli(ts), {cut:Int64}) = {part:Int64}')
    expect(before).not.toContain('opens')
    const columns = (await rows<{ name: string }>(fx.client, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'visits' AND name != 'opens' ORDER BY position")).map((c) => c.name)
    await fx.client.command({ query: 'DROP VIEW visits_mv' })
    await fx.client.command({ query: 'TRUNCATE TABLE visits' })
    for (const part of new Set(sent.map((e) => Math.floor(e.ts / (3 * HOUR))))) {
      await fx.client.command({ query: `INSERT INTO visits (${columns.join(', ')}) ${before}`, query_params: { cut: 3 * HOUR, part } })
    }
    const [{ n }] = await rows<{ n: number }>(fx.client, 'SELECT count() AS n FROM visits')
    const [{ m }] = await rows<{ m: number }>(fx.client, 'SELECT count() AS m FROM visits FINAL')
    expect(Number(n)).toBeGreaterThan(Number(m))
    // every row reads as holding its visit's first event: the lean read would count the later rows too
    expect(await counted(question('country!=DE', WHOLE, true))).not.toEqual(model('country!=DE', WHOLE))
    // merges stay stopped but for the migration's own (a merge the engine made meanwhile would hide a missing one)
    for (const statement of migration.statements) {
      if (/^OPTIMIZE /.test(statement)) await fx.client.command({ query: 'SYSTEM START MERGES visits' })
      await runStatements(fx.client, [statement])
    }
    const opening = await rows<{ n: number }>(fx.client, 'SELECT count() AS n FROM visits WHERE opens = 1 GROUP BY visit_id')
    expect(opening.length).toBe(Number(m))
    expect(opening.every((o) => Number(o.n) === 1)).toBe(true)
    for (const filters of ['', 'country!=DE', 'country==(none)|DE', 'browser~fire']) {
      for (const range of [WHOLE, PART]) {
        const [head, whole] = await Promise.all([counted(question(filters, range, true)), counted(question(filters, range, false))])
        expect(head).toEqual(model(filters, range))
        expect(whole).toEqual(head)
      }
    }
    // and the view made again marks what comes next: a visit of two events in two inserts has one row holding its first
    await fx.client.command({ query: 'SYSTEM STOP MERGES visits' })
    const late = start(DAYS[1]) + 23 * HOUR
    await fx.insert([{ ts: late, visitor: 9001, path: '/', dims: { country: 'DE', browser: 'Firefox' } }])
    await fx.insert([{ ts: late + MINUTE, visitor: 9001, path: '/docs', dims: { country: 'DE', browser: 'Firefox' } }])
    const marks = await rows<{ opens: number }>(fx.client, 'SELECT opens FROM visits WHERE visitor_id = 9001 ORDER BY start')
    expect(marks.map((x) => Number(x.opens))).toEqual([1, 0])
  })
})
