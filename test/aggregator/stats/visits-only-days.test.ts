import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import type { Range } from '../../../aggregator/stats/period.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { querySums, type StatsQuestion, type SumsRow } from '../../../aggregator/stats/query.ts'
import { rng } from '../../helpers/identifier-corpus.ts'
import { countingClient, DAY, HOUR, MINUTE, openFixture, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * A day whose every event belongs to a visit (every event the collector stores now does; events
 * without one are those stored before visits were cut). The stores says so (visitless_counts,
 * kept at insert: KnownDay.visitless), and an events row's condition under a filter found among
 * the visits (a page viewed, an event sent, the source of a visit's first event) is then its
 * visit's alone: no `if(visit_id != 0, …, <the event's own source>)`, no `OR (visit_id = 0 AND
 * …)`, which read the events' own columns (their source, their properties) for every row
 * (SumsQuery.eventCondition, eventsInScope). Each answer is checked against what was sent; and
 * once an event without a visit is stored that day, it is asked about again and counted.
 */

const SITE = 'example.com'
const DAY0 = Date.parse('2026-11-10T00:00:00Z')
const PAGES = ['/', '/pricing', '/docs']
const LINKS = ['https://docs.example.org/start', 'https://example.net/']
const SOURCES = ['Google', 'example.net', '']
const r = rng(20261206)

interface SentVisit {
  visitor: number
  events: EventSpec[]
}

let fx: StoreFixture
const visits: SentVisit[] = []

beforeAll(async () => {
  for (let v = 1; v <= 30; v++) {
    let ts = DAY0 + HOUR + r.int(0, 120) * MINUTE
    for (let n = r.int(1, 2); n > 0; n--) {
      const visit: SentVisit = { visitor: v, events: [] }
      for (let e = r.int(1, 4); e > 0; e--) {
        // a visit's source is its first event's: its later events' differ
        visit.events.push({ ts, visitor: v, path: r.pick(PAGES), networkId: 1000 + v, dims: { source: r.pick(SOURCES), country: v % 2 ? 'US' : 'DE' } })
        ts += r.int(1, 5) * MINUTE
        const extra = r.next()
        const dims = { source: r.pick(SOURCES), country: v % 2 ? 'US' : 'DE' }
        if (extra < 0.35) visit.events.push({ ts, visitor: v, path: '/', name: 'Outbound Link: Click', props: { url: r.pick(LINKS) }, networkId: 1000 + v, dims })
        else if (extra < 0.6) visit.events.push({ ts, visitor: v, path: '/pricing', name: 'Signup', props: { plan: r.pick(['free', 'pro']) }, networkId: 1000 + v, dims })
        ts += MINUTE
      }
      visits.push(visit)
      ts += 3 * HOUR
    }
  }
  fx = await openFixture({ [SITE]: 'UTC' }, DAY0 + 23 * HOUR)
  await fx.insert(visits.flatMap((v) => v.events).sort((a, b) => a.ts - b.ts))
})
afterAll(async () => {
  await fx?.close()
})

const range: Range = { from: DAY0, to: DAY0 + DAY, previous: { from: DAY0 - DAY, to: DAY0 }, label: '2026-11-10' }
const question = (name: string, raw: string): StatsQuestion => ({ site: SITE, timezone: 'UTC', range, filters: parseFilters(raw), property: property(name) })

const first = (es: EventSpec[]) => [...es].sort((a, b) => a.ts - b.ts)[0]
const nameOf = (e: EventSpec) => e.name ?? 'pageview'
/** What each filter keeps of a visit's events (an event without a visit: of itself). */
const KEEP: Record<string, (es: EventSpec[]) => boolean> = {
  'source==Google': (es) => first(es).dims?.source === 'Google',
  'event==Signup': (es) => es.some((e) => nameOf(e) === 'Signup'),
  'page==/pricing': (es) => es.some((e) => nameOf(e) === 'pageview' && e.path === '/pricing'),
  'outbound~docs': (es) => es.some((e) => nameOf(e) === 'Outbound Link: Click' && e.props!.url.includes('docs')),
  'country==US': (es) => es[0].dims?.country === 'US',
}
const FILTERS = ['source==Google', 'source==Google;event==Signup', 'outbound~docs;source==Google', 'page==/pricing;source==Google', 'country==US;source==Google', 'event==Signup']
const keeps = (raw: string) => (es: EventSpec[]) => raw.split(';').every((f) => f === '' || KEEP[f](es))

/** Each property asked: its value of an event (null: none), and its own filter among FILTERS, which picks its values, not visits. */
const VALUES: [string, (e: EventSpec) => string | null, string?, ((value: string) => boolean)?][] = [
  ['outbound', (e) => (nameOf(e) === 'Outbound Link: Click' ? e.props!.url : null), 'outbound~docs', (url) => url.includes('docs')],
  ['prop:plan', (e) => (nameOf(e) === 'Signup' ? e.props!.plan : null)],
  ['event', (e) => (nameOf(e) !== 'pageview' ? nameOf(e) : null), 'event==Signup', (name) => name === 'Signup'],
]

/**
 * Per value, the visitors and events of the visits the filters keep (a filter on the property
 * itself, `own`, keeps the values it names instead); `alone`: events without a visit (no visitor).
 */
function model(raw: string, [, valueOf, own, picks]: (typeof VALUES)[number], alone: EventSpec[] = []) {
  const others = raw.split(';').filter((f) => f !== own).join(';')
  const rows = new Map<string, { visitors: Set<number>; events: number }>()
  const count = (e: EventSpec) => {
    const value = valueOf(e)
    if (value === null || (own && raw.split(';').includes(own) && !picks!(value))) return
    const row = rows.get(value) ?? { visitors: new Set<number>(), events: 0 }
    rows.set(value, row)
    row.events++
    if (e.visitor !== 0) row.visitors.add(e.visitor)
  }
  for (const v of visits) if (keeps(others)(v.events)) v.events.forEach(count)
  for (const e of alone) if (keeps(others)([e])) count(e)
  return Object.fromEntries([...rows].map(([key, x]) => [key, { visitors: x.visitors.size, events: x.events }]))
}
const asRows = (rs: SumsRow[]) => Object.fromEntries(rs.map((x) => [x.key, { visitors: x.visitors, events: x.events }]))
/** The part of a condition that speaks of an events row without a visit. */
const FOR_VISITLESS = /visit_id = 0\b|if\(visit_id != 0/

describe('a day without an event outside a visit', () => {
  for (const asking of VALUES) {
    const [name] = asking
    it.each(FILTERS)(`${name} under "%s": asked of each row's visit alone, as sent`, async (raw) => {
      const asked: string[] = []
      const truth = model(raw, asking)
      expect(Object.keys(truth).length).toBeGreaterThan(0)
      expect(asRows(await querySums(countingClient(fx.client, asked), question(name, raw)))).toEqual(truth)
      expect(asked.filter((sql) => /\bFROM events\b/.test(sql)).length).toBeGreaterThan(0)
      for (const sql of asked) expect(sql).not.toMatch(FOR_VISITLESS)
    })
  }

  it.each(FILTERS)('goals under "%s", counted from the events: asked of each event\'s visit alone, as sent', async (raw) => {
    const goals = [
      { id: 'g1', site: SITE, label: 'Pricing', created_at: '', ...parseGoalMatch({ page: '/pricing' }) },
      { id: 'g2', site: SITE, label: 'Signup', created_at: '', ...parseGoalMatch({ event: 'Signup' }) },
    ]
    const matches = [(e: EventSpec) => nameOf(e) === 'pageview' && e.path === '/pricing', (e: EventSpec) => nameOf(e) === 'Signup']
    const asked: string[] = []
    const scope = { site: SITE, timezone: 'UTC', filters: parseFilters(raw), limits: { k: 1, kn: 1 }, now: DAY0 + 23 * HOUR }
    // (every goal counted from the events, not from the breakdown rows: eventsInAndOutOfVisits)
    const { results } = await goalConversions(countingClient(fx.client, asked), scope, range, goals, { breakdownRows: false })
    const kept = visits.filter((v) => keeps(raw)(v.events))
    const truth = matches.map((m) => ({ visitors: new Set(kept.filter((v) => v.events.some(m)).map((v) => v.visitor)).size, events: kept.flatMap((v) => v.events).filter(m).length }))
    expect(truth.some((t) => t.events > 0)).toBe(true)
    expect(results.map((r) => ({ visitors: r.visitors, events: r.events }))).toEqual(truth)
    expect(asked.filter((sql) => /\bcounted\b/.test(sql)).length).toBeGreaterThan(0)
    for (const sql of asked) expect(sql).not.toMatch(FOR_VISITLESS)
  })

  // last: it stores an event without a visit
  it('once an event without a visit is stored that day, it is asked about again and counted', async () => {
    const lone: EventSpec = { ts: DAY0 + 20 * HOUR, visitor: 0, path: '/', name: 'Outbound Link: Click', props: { url: LINKS[0] }, dims: { source: 'Google', country: 'US' } }
    await fx.insert([lone])
    for (const raw of ['outbound~docs;source==Google', 'source==Google']) {
      const asked: string[] = []
      const truth = model(raw, VALUES[0], [lone])
      expect(truth[LINKS[0]].events).toBe(model(raw, VALUES[0])[LINKS[0]].events + 1)
      expect(asRows(await querySums(countingClient(fx.client, asked), question('outbound', raw)))).toEqual(truth)
      expect(asked.some((sql) => FOR_VISITLESS.test(sql))).toBe(true)
    }
  })
})
