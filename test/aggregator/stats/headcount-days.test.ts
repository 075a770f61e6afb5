import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { PROPERTIES } from '../../../aggregator/stats/properties.ts'
import { headcountDaysAnswer, querySums, sumsSql, type StatsQuestion, type SumsRow } from '../../../aggregator/stats/query.ts'
import { headcount } from '../../../aggregator/stats/service.ts'
import { listMigrations, runStatements } from '../../../store/migrate.ts'
import { rng } from '../../helpers/identifier-corpus.ts'
import { DAY, MINUTE, openFixture, rows, todayByTheClock, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * Today's headcount kept as visits open (`headcount_days`, migration 035) answers today's
 * unfiltered headcount (query.ts, HEADCOUNT_DAY_SUMS), which the k rules ask beside nearly every
 * question. Its visitors and networks must be those the rows holding each visit's first event
 * give (the lean read it replaces), those of the full read, and those worked out here from what
 * was sent. Events of today by the clock (only today is read from it), inserted in several parts
 * (a visit's events across two of them), one part twice, with visits
 * of one visitor, visitors sharing networks and events without a visitor hash.
 */

const SITE = 'example.com'
const PAGES = ['/', '/pricing', '/docs']
const r = rng(20301206)

let fx: StoreFixture
let today: string
const sent: EventSpec[] = []

beforeAll(async () => {
  const clock = await todayByTheClock()
  const { start, span } = clock
  today = clock.today
  for (let v = 1; v <= 40; v++) {
    // network numbers apart from the visitor numbers (a visit without a network counts its visitor as one)
    const networkId = r.next() < 0.25 ? 0 : 1000 + r.int(0, 8)
    const dims = { country: r.pick(['DE', 'US']), browser: r.pick(['Firefox', 'Chrome']) }
    let ts = start + Math.floor(r.next() * span * 0.4)
    // one visit or two (the second after the policy's timeout), of one to four events each
    for (let visit = 0; visit < r.int(1, 2); visit++) {
      for (let e = 0; e < r.int(1, 4); e++) {
        sent.push({ ts, visitor: v, path: r.pick(PAGES), dims, networkId })
        ts += r.int(1, 5) * MINUTE
      }
      ts += 45 * MINUTE
    }
    if (r.next() < 0.3) sent.push({ ts, visitor: v, path: '/', name: 'Signup', dims, networkId })
  }
  // without a visitor hash: no visitor counted
  for (let i = 0; i < 4; i++) sent.push({ ts: start + Math.floor(r.next() * span), visitor: 0, path: r.pick(PAGES) })
  sent.sort((a, b) => a.ts - b.ts)
  fx = await openFixture({ [SITE]: 'UTC' }, start + DAY)
  // in time order, in four parts, the second one twice (a block the store took twice: a state is a set, it adds no one)
  const quarter = Math.ceil(sent.length / 4)
  for (let i = 0; i < sent.length; i += quarter) {
    await fx.insertBlock(sent.slice(i, i + quarter))
    if (i === quarter) await fx.insertBlock(sent.slice(i, i + quarter))
  }
})
afterAll(async () => {
  await fx?.close()
})

const question = (filters = '', lean: true | false = true): StatsQuestion => ({
  site: SITE,
  timezone: 'UTC',
  range: { from: Date.parse(`${today}T00:00:00Z`), to: Date.parse(`${today}T00:00:00Z`) + DAY },
  filters: parseFilters(filters),
  ...(lean ? { lean } : {}),
  // as the stats API asks: networks counted up to the policy's minimum (the most the kept states answer: 100)
  networksUpTo: 100,
})

/** The visitors and networks of what was sent with a visitor hash. */
function model(): { visitors: number; networks: number } {
  const visitors = new Set<number>()
  const networks = new Set<string>()
  for (const e of sent) {
    if (e.visitor === 0) continue
    visitors.add(e.visitor)
    networks.add(e.networkId ? `n${e.networkId}` : `v${e.visitor}`)
  }
  return { visitors: visitors.size, networks: networks.size }
}

const heads = (rs: SumsRow[]) => rs.reduce((a, x) => ({ visitors: a.visitors + Number(x.visitors), networks: a.networks + Number(x.networks) }), { visitors: 0, networks: 0 })
/** The SQL's rows as they are now (querySums keeps a live day's rows while its events are unchanged). */
const readNow = async (q: StatsQuestion) => {
  const { sql, params } = sumsSql(q, [today])
  return heads(await rows<SumsRow>(fx.client, sql, params))
}

describe("today's headcount kept as visits open", () => {
  it('is in several parts, as a live day is, and the visits of the day too', async () => {
    const [{ n }] = await rows<{ n: number }>(fx.client, "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'headcount_days' AND active")
    expect(Number(n)).toBeGreaterThan(1)
    // some visit has rows in two parts, so the read it replaces counts marked rows, not rows
    const [{ split }] = await rows<{ split: number }>(fx.client, 'SELECT count() AS split FROM (SELECT visit_id FROM visits GROUP BY visit_id HAVING count() > 1)')
    expect(Number(split)).toBeGreaterThan(0)
  })

  it('answers what the marked visit rows, the full read and what was sent give', async () => {
    const q = question()
    expect(headcountDaysAnswer(q, [today])).toBe(true)
    expect(sumsSql(q, [today]).sql).toContain('FROM headcount_days')
    // a filter on what a visit's first event gives that keeps every visit: the marked rows of visits
    const marked = question('browser!=NoSuchBrowser')
    expect(sumsSql(marked, [today]).sql).not.toContain('headcount_days')
    expect(sumsSql(marked, [today]).sql).toContain('opens = 1')
    const truth = model()
    expect(truth.visitors).toBeGreaterThan(30)
    expect(truth.networks).toBeLessThan(truth.visitors)
    const [kept, read, full] = await Promise.all([querySums(fx.client, q), querySums(fx.client, marked), querySums(fx.client, question('', false))])
    expect(heads(kept)).toEqual(truth)
    expect(heads(read)).toEqual(truth)
    expect(heads(full)).toEqual(truth)
    // by day, week and month: one bucket, today's (a series' neighbours and parents)
    for (const interval of ['day', 'week', 'month'] as const) {
      const byBucket = { ...q, interval }
      expect(sumsSql(byBucket, [today]).sql).toContain('FROM headcount_days')
      const [b, raw] = await Promise.all([querySums(fx.client, byBucket), querySums(fx.client, { ...marked, interval })])
      expect(b.map((x) => [x.bucket, x.visitors, x.networks])).toEqual(raw.map((x) => [x.bucket, x.visitors, x.networks]))
      expect(b).toHaveLength(1)
    }
    // and through the k rules' own call, asked beside a filtered headcount as the neighbours are
    const scope = { site: SITE, timezone: 'UTC', now: Date.now(), filters: [], limits: { k: 5, kn: 2 } }
    const [h, us] = await Promise.all([headcount(fx.client, scope, q.range), headcount(fx.client, { ...scope, filters: parseFilters('country==US') }, q.range)])
    expect({ visitors: h.visitors, networks: h.networks }).toEqual(truth)
    const usVisitors = new Set(sent.filter((e) => e.visitor !== 0 && e.dims?.country === 'US').map((e) => e.visitor))
    expect(us.visitors).toBe(usVisitors.size)
  })

  it('is made from the events by the migration on a store made before it, and run again gives the same', async () => {
    const q = question()
    const before = await readNow(q)
    expect(before).toEqual(model())
    // a store before 035: no view, no rows (037 makes the table again, as it is now)
    await fx.client.command({ query: 'DROP VIEW IF EXISTS headcount_days_mv' })
    await fx.client.command({ query: 'TRUNCATE TABLE headcount_days' })
    expect(await readNow(q)).toEqual({ visitors: 0, networks: 0 })
    const [migration] = listMigrations().filter((m) => m.version === 37)
    await runStatements(fx.client, migration.statements)
    expect(await readNow(q)).toEqual(before)
    await runStatements(fx.client, migration.statements)
    expect(await readNow(q)).toEqual(before)
    // and the view keeps it again: a new visitor, and a new visit of a visitor counted already
    const later = Date.now() - 1000
    const more: EventSpec[] = [{ ts: later, visitor: 999, path: '/', networkId: 1099 }, { ts: later, visitor: 1, path: '/', networkId: sent.find((e) => e.visitor === 1)!.networkId }]
    sent.push(...more)
    await fx.insert(more)
    expect(await readNow(q)).toEqual(model())
    expect((await readNow(q)).visitors).toBe(before.visitors + 1)
  })

  it('is not read for another day, part of a day, by hour or minute, a filter, a property, the full sums, networks counted past 100 or with other asks', () => {
    const q = question()
    expect(headcountDaysAnswer(q, ['2030-01-01'])).toBe(false)
    expect(headcountDaysAnswer(q, [today])).toBe(true)
    const from = Date.parse(`${today}T00:00:00Z`)
    for (const other of [
      { ...q, range: { from: from + 60_000, to: from + DAY } },
      { ...q, interval: 'hour' as const },
      { ...q, interval: 'minute' as const },
      question('country==US'),
      { ...q, property: PROPERTIES.country },
      question('', false),
      { ...q, timezone: 'Europe/Berlin' },
      // networks counted further than the states keep them (100), or exactly
      { ...q, networksUpTo: 101 },
      { ...q, networksUpTo: undefined },
    ]) {
      expect(headcountDaysAnswer(other, [today]), JSON.stringify(other)).toBe(false)
      expect(sumsSql(other, [today]).sql).not.toContain('headcount_days')
    }
    expect(headcountDaysAnswer(q, [today], [{ prop: null }, { prop: null, conds: parseFilters('country==US') }])).toBe(false)
  })
})
