import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters, type Filter } from '../../../aggregator/stats/filters.ts'
import { funnel } from '../../../aggregator/stats/funnel.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import type { Range } from '../../../aggregator/stats/period.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { querySums, type StatsQuestion, type SumsRow } from '../../../aggregator/stats/query.ts'
import { breakdown, headcount, type Scope } from '../../../aggregator/stats/service.ts'
import { rng } from '../../helpers/identifier-corpus.ts'
import { countingClient, DAY, HOUR, MINUTE, openFixture, PICKS_BY_NAME, PICKS_BY_PAGE, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * Filters on what a visit holds (a page viewed, an event sent, a goal completed) or on what its
 * first event gives (the source) over whole UTC days: the visits they keep are found among the
 * days' events (query.ts, heldCondition, openerCondition), not read from `visits`. Funnels and goals then read the events alone (eventsTellVisits), and an
 * event property's rows are read with their neighbour without the filter in one read, the
 * filter a condition on each events row (SumsQuery.eventCondition). Each answer is checked
 * against what the test sent, visit by visit, and against the same question asked over a
 * range that starts a millisecond after midnight, which joins the visits as before.
 *
 * Visitors here have up to three visits, hours apart: a filter keeps a visit, not a visitor, so
 * a link clicked in a visit without the page is not counted under the page filter.
 */

const SITE = 'example.com'
const DAY0 = Date.parse('2026-11-10T00:00:00Z')
const PAGES = ['/', '/pricing', '/docs', '/blog/a']
const LINKS = ['https://a.example.com/x', 'https://b.example.com/y']
const PLANS = ['free', 'pro']
/** Sources of an event's own referrer: a visit's is its first event's, whatever its later events had (another tab, an internal link). */
const SOURCES = ['Google', 'example.net', '']
const COUNTRIES = ['US', 'DE', '']
const r = rng(20261205)

interface SentVisit {
  visitor: number
  network: string
  events: EventSpec[]
}

let fx: StoreFixture
const visits: SentVisit[] = []
/** Events without a visitor hash: each stands as a visit of its own. */
const alone: EventSpec[] = []

beforeAll(async () => {
  const sent: EventSpec[] = []
  for (let v = 1; v <= 40; v++) {
    // (numbered apart from the visitor hashes: a visit without a network counts its visitor as one)
    const networkId = r.next() < 0.3 ? 0 : 1001 + r.int(0, 9)
    const network = networkId ? `n${networkId}` : `v${v}`
    // up to three visits, three hours apart (the policy cuts a visit after 30 minutes)
    let ts = DAY0 + HOUR + r.int(0, 60) * MINUTE
    for (let n = r.int(1, 3); n > 0; n--) {
      const visit: SentVisit = { visitor: v, network, events: [] }
      for (let e = r.int(1, 4); e > 0; e--) {
        visit.events.push({ ts, visitor: v, path: r.pick(PAGES), networkId, dims: { source: r.pick(SOURCES) } })
        ts += r.int(1, 5) * MINUTE
        const extra = r.next()
        if (extra < 0.25) visit.events.push({ ts, visitor: v, path: '/', name: 'Outbound Link: Click', props: { url: r.pick(LINKS) }, networkId })
        else if (extra < 0.45) visit.events.push({ ts, visitor: v, path: '/pricing', name: 'Signup', props: { plan: r.pick(PLANS) }, networkId })
        ts += MINUTE
      }
      // a visitor's country is on every event of their visits (it comes from the address the visitor hash is made of)
      for (const e of visit.events) e.dims = { ...e.dims, country: COUNTRIES[v % COUNTRIES.length] }
      visits.push(visit)
      sent.push(...visit.events)
      ts += 3 * HOUR
    }
  }
  for (let i = 0; i < 5; i++) {
    const ts = DAY0 + 2 * HOUR + i * 7 * MINUTE
    const source = r.pick(SOURCES)
    const dims = { source, country: COUNTRIES[i % COUNTRIES.length] }
    alone.push({ ts, visitor: 0, path: r.pick(PAGES), dims }, { ts: ts + 1000, visitor: 0, path: '/', name: 'Outbound Link: Click', props: { url: r.pick(LINKS) }, dims })
  }
  sent.push(...alone)
  sent.sort((a, b) => a.ts - b.ts)
  fx = await openFixture({ [SITE]: 'UTC' }, DAY0 + 23 * HOUR)
  // in six inserts, kept apart (no merge): many visits have rows in several parts, each with
  // only its own events' pages and names, as today's visits have between merges
  await fx.client.command({ query: 'SYSTEM STOP MERGES visits' })
  const part = Math.ceil(sent.length / 6)
  for (let i = 0; i < sent.length; i += part) await fx.insert(sent.slice(i, i + part))
})
afterAll(async () => {
  await fx?.close()
})

it('has visits with rows in several parts, as between merges', async () => {
  const rs = await fx.client.query({ query: 'SELECT countIf(n > 1) AS split FROM (SELECT visit_id, count() AS n FROM visits GROUP BY visit_id)', format: 'JSONEachRow' })
  const [{ split }] = await rs.json<{ split: string | number }>()
  expect(Number(split)).toBeGreaterThan(5)
})

/** The whole day, which the events alone answer; or from a millisecond after midnight, which joins the visits. */
const dayRange = (joined = false): Range => ({ from: DAY0 + (joined ? 1 : 0), to: DAY0 + DAY, previous: { from: DAY0 - DAY, to: DAY0 }, label: '2026-11-10' })
const SIGNUP = parseGoalMatch({ event: 'Signup' })
const PRICING = parseGoalMatch({ page: '/pricing' })

/** Parsed filters, a goal filter given its goal as the stats API resolves it (goal-filter.ts). */
function filtersOf(raw: string): Filter[] {
  return parseFilters(raw).map((f) => (f.name === 'goal' ? { ...f, goals: [SIGNUP] } : f))
}
const scopeOf = (raw: string): Scope => ({ site: SITE, timezone: 'UTC', filters: filtersOf(raw), limits: { k: 1, kn: 1 }, now: DAY0 + 23 * HOUR })

/** A visit's source: its first event's (a visitless event's, its own). */
const sourceOf = (events: EventSpec[]) => [...events].sort((a, b) => a.ts - b.ts)[0].dims?.source ?? ''
const pagesOf = (events: EventSpec[]) => new Set(events.filter((e) => (e.name ?? 'pageview') === 'pageview').map((e) => e.path ?? '/'))
const namesOf = (events: EventSpec[]) => new Set(events.map((e) => e.name ?? 'pageview').filter((n) => n !== 'pageview' && n !== 'engagement'))

/** What each filter of the families asked together keeps of a visit's events. */
const KEEP: Record<string, (events: EventSpec[]) => boolean> = {
  'page==/pricing': (es) => pagesOf(es).has('/pricing'),
  'page!=/docs': (es) => !pagesOf(es).has('/docs'),
  'event==Signup': (es) => namesOf(es).has('Signup'),
  'event!=Signup': (es) => !namesOf(es).has('Signup'),
  'goal==Signup': (es) => namesOf(es).has('Signup'),
  'source==Google': (es) => sourceOf(es) === 'Google',
  'country==US': (es) => es[0].dims?.country === 'US',
}
/** Each key's visitors, rows without any left out. */
const visitorsByKey = (rs: SumsRow[]) => Object.fromEntries(rs.filter((x) => x.visitors > 0).map((x) => [x.key, x.visitors]))
/** A visit's pageviews in order: its entry page is the first's, its exit page the last's. */
const views = (es: EventSpec[]) => [...es].sort((a, b) => a.ts - b.ts).filter((e) => (e.name ?? 'pageview') === 'pageview')
/** Per key of a visit (`keyOf`), the visitors of the visits `keep` keeps. */
function visitorsPerKey(keep: (events: EventSpec[]) => boolean, keyOf: (events: EventSpec[]) => string): Record<string, number> {
  const rows = new Map<string, Set<number>>()
  for (const v of visits) if (keep(v.events)) rows.set(keyOf(v.events), (rows.get(keyOf(v.events)) ?? new Set<number>()).add(v.visitor))
  return Object.fromEntries([...rows].map(([k, x]) => [k, x.size]))
}
/** A question's filters (`a;b`), and its neighbours' without each of them (R3). */
function familyOf(raw: string): string[] {
  const parts = raw.split(';')
  return [raw, ...parts.map((_, i) => parts.filter((__, j) => j !== i).join(';'))]
}
/** What a question's filters (`a;b`, each one of KEEP) keep of a visit's events. */
const keeps = (raw: string) => (es: EventSpec[]) => raw.split(';').every((x) => KEEP[x](es))

/**
 * Each filter of the test as what it keeps of a visit's events (a visitless event is a visit of
 * its own); and for the event breakdown, which takes a filter on event names as picking its rows
 * (`names`), what the other filters keep (`visits`).
 */
const FILTERS: [string, (events: EventSpec[]) => boolean, { visits: (events: EventSpec[]) => boolean; names: (name: string) => boolean }?][] = [
  ['page==/pricing', (es) => pagesOf(es).has('/pricing')],
  ['page==/pricing|/docs', (es) => pagesOf(es).has('/pricing') || pagesOf(es).has('/docs')],
  ['page!=/docs', (es) => !pagesOf(es).has('/docs')],
  ['event==Signup', (es) => namesOf(es).has('Signup'), { visits: () => true, names: (n) => n === 'Signup' }],
  ['goal==Signup', (es) => namesOf(es).has('Signup')],
  ['page==/pricing;event!=Signup', (es) => pagesOf(es).has('/pricing') && !namesOf(es).has('Signup'), { visits: (es) => pagesOf(es).has('/pricing'), names: (n) => n !== 'Signup' }],
  // on what a visit's first event gives (query.ts `opener`): its later events' sources differ
  ['source==Google', (es) => sourceOf(es) === 'Google'],
  ['source!=Google', (es) => sourceOf(es) !== 'Google'],
  ['source==Google;page==/pricing', (es) => sourceOf(es) === 'Google' && pagesOf(es).has('/pricing')],
]

/** Per value of an event property: the visitors, networks and events of the visits `keep` keeps (visitless events count no visitor). */
function eventPropertyModel(keep: (events: EventSpec[]) => boolean, valueOf: (e: EventSpec) => string | null) {
  const rows = new Map<string, { visitors: Set<number>; networks: Set<string>; events: number }>()
  const count = (e: EventSpec, visitor: number, network: string | null) => {
    const value = valueOf(e)
    if (value === null) return
    const row = rows.get(value) ?? { visitors: new Set<number>(), networks: new Set<string>(), events: 0 }
    rows.set(value, row)
    row.events++
    if (visitor !== 0) row.visitors.add(visitor)
    if (network !== null) row.networks.add(network)
  }
  for (const v of visits) if (keep(v.events)) for (const e of v.events) count(e, v.visitor, v.network)
  for (const e of alone) if (keep([e])) count(e, 0, null)
  return Object.fromEntries([...rows].map(([key, x]) => [key, { visitors: x.visitors.size, networks: x.networks.size, events: x.events }]))
}
const asRows = (rs: SumsRow[]) => Object.fromEntries(rs.map((x) => [x.key, { visitors: x.visitors, networks: x.networks, events: x.events }]))

const PROPERTIES: [string, (e: EventSpec) => string | null][] = [
  ['outbound', (e) => (e.name === 'Outbound Link: Click' ? e.props!.url : null)],
  ['prop:plan', (e) => (e.props?.plan !== undefined && e.name !== 'pageview' ? e.props.plan : null)],
  ['event', (e) => ((e.name ?? 'pageview') !== 'pageview' && e.name !== 'engagement' ? e.name! : null)],
]

describe('an event property under a filter on what a visit holds, asked beside its neighbour without it', () => {
  const question = (name: string, raw: string, lean: boolean): StatsQuestion => ({
    site: SITE,
    timezone: 'UTC',
    range: dayRange(),
    filters: filtersOf(raw),
    property: property(name),
    ...(lean ? { lean: true } : {}),
  })

  for (const [name, valueOf] of PROPERTIES) {
    // the event panel is asked lean by the dashboard (its rows from events); links and custom props are not
    const lean = name === 'event'
    it.each(FILTERS)(`${name} under "%s": one read answers both, each as sent`, async (raw, keep, own) => {
      const asked: string[] = []
      const client = countingClient(fx.client, asked)
      const [filtered, unfiltered] = await Promise.all([querySums(client, question(name, raw, lean)), querySums(client, question(name, '', lean))])
      const truth =
        name === 'event' && own ? eventPropertyModel(own.visits, (e) => (own.names(e.name ?? 'pageview') ? valueOf(e) : null)) : eventPropertyModel(keep, valueOf)
      // (custom props are sent with Signup alone: none under event!=Signup)
      if (!(name === 'prop:plan' && raw.includes('event!=Signup'))) expect(Object.keys(truth).length).toBeGreaterThan(0)
      expect(asRows(filtered)).toEqual(truth)
      expect(asRows(unfiltered)).toEqual(eventPropertyModel(() => true, valueOf))
      // one read of the events, the filter's visits a condition on each row (not a read of the merged
      // `visits`; those a visit's first event answers, found among the rows opening visits); a
      // filter on the property itself picks its rows, no condition: two reads then
      const reads = asked.filter((sql) => /\bFROM events\b/.test(sql) && !/headcount_days|page_days/.test(sql))
      const picksRows = name === 'event' && own !== undefined
      expect(reads).toHaveLength(picksRows ? 2 : 1)
      if (!picksRows) expect(reads[0]).toMatch(/\bAS g\b/)
      for (const sql of reads) expect(sql).not.toMatch(/\bvisits\s+FINAL\b/)
      if (raw.includes('source')) for (const sql of reads) expect(sql).toContain('opens = 1')
      // asked alone, the same rows
      expect(asRows(await querySums(fx.client, question(name, raw, lean)))).toEqual(truth)
    })
  }
})

describe('a visit property read through the merged visits under such a filter, asked beside its neighbour without it', () => {
  const question = (raw: string): StatsQuestion => ({ site: SITE, timezone: 'UTC', range: dayRange(), filters: filtersOf(raw), property: property('entry_page'), lean: true })
  /** Per entry page (a visit's first pageview), the visitors of the visits `keep` keeps. */
  const entryModel = (keep: (events: EventSpec[]) => boolean) => visitorsPerKey(keep, (es) => views(es)[0].path!)

  it.each(FILTERS)('the entry page under "%s": each as sent, read apart from its neighbour without the filter', async (raw, keep) => {
    const asked: string[] = []
    const client = countingClient(fx.client, asked)
    const [filtered, unfiltered] = await Promise.all([querySums(client, question(raw)), querySums(client, question(''))])
    const truth = entryModel(keep)
    expect(Object.keys(truth).length).toBeGreaterThan(0)
    expect(visitorsByKey(filtered)).toEqual(truth)
    expect(visitorsByKey(unfiltered)).toEqual(entryModel(() => true))
    const reads = asked.filter((sql) => /\bFROM visits\b/.test(sql))
    // each reads its own visits: under a filter on what a visit holds (one grouped read with the
    // filter as a condition counted every visit twice: conditionable in query.ts), and under a
    // filter on a visit property beside its neighbour without any (flushLive's `apart`: the
    // filtered visits picked by their ids, where one grouped read merged every visit for both)
    expect(reads).toHaveLength(2)
    for (const sql of reads) expect(sql).not.toMatch(/\bAS g\b/)
    expect(visitorsByKey(await querySums(fx.client, question(raw)))).toEqual(truth)
  })
})

describe('a property of what a visit\'s first event gives under such a filter, visitors alone', () => {
  const question = (raw: string, joined: boolean, lean: boolean): StatsQuestion => ({ site: SITE, timezone: 'UTC', range: dayRange(joined), filters: filtersOf(raw), property: property('source'), ...(lean ? { lean } : {}) })
  it.each(FILTERS.flatMap(([raw, keep]) => [false, true].map((joined) => [raw, joined, keep] as const)))(
    'by source under "%s" (from a millisecond after midnight: %s): the rows opening the visits the filter keeps, as sent',
    async (raw, joined, keep) => {
      const truth = visitorsPerKey(keep, sourceOf)
      expect(Object.keys(truth).length).toBeGreaterThan(0)
      const asked: string[] = []
      const [lean, full] = await Promise.all([querySums(countingClient(fx.client, asked), question(raw, joined, true)), querySums(fx.client, question(raw, joined, false))])
      expect(visitorsByKey(lean)).toEqual(truth)
      expect(visitorsByKey(full)).toEqual(truth)
      // from the rows opening the visits (a visit's rows here are in several parts), but under a
      // filter on event names and none on anything else a visit holds, through FINAL (namesHeld in query.ts)
      const fs = filtersOf(raw)
      const names = fs.some((f) => f.name === 'event') && !fs.some((f) => f.name !== 'event' && (f.name === 'goal' || f.prop.level === 'event'))
      const reads = asked.filter((sql) => /\bFROM visits\b/.test(sql))
      expect(reads.length).toBeGreaterThan(0)
      for (const sql of reads) {
        expect(/\bFINAL\b/.test(sql)).toBe(names)
        expect(sql.includes('opens = 1')).toBe(!names)
      }
    },
  )
})

describe('a question under two filters on what a visit holds and its neighbours, asked together, visitors alone', () => {
  const question = (raw: string, name: string | null, joined: boolean): StatsQuestion => ({
    site: SITE,
    timezone: 'UTC',
    range: dayRange(joined),
    filters: filtersOf(raw),
    ...(name ? { property: property(name) } : {}),
    lean: true,
  })
  it.each([
    ['page==/pricing;event!=Signup', false],
    ['page!=/docs;event==Signup', true],
    ['page==/pricing;goal==Signup', false],
    ['source==Google;page==/pricing;event==Signup', false],
  ] as const)('under "%s" (from a millisecond after midnight: %s): one read of the rows opening the visits, each as sent', async (raw, joined) => {
    // the question and its neighbours without each filter (R3), by source and in all
    const asks = familyOf(raw).flatMap((f) => [null, 'source'].map((name) => ({ f, name })))
    const asked: string[] = []
    const client = countingClient(fx.client, asked)
    const answers = await Promise.all(asks.map(({ f, name }) => querySums(client, question(f, name, joined))))
    asks.forEach(({ f, name }, i) => {
      const rows = visitorsPerKey(keeps(f), (es) => (name ? sourceOf(es) : ''))
      expect(Object.keys(rows).length).toBeGreaterThan(0)
      expect({ f, name, rows: visitorsByKey(answers[i]) }).toEqual({ f, name, rows })
    })
    // each set of visits found once: one read of the rows opening the visits, none through FINAL
    const reads = asked.filter((sql) => /\bFROM visits\b/.test(sql) && /opens = 1/.test(sql))
    expect(reads).toHaveLength(1)
    expect(asked.filter((sql) => /\bvisits\s+FINAL\b/.test(sql))).toEqual([])
  })
})

describe('a visit property read through the merged visits under two filters on what a visit holds and its neighbours, asked together', () => {
  const question = (raw: string, name: string | null, lean: boolean): StatsQuestion => ({
    site: SITE,
    timezone: 'UTC',
    range: dayRange(),
    filters: filtersOf(raw),
    ...(name ? { property: property(name) } : {}),
    ...(lean ? { lean } : {}),
  })
  const KEYS: Record<string, (es: EventSpec[]) => string> = {
    entry_page: (es) => views(es)[0].path!,
    exit_page: (es) => views(es).at(-1)!.path!,
    '': () => '',
  }
  it.each([
    'page==/pricing;event==Signup',
    'page==/pricing;event!=Signup',
    'page!=/docs;event!=Signup',
    'page==/pricing;goal==Signup',
    'country==US;page==/pricing;event==Signup',
    'source==Google;page!=/docs;event==Signup',
  ])('under "%s": one read through FINAL of the visits some ask keeps, picked by their ids, each as sent', async (raw) => {
    // the question and its neighbours without each filter (R3): by entry or exit page (visitors alone), and in all
    // (the two pages' rows from events share an expression: in one read they would be one grouping set)
    const page = raw.length % 2 ? 'entry_page' : 'exit_page'
    const asks = familyOf(raw).flatMap((f) => [page, ''].map((name) => ({ f, name })))
    const asked: string[] = []
    const client = countingClient(fx.client, asked)
    const answers = await Promise.all(asks.map(({ f, name }) => querySums(client, question(f, name || null, name !== ''))))
    asks.forEach(({ f, name }, i) => {
      const rows = visitorsPerKey(keeps(f), KEYS[name])
      expect(Object.keys(rows).length).toBeGreaterThan(0)
      expect({ f, name, rows: visitorsByKey(answers[i]) }).toEqual({ f, name, rows })
    })
    // the page panels' asks (lean) and the totals' (in full) in one read, each filtered one joining the
    // totals of its filters (flushLive): of the visits some ask keeps, by their ids before the merge,
    // each ask's conditions on the merged rows
    const merged = asked.filter((sql) => /\bvisits\s+FINAL\b/.test(sql))
    expect(merged).toHaveLength(1)
    for (const sql of merged) {
      expect(sql).toMatch(/\bAS g\b/)
      expect(sql).toMatch(/PREWHERE[^]*visit_id (NOT )?IN \(SELECT visit_id FROM (visits|events)\b/)
    }
    // asked alone, the same answers
    for (const [i, { f, name }] of asks.entries()) expect(visitorsByKey(await querySums(fx.client, question(f, name || null, name !== '')))).toEqual(visitorsByKey(answers[i]))
  })
})

describe('the headcount under a page filter and a filter every event carries', () => {
  const countryOf = (events: EventSpec[]) => events[0].dims?.country ?? ''
  const question = (raw: string, joined = false): StatsQuestion => ({ site: SITE, timezone: 'UTC', range: dayRange(joined), filters: filtersOf(raw), lean: true })
  it.each([
    ['page==/pricing;country==US', (es: EventSpec[]) => pagesOf(es).has('/pricing') && countryOf(es) === 'US'],
    ['country!=DE;page==/docs|/blog/a', (es: EventSpec[]) => (pagesOf(es).has('/docs') || pagesOf(es).has('/blog/a')) && countryOf(es) !== 'DE'],
    ['page~blog;country==US', (es: EventSpec[]) => [...pagesOf(es)].some((p) => p.includes('blog')) && countryOf(es) === 'US'],
  ])('under "%s" is counted from the pageviews, as sent and as the visits give it', async (raw, keep) => {
    const asked: string[] = []
    const [fast] = await querySums(countingClient(fx.client, asked), question(raw))
    const [joined] = await querySums(fx.client, question(raw, true))
    const kept = visits.filter((v) => keep(v.events))
    // the visitless events meeting the filters stand as visits of their own, without a visitor (eventSums)
    expect(kept.length).toBeGreaterThan(0)
    expect({ visitors: fast.visitors, networks: fast.networks }).toEqual({ visitors: new Set(kept.map((v) => v.visitor)).size, networks: new Set(kept.map((v) => v.network)).size })
    expect({ visitors: fast.visitors, networks: fast.networks }).toEqual({ visitors: joined.visitors, networks: joined.networks })
    const read = asked.filter((sql) => !/headcount_days|page_days/.test(sql))
    expect(read.join('\n')).not.toMatch(/\bvisits\b/)
    expect(read[0]).toContain('PREWHERE')
  })
  it('under a negated page filter is what was sent (the visits holding none of the page, read as before)', async () => {
    const [fast] = await querySums(fx.client, question('page!=/docs;country==US'))
    const kept = visits.filter((v) => !pagesOf(v.events).has('/docs') && countryOf(v.events) === 'US')
    expect(kept.length).toBeGreaterThan(0)
    expect({ visitors: fast.visitors, networks: fast.networks }).toEqual({ visitors: new Set(kept.map((v) => v.visitor)).size, networks: new Set(kept.map((v) => v.network)).size })
  })
})

describe('a funnel under a filter on what a visit holds', () => {
  const steps = [parseGoalMatch({ page: '/' }), PRICING, SIGNUP]
  /** Per step, the visitors with a kept visit that completed steps 1..i in order (one event completes one step at most). */
  function funnelModel(keep: (events: EventSpec[]) => boolean): number[] {
    const reached = steps.map(() => new Set<number>())
    for (const v of visits) {
      if (!keep(v.events)) continue
      let level = 0
      for (const e of [...v.events].sort((a, b) => a.ts - b.ts)) {
        const step = steps[level]
        if (!step) break
        const name = e.name ?? 'pageview'
        const hit = step.kind === 'page' ? name === 'pageview' && e.path === step.pattern : name === step.name
        if (hit) reached[level++].add(v.visitor)
      }
    }
    return reached.map((s) => s.size)
  }

  it.each(FILTERS)('under "%s" is what was sent, read from the events alone, and what the visits joined give', async (raw, keep) => {
    const asked: string[] = []
    const [fast, joined] = await Promise.all([funnel(countingClient(fx.client, asked), scopeOf(raw), dayRange(), steps), funnel(fx.client, scopeOf(raw), dayRange(true), steps)])
    expect(fast).toEqual(joined)
    const truth = funnelModel(keep)
    const shown = fast.steps.filter((s) => s.visitors !== null)
    expect(shown.length).toBeGreaterThan(0)
    for (const [i, s] of shown.entries()) expect(s.visitors).toBe(truth[i])
    // from the events alone: under one filter, the question's read (its filter checked before the other columns are read) and its
    // neighbour's without it (R3); under two, the question and its neighbours in one read, the filters flags on each visit (together.ts)
    const reads = asked.filter((sql) => sql.includes('uniqExactIf(visitor_id, level >= 1 AND'))
    for (const read of reads) expect(read).not.toMatch(/\bvisits\s+FINAL\b/)
    if (raw.includes(';')) {
      expect(reads).toHaveLength(1)
      expect(reads[0]).toContain(' AS x1)')
    } else {
      expect(reads).toHaveLength(2)
      expect(reads.some((read) => read.includes('PREWHERE'))).toBe(true)
    }
  })
})

describe('goal conversions under a filter on what a visit holds', () => {
  const goals = [
    { id: 'g1', ...PRICING },
    { id: 'g2', ...SIGNUP },
  ]
  it.each(FILTERS)('under "%s" give what the visits joined give, their converting visitors as sent', async (raw, keep) => {
    const [fast, joined] = await Promise.all([goalConversions(fx.client, scopeOf(raw), dayRange(), goals), goalConversions(fx.client, scopeOf(raw), dayRange(true), goals)])
    expect(fast).toEqual(joined)
    const converted = (hit: (e: EventSpec) => boolean) => new Set(visits.filter((v) => keep(v.events) && v.events.some(hit)).map((v) => v.visitor)).size
    const truth = [converted((e) => (e.name ?? 'pageview') === 'pageview' && e.path === '/pricing'), converted((e) => e.name === 'Signup')]
    const shown = fast.results.filter((g) => g.visitors !== null)
    expect(shown.length).toBeGreaterThan(0)
    for (const g of shown) expect(g.visitors).toBe(truth[g.id === 'g1' ? 0 : 1])
  })
})

describe('a breakdown of pages or event names picking one value', () => {
  /** Other filters beside the page picked: on visit properties, on what a visit holds, on what its first event gives. */
  const BESIDE: [string, (events: EventSpec[]) => boolean][] = [
    ['', () => true],
    ['event==Signup', (es) => namesOf(es).has('Signup')],
    ['goal==Signup', (es) => namesOf(es).has('Signup')],
    ['event!=Signup', (es) => !namesOf(es).has('Signup')],
    ['source==Google', (es) => sourceOf(es) === 'Google'],
    ['country==US', (es) => es[0].dims?.country === 'US'],
    ['country==US;event==Signup', (es) => es[0].dims?.country === 'US' && namesOf(es).has('Signup')],
  ]
  const CASES = [
    ...PAGES.map((page) => ['page', page, (es: EventSpec[]) => pagesOf(es).has(page)] as const),
    ...['Signup', 'Outbound Link: Click'].map((name) => ['event', name, (es: EventSpec[]) => namesOf(es).has(name)] as const),
  ].flatMap(([prop, value, holds]) => BESIDE.filter(([raw]) => prop === 'page' || !raw.includes('event')).map(([raw, keep]) => [prop, value, raw, holds, keep] as const))

  it.each(CASES)('%s "%s" under "%s": its row counts the question\'s visitors and networks, as sent (its total, read with it)', async (prop, value, raw, holds, keep) => {
    const filters = [...filtersOf(`${prop}==${value}`), ...filtersOf(raw)]
    const kept = visits.filter((v) => holds(v.events) && keep(v.events))
    const truth = { visitors: new Set(kept.map((v) => v.visitor)).size, networks: new Set(kept.map((v) => v.network)).size }
    expect(truth.visitors).toBeGreaterThan(0)
    for (const joined of [false, true]) {
      // networks are counted up to the scope's minimum (query.ts networkCount): at 100, every count here is under it, so as sent
      const head = await headcount(fx.client, { ...scopeOf(''), filters, limits: { k: 1, kn: 100 } }, dayRange(joined))
      expect({ visitors: head.visitors, networks: head.networks }).toEqual(truth)
      for (const lean of [true, undefined]) {
        const rows = await querySums(fx.client, { site: SITE, timezone: 'UTC', range: dayRange(joined), filters, property: property(prop), lean })
        const row = rows.find((r) => r.key === value)
        expect({ visitors: row?.visitors ?? 0, networks: row?.networks ?? 0 }, `${joined} ${lean}`).toEqual(truth)
        expect(rows.filter((r) => r.key !== value && r.visitors > 0)).toEqual([])
      }
    }
  })

  it('asks no headcount of the question beside its rows: the neighbours\' alone', async () => {
    const asked: string[] = []
    const s = scopeOf('page==/pricing;event==Signup')
    const shown = await breakdown(countingClient(fx.client, asked), s, dayRange(), 'page', property('page')!, ['visitors'], 10)
    const kept = visits.filter((v) => pagesOf(v.events).has('/pricing') && namesOf(v.events).has('Signup'))
    expect(shown.results).toEqual([{ page: '/pricing', visitors: new Set(kept.map((v) => v.visitor)).size }])
    // a headcount under both filters would read the visits holding the page and the event name
    const both = asked.filter((sql) => /'' AS key/.test(sql) && PICKS_BY_PAGE.test(sql) && PICKS_BY_NAME.test(sql))
    expect(both).toEqual([])
    expect(asked.some((sql) => /'' AS key/.test(sql) && PICKS_BY_NAME.test(sql))).toBe(true)
  })
})
