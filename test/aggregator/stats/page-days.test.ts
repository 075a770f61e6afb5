import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { PROPERTIES } from '../../../aggregator/stats/properties.ts'
import { querySums, sumsSql, type StatsQuestion, type SumsRow } from '../../../aggregator/stats/query.ts'
import { breakdown, totals } from '../../../aggregator/stats/service.ts'
import { listMigrations, runStatements } from '../../../store/migrate.ts'
import { rng } from '../../helpers/identifier-corpus.ts'
import { countingClient, DAY, MINUTE, openFixture, rows, todayByTheClock, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * Today's page rows kept at insert (`page_days`, migration 033) answer the page breakdown's lean
 * read of today (query.ts, PAGE_DAY_SUMS): the view's expressions must give what the read of
 * events gives (one definition, issue 11), and what was sent. Events of today by the clock (only
 * today is read from page_days), inserted in several parts, with pageviews in and out of visits,
 * engagement pings with and without a scroll depth, visitors sharing networks, and a page viewed
 * from more networks than the states keep (migration 037: up to 100).
 */

const SITE = 'example.com'
const PAGES = ['/', '/pricing', '/docs', '/blog/a']
const SOURCES = ['Google', 'Bing', '']
const r = rng(20301204)

let fx: StoreFixture
let today: string
const sent: EventSpec[] = []

beforeAll(async () => {
  const clock = await todayByTheClock()
  const { start, span } = clock
  today = clock.today
  for (let v = 1; v <= 30; v++) {
    const networkId = r.next() < 0.25 ? 0 : 1 + r.int(0, 6)
    let ts = start + Math.floor(r.next() * span * 0.5)
    for (let e = 0; e < r.int(1, 5); e++) {
      const path = r.pick(PAGES)
      // where the visitor came from, on every event of its visit (a visit's first event gives it)
      const dims = { source: SOURCES[v % 3], channel: SOURCES[v % 3] ? 'search' : 'direct' }
      sent.push({ ts, visitor: v, path, networkId, dims })
      if (r.next() < 0.5) sent.push({ ts: ts + 1000, visitor: v, path, name: 'engagement', engagement_ms: r.int(100, 90_000), scrollDepth: r.int(0, 100), networkId, dims })
      ts += r.int(1, 5) * MINUTE
    }
    if (r.next() < 0.3) sent.push({ ts, visitor: v, path: '/', name: 'Signup', networkId })
  }
  // a page viewed from 104 networks, one visitor each
  for (let c = 0; c < 104; c++) sent.push({ ts: start + Math.floor(r.next() * span * 0.5), visitor: 2000 + c, path: '/crowd', networkId: 5000 + c })
  // without a visitor hash: pageviews and pings that count no visitor, some with a scroll depth, one past 100 (not counted)
  for (let i = 0; i < 6; i++) {
    const ts = start + Math.floor(r.next() * span)
    sent.push({ ts, visitor: 0, path: r.pick(PAGES) })
    sent.push({ ts: ts + 500, visitor: 0, path: r.pick(PAGES), name: 'engagement', engagement_ms: 4000, scrollDepth: i === 0 ? 255 : r.int(0, 100) })
  }
  sent.sort((a, b) => a.ts - b.ts)
  fx = await openFixture({ [SITE]: 'UTC' }, start + DAY)
  // in time order, in four parts
  const quarter = Math.ceil(sent.length / 4)
  for (let i = 0; i < sent.length; i += quarter) await fx.insert(sent.slice(i, i + quarter))
})
afterAll(async () => {
  await fx?.close()
})

const question = (filters: string): StatsQuestion => ({
  site: SITE,
  timezone: 'UTC',
  range: { from: Date.parse(`${today}T00:00:00Z`), to: Date.parse(`${today}T00:00:00Z`) + DAY },
  filters: parseFilters(filters),
  property: PROPERTIES.page,
  lean: true,
  // as the stats API asks: networks counted up to the policy's minimum (the most the kept states answer)
  networksUpTo: 100,
})

/** A page breakdown's rows with a visitor or a pageview, by page: its visitors, networks, pageviews and scroll depth (the scroll cases compare two reads by these). */
const scrollRows = (rs: SumsRow[]) =>
  Object.fromEntries(rs.filter((x) => x.visitors > 0 || x.pageviews > 0).map((x) => [x.key, { visitors: x.visitors, networks: x.networks, pageviews: x.pageviews, scroll_sum: x.scroll_sum, scroll_views: x.scroll_views, scroll_visitors: x.scroll_visitors }]))

/** A sent event's network as the store counts it: its network, or its visitor's own without one. */
const networkOf = (e: EventSpec) => (e.networkId ? `n${e.networkId}` : `v${e.visitor}`)

/** What each page's row must say, from what was sent (the page filter's values, if any); networks counted up to 100 (101: more). */
function model(keep: (path: string) => boolean) {
  const out = new Map<string, { visitors: Set<number>; networks: Set<string>; pageviews: number; engagement_ms: number; scroll_sum: number; scroll_views: number }>()
  for (const e of sent) {
    const path = e.path ?? '/'
    const name = e.name ?? 'pageview'
    if (!keep(path) || (name !== 'pageview' && name !== 'engagement')) continue
    const row = out.get(path) ?? { visitors: new Set(), networks: new Set(), pageviews: 0, engagement_ms: 0, scroll_sum: 0, scroll_views: 0 }
    out.set(path, row)
    if (name === 'pageview') {
      row.pageviews++
      if (e.visitor !== 0) {
        row.visitors.add(e.visitor)
        row.networks.add(networkOf(e))
      }
    } else {
      row.engagement_ms += e.engagement_ms ?? 0
      if (e.visitor === 0 && e.scrollDepth !== undefined && e.scrollDepth <= 100) {
        row.scroll_sum += e.scrollDepth
        row.scroll_views++
      }
    }
  }
  return Object.fromEntries([...out].map(([k, v]) => [k, { visitors: v.visitors.size, networks: Math.min(v.networks.size, 101), pageviews: v.pageviews, engagement_ms: v.engagement_ms, scroll_sum: v.scroll_sum, scroll_views: v.scroll_views }]))
}

const asRows = (rs: SumsRow[]) =>
  Object.fromEntries(rs.map((x) => [x.key, { visitors: x.visitors, networks: x.networks, pageviews: x.pageviews, engagement_ms: x.engagement_ms, scroll_sum: x.scroll_sum, scroll_views: x.scroll_views }]))

describe("today's page rows kept at insert", () => {
  it('are in several parts, as a live day is', async () => {
    const [{ n }] = await rows<{ n: number }>(fx.client, "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'page_days' AND active")
    expect(Number(n)).toBeGreaterThan(1)
  })

  it.each([
    ['', () => true],
    ['page==/pricing|/docs', (p: string) => p === '/pricing' || p === '/docs'],
    ['page!=/docs', (p: string) => p !== '/docs'],
  ])('under "%s" answer what the events give, and what was sent', async (filters, keep) => {
    const q = question(filters)
    expect(sumsSql(q, [today]).sql).toContain('FROM page_days')
    // a filter on what every event carries that keeps every event: the same rows, read from events
    const fromEvents: StatsQuestion = { ...q, filters: [...q.filters, ...parseFilters('browser!=NoSuchBrowser')] }
    expect(sumsSql(fromEvents, [today]).sql).not.toContain('page_days')
    const [kept, read] = await Promise.all([querySums(fx.client, q), querySums(fx.client, fromEvents)])
    const truth = model(keep)
    expect(Object.keys(truth).length).toBeGreaterThan(0)
    expect(asRows(kept)).toEqual(truth)
    expect(asRows(read)).toEqual(truth)
  })

  it.each([
    ['page==/pricing', (p: string) => p === '/pricing'],
    ['page==/pricing|/docs', (p: string) => p === '/pricing' || p === '/docs'],
    ['page!=/docs', (p: string) => p !== '/docs'],
  ])('with the scroll depth, under "%s" the pages picked are read from their kept rows and the visits\' scroll reports, as the visits give them', async (filters, keep) => {
    const q: StatsQuestion = { ...question(filters), scroll: true }
    const { sql } = sumsSql(q, [today])
    expect(sql).toContain('FROM page_days')
    expect(sql).toContain('ARRAY JOIN scroll.1')
    expect(sumsSql({ ...question(''), scroll: true }, [today]).sql).toContain('FROM page_days')
    // the full read: every visit holding the page through FINAL, its scroll reports on it
    const full: StatsQuestion = { ...q, lean: undefined }
    expect(sumsSql(full, [today]).sql).toContain('FINAL')
    const [picked, read] = await Promise.all([querySums(fx.client, q), querySums(fx.client, full)])
    expect(Object.keys(scrollRows(picked)).sort()).toEqual(Object.keys(model(keep)).sort())
    expect(scrollRows(picked)).toEqual(scrollRows(read))
    expect(Object.values(scrollRows(picked)).some((r) => r.scroll_views > 0)).toBe(true)
  })

  it.each([
    ['source==Google', 'ARRAY JOIN scroll.1'],
    ['source!=Google', 'ARRAY JOIN scroll.1'],
    ['channel==search', 'ARRAY JOIN scroll.1'],
    ['source==Google;channel==search', 's_pv'],
    ['source==Google;page==/pricing', 's_pv'],
  ])('with the scroll depth, under "%s" (what a visit\'s first event gives) the pages are what the visits give, read as measured fastest', async (filters, read) => {
    const q: StatsQuestion = { ...question(filters), scroll: true }
    const { sql } = sumsSql(q, [today])
    expect(sql).not.toContain('page_days')
    // one such filter alone: the visits' scroll reports beside the pages' events; else their events grouped by visit
    expect(sql).toContain(read)
    const full: StatsQuestion = { ...q, lean: undefined }
    const [lean, whole] = await Promise.all([querySums(fx.client, q), querySums(fx.client, full)])
    expect(Object.keys(scrollRows(lean)).length).toBeGreaterThan(0)
    expect(scrollRows(lean)).toEqual(scrollRows(whole))
    expect(Object.values(scrollRows(lean)).some((r) => r.scroll_views > 0)).toBe(true)
    // and each page's visitors, from what was sent: those whose visit came from the source (a page filter picks the page's own row)
    const [source, op, page] = [filters.match(/source[!=]=(\w+)/)?.[1], filters.match(/source([!=]=)/)?.[1], filters.match(/page==(\S+)/)?.[1]]
    const fromSource = (e: EventSpec) => !source || (op === '==') === (e.dims?.source === source)
    const from = (e: EventSpec) => e.visitor !== 0 && fromSource(e) && (!filters.includes('channel==search') || e.dims?.channel === 'search')
    const truth = new Map<string, Set<number>>()
    for (const e of sent) if (from(e) && (e.name ?? 'pageview') === 'pageview' && (!page || e.path === page)) truth.set(e.path ?? '/', (truth.get(e.path ?? '/') ?? new Set()).add(e.visitor))
    expect(Object.fromEntries(Object.entries(scrollRows(lean)).map(([k, v]) => [k, v.visitors]))).toEqual(Object.fromEntries([...truth].map(([k, v]) => [k, v.size])))
  })

  it('are made from the events by the migration on a store made before it, and run again give the same', async () => {
    // read each time (querySums keeps a live day's rows while its events are unchanged)
    const { sql, params } = sumsSql(question(''), [today])
    expect(sql).toContain('FROM page_days')
    const read = async () => asRows((await rows<SumsRow>(fx.client, sql, params)).map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, k === 'key' ? v : Number(v)])) as unknown as SumsRow))
    const before = await read()
    expect(before).toEqual(model(() => true))
    // a store before 033: no view, no rows (037 makes the table again, as it is now)
    await fx.client.command({ query: 'DROP VIEW IF EXISTS page_days_mv' })
    await fx.client.command({ query: 'TRUNCATE TABLE page_days' })
    expect(await read()).toEqual({})
    const [migration] = listMigrations().filter((m) => m.version === 37)
    await runStatements(fx.client, migration.statements)
    expect(await read()).toEqual(before)
    await runStatements(fx.client, migration.statements)
    expect(await read()).toEqual(before)
    // and the view keeps them again
    const later = Date.now() - 1000
    sent.push({ ts: later, visitor: 999, path: '/later', networkId: 99 })
    await fx.insert([{ ts: later, visitor: 999, path: '/later', networkId: 99 }])
    expect(await read()).toEqual(model(() => true))
    expect((await read())['/later']).toMatchObject({ visitors: 1, pageviews: 1 })
  })

  it('count networks up to 100: a page viewed from more counts 101, and a question counting them further is read from events', async () => {
    const q = question('')
    expect(sumsSql(q, [today]).sql).toContain('FROM page_days')
    const crowd = sent.filter((e) => e.path === '/crowd').length
    expect(crowd).toBeGreaterThan(100)
    const kept = asRows(await querySums(fx.client, q))
    expect(kept['/crowd']).toMatchObject({ visitors: crowd, networks: 101 })
    // a minimum above 100, or none: every network counted, from events
    for (const networksUpTo of [101, undefined]) {
      const further: StatsQuestion = { ...q, networksUpTo }
      expect(sumsSql(further, [today]).sql).not.toContain('page_days')
      const read = asRows(await querySums(fx.client, further))
      expect(read['/crowd']).toMatchObject({ visitors: crowd, networks: crowd })
      // the other pages as kept: fewer than 100 networks each
      expect(Object.fromEntries(Object.entries(read).filter(([k]) => k !== '/crowd'))).toEqual(Object.fromEntries(Object.entries(kept).filter(([k]) => k !== '/crowd')))
    }
  })

  it('are not read for another day, a bucket or a question that is not lean', () => {
    const q = question('')
    expect(sumsSql(q, ['2030-01-01']).sql).not.toContain('page_days')
    expect(sumsSql({ ...q, interval: 'hour' }, [today]).sql).not.toContain('page_days')
    expect(sumsSql({ ...q, lean: undefined }, [today]).sql).not.toContain('page_days')
  })
})

/** The visitors and networks of the visits holding a page that `keep` picks (a pageview of it in a visit), from what was sent. */
function headcountModel(keep: (path: string) => boolean) {
  const visitors = new Set<number>()
  const networks = new Set<string>()
  for (const e of sent) {
    if ((e.name ?? 'pageview') !== 'pageview' || e.visitor === 0 || !keep(e.path ?? '/')) continue
    visitors.add(e.visitor)
    networks.add(networkOf(e))
  }
  return { visitors: visitors.size, networks: networks.size }
}

describe("today's headcount under a page filter, from today's page rows", () => {
  // networks are counted up to the scope's minimum (query.ts networkCount): at 100, every count here is under it, so as sent
  const scope = (filters: string) => ({ site: SITE, timezone: 'UTC', filters: parseFilters(filters), limits: { k: 1, kn: 100 } })
  const day = () => question('').range
  const headcountQuestion = (filters: string): StatsQuestion => ({ ...question(filters), property: undefined })

  it.each([
    ['page==/pricing', (p: string) => p === '/pricing'],
    ['page==/pricing|/docs', (p: string) => p === '/pricing' || p === '/docs'],
    ['page~BLOG', (p: string) => p.toLowerCase().includes('blog')],
    ['page==/blog/*', (p: string) => p.startsWith('/blog/')],
  ])('under "%s" is what the visits holding the page give, and what was sent', async (filters, keep) => {
    const q = headcountQuestion(filters)
    expect(sumsSql(q, [today]).sql).toContain('FROM page_days')
    // the same question in full reads the visits (through FINAL) and counts their visitors there
    expect(sumsSql({ ...q, lean: undefined }, [today]).sql).not.toContain('page_days')
    const [kept, read] = await Promise.all([totals(fx.client, scope(filters), day(), undefined, true), totals(fx.client, scope(filters), day())])
    const truth = headcountModel(keep)
    expect(truth.visitors).toBeGreaterThan(0)
    expect({ visitors: kept.visitors, networks: kept.networks }).toEqual(truth)
    expect({ visitors: read.visitors, networks: read.networks }).toEqual(truth)
  })

  it('is asked after the live reads asked in the same turn, which then start first, and answers as alone', async () => {
    const asked: string[] = []
    // the event panel under the page filter: its rows (a read of today's events) and its total, asked at once
    const panel = (c: typeof fx.client) => breakdown(c, { ...scope('page==/pricing'), limits: { k: 1, kn: 1 } }, { ...day(), previous: day(), label: today }, 'event', PROPERTIES.event, ['visitors'], 10)
    const beside = await panel(countingClient(fx.client, asked))
    const states = asked.findIndex((sql) => sql.includes('FROM page_days'))
    const live = asked.findIndex((sql) => sql.includes('FROM events') && !sql.includes('page_days'))
    expect(states).toBeGreaterThan(-1)
    expect(live).toBeGreaterThan(-1)
    expect(states).toBeGreaterThan(live)
    expect(beside.results.length).toBeGreaterThan(0)
    // the same answer as each read asked one after the other
    const [rows, kept] = [await querySums(fx.client, { ...question('page==/pricing'), property: PROPERTIES.event, lean: true }), await totals(fx.client, scope('page==/pricing'), day(), undefined, true)]
    expect(kept.visitors).toBeGreaterThan(0)
    expect(Object.fromEntries(beside.results.map((x) => [x.event, x.visitors]))).toEqual(Object.fromEntries(rows.filter((x) => x.visitors > 0).map((x) => [x.key, x.visitors])))
  })

  it('is not read from them under a negated page filter, two filters, another day or by the hour', () => {
    const q = headcountQuestion('page==/pricing')
    expect(sumsSql(headcountQuestion('page!=/pricing'), [today]).sql).not.toContain('page_days')
    expect(sumsSql(headcountQuestion('page==/pricing;page==/docs'), [today]).sql).not.toContain('page_days')
    expect(sumsSql(headcountQuestion('page==/pricing;browser==Firefox'), [today]).sql).not.toContain('page_days')
    expect(sumsSql(headcountQuestion('entry_page==/pricing'), [today]).sql).not.toContain('page_days')
    expect(sumsSql(q, ['2030-01-01']).sql).not.toContain('page_days')
    expect(sumsSql({ ...q, interval: 'hour' }, [today]).sql).not.toContain('page_days')
  })
})

describe('the event breakdown asked lean under a filter on what a visit holds', () => {
  const eventQuestion = (filters: string, lean: boolean): StatsQuestion => ({ ...question(filters), property: PROPERTIES.event, lean: lean || undefined })
  /** Per custom event: the visitors and networks of the visits (one a visitor here) sending it that `keep` keeps, and its events there. */
  function eventModel(keep: (pages: Set<string>) => boolean) {
    const byVisitor = new Map<number, { pages: Set<string>; names: Map<string, number>; network: string }>()
    for (const e of sent) {
      if (e.visitor === 0) continue
      const v = byVisitor.get(e.visitor) ?? { pages: new Set<string>(), names: new Map<string, number>(), network: networkOf(e) }
      byVisitor.set(e.visitor, v)
      const name = e.name ?? 'pageview'
      if (name === 'pageview') v.pages.add(e.path ?? '/')
      else if (name !== 'engagement') v.names.set(name, (v.names.get(name) ?? 0) + 1)
    }
    const out: Record<string, { visitors: number; networks: number; events: number }> = {}
    const seen = new Map<string, { visitors: Set<number>; networks: Set<string>; events: number }>()
    for (const [visitor, v] of byVisitor) {
      if (!keep(v.pages)) continue
      for (const [name, n] of v.names) {
        const row = seen.get(name) ?? { visitors: new Set<number>(), networks: new Set<string>(), events: 0 }
        seen.set(name, row)
        row.visitors.add(visitor)
        row.networks.add(v.network)
        row.events += n
      }
    }
    for (const [name, row] of seen) out[name] = { visitors: row.visitors.size, networks: row.networks.size, events: row.events }
    return out
  }
  const asEventRows = (rs: SumsRow[]) => Object.fromEntries(rs.map((x) => [x.key, { visitors: x.visitors, networks: x.networks, events: x.events }]))

  it.each([
    ['page==/pricing', (pages: Set<string>) => pages.has('/pricing')],
    ['page==/pricing|/docs', (pages: Set<string>) => pages.has('/pricing') || pages.has('/docs')],
    ['page!=/docs', (pages: Set<string>) => !pages.has('/docs')],
  ])('under "%s" counts the visitors of the visits the filter keeps, as the visits read does', async (filters, keep) => {
    const [lean, full] = await Promise.all([querySums(fx.client, eventQuestion(filters, true)), querySums(fx.client, eventQuestion(filters, false))])
    const truth = eventModel(keep)
    expect(Object.keys(truth).length).toBeGreaterThan(0)
    expect(asEventRows(lean)).toEqual(truth)
    expect(asEventRows(full)).toEqual(truth)
  })
})
