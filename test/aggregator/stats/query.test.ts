import fs from 'node:fs'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Params, parseFilters, type Filter } from '../../../aggregator/stats/filters.ts'
import { breakdown, otherSums, questionOf, type Scope } from '../../../aggregator/stats/service.ts'
import { metricValue, ZERO, type Sums } from '../../../aggregator/stats/metrics.ts'
import { PROPERTIES, property, VISIT_PROPERTY_NAMES, type VisitProperty } from '../../../aggregator/stats/properties.ts'
import { addedUp, cubeDim, cubeDims, HELD_CUBES, currentDays, groupedSumsSql, groupMasks, querySums, rangeDays, readDays, rollupDays, rollupAnswers, sumsSql, type GroupedAsk, type Interval, type StatsQuestion, type SumsRow } from '../../../aggregator/stats/query.ts'
import { listMigrations, runStatements } from '../../../store/migrate.ts'
import { utcDay } from '../../helpers/fixtures.ts'
import { DIMENSION_COLUMNS, HOUR, MINUTE, openFixture, promisesTracked, rows, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * querySums both ways, the daily rollup (no filters) and the visits and events (a filter that
 * matches everything), on synthetic events of example.com (Berlin, around the end of summer time
 * on 2030-10-27, a day of 25 hours), each checked against a model computed here from the rows
 * inserted, written from the definitions in the README rather than from the SQL. The rows go in
 * as the collector writes them, each stamped with its visit by the collector's VisitTracker.
 */
const SITE = 'example.com'
const TZ = 'Europe/Berlin'
const TIMEOUT = 30 * MINUTE // the strict policy's visit_timeout_minutes

/** Local midnights in Berlin, by hand: summer time (UTC+2) until 01:00 UTC on 2030-10-27, then UTC+1. */
const MIDNIGHT: Record<string, number> = {
  '2030-10-26': Date.UTC(2030, 9, 25, 22),
  '2030-10-27': Date.UTC(2030, 9, 26, 22),
  '2030-10-28': Date.UTC(2030, 9, 27, 23),
  '2030-10-29': Date.UTC(2030, 9, 28, 23),
  '2030-10-30': Date.UTC(2030, 9, 29, 23),
}
const GENERATED_DAYS = ['2030-10-26', '2030-10-27', '2030-10-28', '2030-10-29']
/** Days with hashed events only; the 29th also has events without a visitor hash. */
const RANGE_A = { from: MIDNIGHT['2030-10-26'], to: MIDNIGHT['2030-10-29'] }
const RANGE_B = { from: MIDNIGHT['2030-10-29'], to: MIDNIGHT['2030-10-30'] }

// ---- the data ---------------------------------------------------------------------------------

/** mulberry32: the same "random" visits on every run. */
function prng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const rand = prng(20301027)
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo))

const PAGES = ['/', '/pricing', '/docs', '/blog/a', '/blog/b', '/about']
const PLACES = [
  { country: 'DE', region: 'Berlin', city: 'Berlin' },
  { country: 'DE', region: 'Bavaria', city: 'Munich' },
  { country: 'FR', region: 'Brittany', city: '' },
  { country: 'US', region: '', city: '' },
  { country: '', region: '', city: '' },
]
const CLIENTS = [
  { browser: 'Firefox', browser_version: '132', os: 'Linux', os_version: '', device: 'Desktop', screen: 'Desktop' },
  { browser: 'Chrome', browser_version: '131', os: 'Windows', os_version: '11', device: 'Desktop', screen: 'Laptop' },
  { browser: 'Safari', browser_version: '18.1', os: 'iOS', os_version: '18.1', device: 'Mobile', screen: 'Mobile' },
  { browser: 'Chrome', browser_version: '', os: 'Android', os_version: '14', device: 'Mobile', screen: 'Mobile' },
]
const ENTRIES = [
  {},
  { source: 'Google', channel: 'Organic Search', referrer_host: 'google.com', referrer_path: '/' },
  { source: 'Newsletter', channel: 'Email', utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'autumn', utm_content: 'top', utm_term: 'stats' },
  { source: 'example.net', channel: 'Referral', referrer_host: 'example.net', referrer_path: '/links' },
]
const NETWORKS = ['', 'Example Net A', 'Example Net B']

/** One visitor's visits on a local day, generated: the visits are cut again by the model and the SQL alike. */
function generatedVisitor(visitor: number, day: string): EventSpec[] {
  const dayStart = MIDNIGHT[day]
  const client = pick(CLIENTS)
  const place = pick(PLACES)
  const network = pick(NETWORKS)
  const returning = pick([0, 1, 2])
  const dims = { hostname: SITE, ...client, ...place, network }
  const out: EventSpec[] = []
  let t = dayStart + between(0, 12 * 60) * MINUTE + between(0, 60_000)
  for (let v = 0, visits = between(1, 3); v < visits; v++) {
    let page = pick(PAGES)
    out.push({ visitor, ts: t, path: page, dims: { ...dims, ...pick(ENTRIES) }, returning })
    for (let i = 0, n = between(0, 5); i < n; i++) {
      t += between(10_000, 25 * MINUTE)
      const r = rand()
      const e: EventSpec = { visitor, ts: t, path: page, dims, returning }
      if (r < 0.55) out.push({ ...e, path: (page = pick(PAGES)) })
      else if (r < 0.75) out.push({ ...e, name: 'engagement', engagement_ms: between(1_000, 60_000) })
      else if (r < 0.85) out.push({ ...e, name: 'Signup', props: { plan: pick(['pro', 'free']) } })
      else if (r < 0.93) out.push({ ...e, name: 'Outbound Link: Click', props: { url: pick(['https://example.org/', 'https://example.net/x']) } })
      else out.push({ ...e, name: 'File Download', props: { url: 'https://example.com/report.pdf', kind: 'pdf' } })
    }
    t += between(31, 180) * MINUTE
  }
  return out
}

const de = { hostname: SITE, country: 'DE', region: 'Berlin', city: 'Berlin', browser: 'Firefox', os: 'Linux', device: 'Desktop' }
const SPECIAL: EventSpec[] = [
  // 23:50 to 00:05 in Berlin: one visit over the local midnight (both on the UTC day 2030-10-26)
  { visitor: 9001, ts: Date.UTC(2030, 9, 26, 21, 50), path: '/', dims: de },
  { visitor: 9001, ts: Date.UTC(2030, 9, 26, 21, 58), path: '/docs', dims: de },
  { visitor: 9001, ts: Date.UTC(2030, 9, 26, 22, 5), path: '/pricing', dims: de },
  // 02:30 summer time, and 02:30 again an hour later in winter time: one local hour, three visits
  { visitor: 9002, ts: Date.UTC(2030, 9, 27, 0, 30), path: '/', dims: de },
  { visitor: 9002, ts: Date.UTC(2030, 9, 27, 0, 40), path: '/', name: 'engagement', engagement_ms: 20_000, dims: de },
  { visitor: 9002, ts: Date.UTC(2030, 9, 27, 1, 20), path: '/docs', dims: de },
  { visitor: 9003, ts: Date.UTC(2030, 9, 27, 1, 30), path: '/about', dims: de },
  // the last millisecond of the 27th and the first one of the 28th, in Berlin
  { visitor: 9004, ts: MIDNIGHT['2030-10-28'] - 1, path: '/blog/a', dims: de },
  { visitor: 9005, ts: MIDNIGHT['2030-10-28'], path: '/blog/b', dims: de },
  // two visits of one visitor on one day; only the second has the Signup, the outbound click and the download
  { visitor: 9006, ts: Date.UTC(2030, 9, 28, 8, 0), path: '/', dims: de },
  { visitor: 9006, ts: Date.UTC(2030, 9, 28, 10, 0), path: '/pricing', dims: de },
  { visitor: 9006, ts: Date.UTC(2030, 9, 28, 10, 1), path: '/pricing', name: 'Signup', props: { plan: 'enterprise' }, dims: de },
  { visitor: 9006, ts: Date.UTC(2030, 9, 28, 10, 2), path: '/pricing', name: 'Outbound Link: Click', props: { url: 'https://example.org/only-9006' }, dims: de },
  // without a visitor hash (a consent stance), on the 29th only: pageviews and events of no visit
  { visitor: 0, ts: Date.UTC(2030, 9, 29, 9, 0), path: '/', dims: de },
  { visitor: 0, ts: Date.UTC(2030, 9, 29, 9, 1), path: '/pricing', dims: de },
  { visitor: 0, ts: Date.UTC(2030, 9, 29, 9, 2), path: '/pricing', name: 'Signup', props: { plan: 'free' }, dims: de },
  { visitor: 0, ts: Date.UTC(2030, 9, 29, 9, 3), path: '/pricing', name: 'Outbound Link: Click', props: { url: 'https://example.org/' }, dims: de },
]

const EVENTS: EventSpec[] = [
  ...GENERATED_DAYS.flatMap((day, d) => Array.from({ length: 30 }, (_, i) => generatedVisitor(1000 * (d + 1) + i, day)).flat()),
  ...SPECIAL,
]

/** A half-hour time zone, whose local hours do not start on UTC hours. */
const KOLKATA_SITE = 'example.net'
const KOLKATA_EVENTS: EventSpec[] = [
  { site: KOLKATA_SITE, visitor: 8001, ts: Date.UTC(2030, 9, 28, 10, 15), path: '/' }, // 15:45 in Kolkata
  { site: KOLKATA_SITE, visitor: 8002, ts: Date.UTC(2030, 9, 28, 10, 45), path: '/' }, // 16:15
]


// ---- the model --------------------------------------------------------------------------------

const partsIn = (ms: number, tz: string) =>
  Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  )
const localDay = (ms: number, tz = TZ) => {
  const p = partsIn(ms, tz)
  return `${p.year}-${p.month}-${p.day}`
}
const localHour = (ms: number, tz = TZ) => {
  const p = partsIn(ms, tz)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:00:00`
}

interface Visit {
  visitor: number
  first: EventSpec
  events: EventSpec[]
  start: number
  end: number
  pageviews: number
  /** Every event but engagement pings. */
  count: number
  interactions: number
  engagement: number
  entry: string
  exit: string
  /** The pages it viewed, the event names it sent. */
  pages: Set<string>
  names: Set<string>
}

const kind = (e: EventSpec) => e.name ?? 'pageview'

function visitOf(events: EventSpec[]): Visit {
  const pvs = events.filter((e) => kind(e) === 'pageview')
  const others = events.filter((e) => !['pageview', 'engagement'].includes(kind(e)))
  return {
    visitor: events[0].visitor,
    first: events[0],
    events,
    start: events[0].ts,
    end: events[events.length - 1].ts,
    pageviews: pvs.length,
    count: events.filter((e) => kind(e) !== 'engagement').length,
    interactions: others.length,
    engagement: events.reduce((s, e) => s + (kind(e) === 'engagement' ? (e.engagement_ms ?? 0) : 0), 0),
    entry: pvs[0]?.path ?? '',
    exit: pvs[pvs.length - 1]?.path ?? '',
    pages: new Set(pvs.map((e) => e.path ?? '/')),
    names: new Set(others.map(kind)),
  }
}

/**
 * README: a visitor's run of events with no gap longer than the timeout; the visitor hash is
 * the UTC day's, so a run never spans a UTC midnight (the collector cuts there too). Unhashed
 * events are in none.
 */
function visitsOf(events: EventSpec[]): Visit[] {
  const runs = new Map<string, EventSpec[]>()
  for (const e of events.filter((x) => x.visitor !== 0)) {
    const k = `${e.site ?? SITE}/${e.visitor}/${utcDay(e.ts)}`
    runs.set(k, [...(runs.get(k) ?? []), e])
  }
  const out: Visit[] = []
  for (const run of runs.values()) {
    run.sort((a, b) => a.ts - b.ts)
    let cur: EventSpec[] = []
    for (const e of run) {
      if (cur.length && e.ts - cur[cur.length - 1].ts > TIMEOUT) {
        out.push(visitOf(cur))
        cur = []
      }
      cur.push(e)
    }
    if (cur.length) out.push(visitOf(cur))
  }
  return out
}

/**
 * An event without a visitor hash stands as a visit of its own: what a filter or a visit
 * property sees of it. It counts in pageviews, events and engagement, never in visits or visitors.
 */
const ownVisit = (e: EventSpec): Visit => visitOf([e])

const isBounce = (v: Visit) => v.pageviews <= 1 && v.interactions === 0
const dim = (e: EventSpec, d: (typeof DIMENSION_COLUMNS)[number]) => e.dims?.[d] ?? ''

/** A visit's value of a visit property: the value its first event carried (entry and exit: its first and last pageview). */
function visitValue(name: string, v: Visit): string {
  const e = v.first
  const joined = (parts: string[], last: string) => (last === '' ? '' : parts.join(''))
  switch (name) {
    case 'referrer':
      return joined([dim(e, 'referrer_host'), dim(e, 'referrer_path')], dim(e, 'referrer_host'))
    case 'region':
      return joined([dim(e, 'country'), '|', dim(e, 'region')], dim(e, 'region'))
    case 'city':
      return joined([dim(e, 'country'), '|', dim(e, 'region'), '|', dim(e, 'city')], dim(e, 'city'))
    case 'browser_version':
      return joined([dim(e, 'browser'), ' ', dim(e, 'browser_version')], dim(e, 'browser_version'))
    case 'os_version':
      return joined([dim(e, 'os'), ' ', dim(e, 'os_version')], dim(e, 'os_version'))
    case 'entry_page':
      return v.entry
    case 'exit_page':
      return v.exit
    case 'new_vs_returning':
      return e.returning === 0 ? 'new' : e.returning === 1 ? 'returning' : ''
    default:
      return dim(e, name as (typeof DIMENSION_COLUMNS)[number])
  }
}

/** An event property's value on an event, or undefined when the event does not carry the property. */
function eventValue(name: string, e: EventSpec): string | undefined {
  const isPage = kind(e) === 'pageview' || kind(e) === 'engagement'
  if (name === 'page') return isPage ? (e.path ?? '/') : undefined
  if (name === 'event') return isPage ? undefined : kind(e)
  if (name === 'outbound') return kind(e) === 'Outbound Link: Click' ? (e.props?.url ?? '') : undefined
  if (name === 'download') return kind(e) === 'File Download' ? (e.props?.url ?? '') : undefined
  const key = name.slice('prop:'.length)
  return !isPage && e.props && key in e.props ? e.props[key] : undefined
}

type Bucket = (ms: number) => string
const bucketOf = (interval?: Interval, tz = TZ): Bucket => (interval === 'hour' ? (ms) => localHour(ms, tz) : interval === 'day' ? (ms) => localDay(ms, tz) : () => '')

const zero = (): Sums => ({ ...ZERO })

/**
 * Sums per (key, bucket). Visitors are distinct hashes per salt (UTC) day and local day, added up
 * (README: "distinct visitor hashes per day"); a visit counts where it starts; a pageview, an event
 * or an engagement ping where it happened. A visit property's pageviews are those of its visits.
 */
class Tally {
  constructor(private tz: string) {}

  private groups = new Map<string, { key: string; bucket: string; sums: Sums; visitors: Set<number> }>()

  add(key: string, bucket: string, at: number, visitor: number, add: Partial<Sums>): void {
    const g = `${key}\u0000${bucket}\u0000${utcDay(at)}\u0000${localDay(at, this.tz)}`
    let group = this.groups.get(g)
    if (!group) this.groups.set(g, (group = { key, bucket, sums: zero(), visitors: new Set() }))
    if (visitor !== 0) group.visitors.add(visitor)
    for (const [k, n] of Object.entries(add) as [keyof Sums, number][]) group.sums[k] += n
  }

  rows(): SumsRow[] {
    const out = new Map<string, SumsRow>()
    for (const g of this.groups.values()) {
      const k = `${g.key}\u0000${g.bucket}`
      const row = out.get(k) ?? { key: g.key, bucket: g.bucket, ...zero() }
      for (const m of Object.keys(g.sums) as (keyof Sums)[]) row[m] += g.sums[m]
      row.visitors += g.visitors.size
      // these rows carry no network (stored as before networks were counted): each visitor is a network of its own
      row.networks += g.visitors.size
      out.set(k, row)
    }
    return sorted([...out.values()])
  }
}

/** A visit's own sums; a bounce rate is out of `entries`: every visit, or for a page those entering on it. */
const visitSums = (v: Visit): Partial<Sums> => ({ visits: 1, bounces: isBounce(v) ? 1 : 0, entries: 1, duration_ms: v.end - v.start })
const eventSums = (e: EventSpec): Partial<Sums> => ({
  pageviews: kind(e) === 'pageview' ? 1 : 0,
  events: kind(e) === 'engagement' ? 0 : 1,
  engagement_ms: kind(e) === 'engagement' ? (e.engagement_ms ?? 0) : 0,
})
const inRange = (ms: number, r: { from: number; to: number }) => ms >= r.from && ms < r.to

/**
 * What querySums should answer, from the inserted events alone. `visit`: the visits the filters
 * select; `keys`: the values a filter on the broken-down property itself keeps.
 */
function model(opts: {
  range: { from: number; to: number }
  property?: string
  interval?: Interval
  visit?: (v: Visit) => boolean
  keys?: (key: string) => boolean
  tz?: string
  events?: EventSpec[]
}): SumsRow[] {
  const events = opts.events ?? EVENTS
  const tally = new Tally(opts.tz ?? TZ)
  const bucket = bucketOf(opts.interval, opts.tz)
  const chosen = opts.visit ?? (() => true)
  const keep = opts.keys ?? (() => true)
  const all = visitsOf(events)
  const visits = all.filter((v) => inRange(v.start, opts.range) && chosen(v))
  // the events in the range whose visit the filters select (wherever it starts), and unhashed events the filters select as visits of their own
  const selected = new Set(all.filter(chosen).flatMap((v) => v.events))
  const scoped = events.filter((e) => inRange(e.ts, opts.range) && (e.visitor === 0 ? chosen(ownVisit(e)) : selected.has(e)))
  const name = opts.property
  if (!name || PROPERTIES[name]?.level === 'visit') {
    // the totals are a visit property's rows added up: a visit's pageviews and events count with it, when it starts
    const value = (v: Visit) => (name ? visitValue(name, v) : '')
    for (const v of visits) tally.add(value(v), bucket(v.start), v.start, v.visitor, { ...visitSums(v), pageviews: v.pageviews, events: v.count, engagement_ms: v.engagement })
    for (const e of scoped.filter((x) => x.visitor === 0)) tally.add(value(ownVisit(e)), bucket(e.ts), e.ts, 0, eventSums(e))
  } else {
    // a page's visits are those that viewed it, an event name's those that sent it (entries: for a page, those entering on it)
    const held = name === 'page' ? (v: Visit) => v.pages : name === 'event' ? (v: Visit) => v.names : undefined
    for (const v of held ? visits : []) {
      for (const key of held!(v)) if (keep(key)) tally.add(key, bucket(v.start), v.start, v.visitor, { ...visitSums(v), entries: name !== 'page' || v.entry === key ? 1 : 0 })
    }
    for (const e of scoped) {
      const key = eventValue(name, e)
      if (key === undefined || !keep(key)) continue
      // a page row holds pageviews and time on page but no events; its visitors are its visits'
      tally.add(key, bucket(e.ts), e.ts, held ? 0 : e.visitor, { ...eventSums(e), ...(name === 'page' ? { events: 0 } : {}) })
    }
  }
  return tally.rows()
}

// ---- helpers ----------------------------------------------------------------------------------

function sorted(rows: SumsRow[]): SumsRow[] {
  return [...rows].sort((a, b) => (a.key === b.key ? (a.bucket < b.bucket ? -1 : 1) : a.key < b.key ? -1 : 1))
}

/** The fixture's client, each query's SQL shown to `see` first, which runs it (`run`) or answers instead. */
function seeingQueries(see: (sql: string, run: () => Promise<unknown>) => unknown): ClickHouseClient {
  return new Proxy(fx.client, {
    get(target, prop) {
      if (prop === 'query') return (params: { query: string }) => see(params.query, () => target.query(params as never))
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** Matches every stored event and visit: a browser nobody has. */
const ALL: Filter[] = parseFilters('browser!=Nobody')

const question = (range: { from: number; to: number }, extra: Partial<StatsQuestion> = {}): StatsQuestion => ({
  site: SITE, timezone: TZ, range, filters: [], ...extra,
})

/** querySums both ways: through the rollup (no filters) and through visits and events (ALL). */
async function bothWays(range: { from: number; to: number }, extra: Partial<StatsQuestion> = {}) {
  const fast = question(range, extra)
  const raw = question(range, { ...extra, filters: ALL })
  return {
    fastUsesRollup: rollupAnswers(fast),
    rawUsesRollup: rollupAnswers(raw),
    rollup: sorted(await querySums(fx.client, fast)),
    filtered: sorted(await querySums(fx.client, raw)),
  }
}

const pickSums = (rows: SumsRow[], fields: (keyof Sums)[]) =>
  rows.map((r) => ({ key: r.key, bucket: r.bucket, ...Object.fromEntries(fields.map((f) => [f, r[f]])) }))
const VISIT_FIELDS: (keyof Sums)[] = ['visitors', 'visits', 'bounces', 'entries', 'duration_ms']
/** The visit sums of the buckets where visits start (a bucket may hold only the later events of a visit). */
const visitPart = (rows: SumsRow[]) => pickSums(rows.filter((r) => r.visits > 0), VISIT_FIELDS)
const EVENT_FIELDS: (keyof Sums)[] = ['pageviews', 'events']

/** 08:00 to 14:00 in Berlin on the 28th: part of a day, so not the rollup's. */
const PART_OF_DAY = { from: MIDNIGHT['2030-10-28'] + 8 * HOUR, to: MIDNIGHT['2030-10-28'] + 14 * HOUR }
/** The UTC days holding events of the data, both sites. */
const EVENT_DAYS = [...new Set([...EVENTS, ...KOLKATA_EVENTS].map((e) => utcDay(e.ts)))].sort()

let fx: StoreFixture
beforeAll(async () => {
  // the job's "now" is after every day of the data: each is closed, so each is built
  fx = await openFixture({ [SITE]: TZ, [KOLKATA_SITE]: 'Asia/Kolkata' }, Date.UTC(2030, 10, 1))
  await fx.insert([...EVENTS, ...KOLKATA_EVENTS])
  await fx.job.run()
})
afterAll(async () => {
  await fx?.close()
})

// ---- tests ------------------------------------------------------------------------------------

describe('the data', () => {
  it('has what the comparisons need: split visits, bounces and not, every kind of event, unhashed events on the 29th only', () => {
    const visits = visitsOf(EVENTS)
    expect(visits.length).toBeGreaterThan(150)
    expect(visits.filter(isBounce).length).toBeGreaterThan(20)
    expect(visits.filter((v) => !isBounce(v)).length).toBeGreaterThan(20)
    expect(new Set(visits.map((v) => v.visitor)).size).toBeLessThan(visits.length)
    for (const name of ['engagement', 'Signup', 'Outbound Link: Click', 'File Download']) expect(EVENTS.some((e) => e.name === name)).toBe(true)
    expect(EVENTS.filter((e) => e.visitor === 0).every((e) => inRange(e.ts, RANGE_B))).toBe(true)
    // the visit over local midnight lies inside range A, so totals over A do not depend on where its pageviews count
    expect(visits.filter((v) => localDay(v.start) !== localDay(v.end)).every((v) => inRange(v.start, RANGE_A) && inRange(v.end, RANGE_A))).toBe(true)
  })

  it('the store holds the visits the model cuts: the collector cut them the same way', async () => {
    const got = await rows<{ visitor_id: number; start: number; end: number; pageviews: number; events: number; entry_page: string; exit_page: string }>(
      fx.client,
      `SELECT visitor_id, toUnixTimestamp64Milli(start) AS start, toUnixTimestamp64Milli(end) AS end, pageviews, events, entry_page, exit.2 AS exit_page
       FROM visits FINAL WHERE site = {site:String} ORDER BY visitor_id, start`,
      { site: SITE },
    )
    const want = visitsOf(EVENTS)
      .map((v) => ({ visitor_id: v.visitor, start: v.start, end: v.end, pageviews: v.pageviews, events: v.count, entry_page: v.entry, exit_page: v.exit }))
      .sort((a, b) => a.visitor_id - b.visitor_id || a.start - b.start)
    expect(got).toEqual(want)
  })

  it('the days with events without a visit are known (visitless_counts, kept at insert), and the migration\'s backfill counts the same', async () => {
    const unhashed = [...new Set(EVENTS.filter((e) => e.visitor === 0).map((e) => utcDay(e.ts)))].sort()
    expect(unhashed.length).toBeGreaterThan(0)
    const { known } = await rollupDays(fx.client, question(RANGE_A), false)
    expect([...known].filter(([, d]) => d.visitless).map(([day]) => day).sort()).toEqual(unhashed)
    const counted = async () => rows<{ day: string; n: string }>(fx.client, 'SELECT toString(day) AS day, sum(events) AS n FROM visitless_counts GROUP BY day HAVING n > 0 ORDER BY day')
    const atInsert = await counted()
    expect(atInsert.map((r) => r.day)).toEqual(unhashed)
    expect(atInsert.reduce((n, r) => n + Number(r.n), 0)).toBe(EVENTS.filter((e) => e.visitor === 0).length)
    // the migration's own backfill, on a store whose counts were lost: the same rows
    const backfill = fs.readFileSync(new URL('../../../store/migrations/030_visitless_counts.sql', import.meta.url), 'utf8').split(';').map((x) => x.trim()).find((x) => x.includes('INSERT INTO visitless_counts'))!
    await fx.client.command({ query: 'TRUNCATE TABLE visitless_counts' })
    await fx.client.command({ query: backfill.replace(/^(--[^\n]*\n)+/, '') })
    expect(await counted()).toEqual(atInsert)
  })

  it('the rollup job built every UTC day of the data: the unfiltered questions below read the rollup', async () => {
    expect(EVENT_DAYS.length).toBeGreaterThan(4)
    expect([...(await currentDays(fx.client, EVENT_DAYS[0], EVENT_DAYS[EVENT_DAYS.length - 1]))].sort()).toEqual(EVENT_DAYS)
  })

  it('visits sorted by visit id (031) and copied with their pageviews (032): the same visits as the view made at insert, and the view keeps them again', async () => {
    // every column; a visit's lists of pages, event names and pageviews in one order (groupUniqArray and groupArray keep none)
    const visits = () =>
      rows<Record<string, unknown>>(
        fx.client,
        `SELECT * REPLACE (arraySort(pages) AS pages, arraySort(event_names) AS event_names, arraySort(views) AS views), toString(visitor_id) AS visitor_id, toString(visit_id) AS visit_id
         FROM visits FINAL ORDER BY site, day, visitor_id, visit_id`,
      )
    const atInsert = await visits()
    expect(atInsert.length).toBeGreaterThan(20)
    // each visit's pageviews are those the model's visit holds (time order; a path's order where two share a time)
    const ms = (t: string) => Date.parse(`${t.replace(' ', 'T')}Z`)
    const stored = atInsert.map((v) => `${v.site} ${ms(String(v.start))}: ${(v.views as [string, string][]).map(([t, path]) => `${ms(t)} ${path}`).join(', ')}`)
    const sent = visitsOf([...EVENTS, ...KOLKATA_EVENTS]).map((v) => {
      const views = v.events.filter((e) => kind(e) === 'pageview').map((e) => [e.ts, e.path ?? '/'] as const)
      views.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      return `${v.first.site ?? SITE} ${v.start}: ${views.map(([t, path]) => `${t} ${path}`).join(', ')}`
    })
    expect(stored.sort()).toEqual(sent.sort())
    expect(sent.filter((v) => v.split(', ').length > 2).length).toBeGreaterThan(20)
    // a store from before 032: no visit knows its pageviews; the copy reads them from the events
    await fx.client.command({ query: 'ALTER TABLE visits UPDATE views = [] WHERE 1 SETTINGS mutations_sync = 2' })
    expect((await visits()).filter((v) => (v.views as unknown[]).length > 0)).toEqual([])
    // 032, then 034 after it (its rows marked as holding their visit's first event), as a store is upgraded
    for (const migration of listMigrations().filter((m) => m.version === 32 || m.version === 34)) await runStatements(fx.client, migration.statements)
    expect(await visits()).toEqual(atInsert)
    const [{ key }] = await rows<{ key: string }>(fx.client, "SELECT sorting_key AS key FROM system.tables WHERE database = currentDatabase() AND name = 'visits'")
    expect(key).toBe('site, day, visit_id, visitor_id')
    // and the view that keeps them at insert is there again
    const [{ view }] = await rows<{ view: string }>(fx.client, "SELECT create_table_query AS view FROM system.tables WHERE database = currentDatabase() AND name = 'visits_mv'")
    expect(view).toMatch(/TO \S*visits\b/)
  })
})

describe('rangeDays', () => {
  it('a day of 25 hours (summer time ends in Berlin): one local day, UTC days one either side', () => {
    const range = { from: Date.UTC(2030, 9, 26, 22), to: Date.UTC(2030, 9, 27, 23) }
    expect(range.to - range.from).toBe(25 * HOUR)
    expect(rangeDays(range, 'Europe/Berlin')).toEqual({ first: '2030-10-27', last: '2030-10-27', utcFirst: '2030-10-25', utcLast: '2030-10-28' })
  })

  it('a day of 23 hours (summer time starts in Berlin)', () => {
    const range = { from: Date.UTC(2031, 2, 29, 23), to: Date.UTC(2031, 2, 30, 22) }
    expect(range.to - range.from).toBe(23 * HOUR)
    expect(rangeDays(range, 'Europe/Berlin')).toEqual({ first: '2031-03-30', last: '2031-03-30', utcFirst: '2031-03-28', utcLast: '2031-03-31' })
  })

  it('west of Greenwich, several days over a change of offset (Los Angeles, 2030-11-03)', () => {
    const range = { from: Date.UTC(2030, 10, 2, 7), to: Date.UTC(2030, 10, 5, 8) }
    expect(rangeDays(range, 'America/Los_Angeles')).toEqual({ first: '2030-11-02', last: '2030-11-04', utcFirst: '2030-11-01', utcLast: '2030-11-06' })
  })

  it('the UTC days always hold every instant of the range, in zones from UTC−11 to UTC+14', () => {
    const cases: [string, number, number][] = [
      ['Pacific/Pago_Pago', Date.UTC(2030, 9, 27, 11), Date.UTC(2030, 9, 28, 11)],
      ['Pacific/Kiritimati', Date.UTC(2030, 9, 26, 10), Date.UTC(2030, 9, 27, 10)],
      ['Asia/Kolkata', Date.UTC(2030, 9, 26, 18, 30), Date.UTC(2030, 9, 27, 18, 30)],
      ['Europe/Berlin', RANGE_A.from, RANGE_A.to],
    ]
    for (const [tz, from, to] of cases) {
      const days = rangeDays({ from, to }, tz)
      expect(days.first, tz).toBe(localDay(from, tz))
      expect(days.last, tz).toBe(localDay(to - 1, tz))
      for (const t of [from, to - 1]) {
        expect(utcDay(t) >= days.utcFirst && utcDay(t) <= days.utcLast, tz).toBe(true)
      }
    }
  })
})

describe('rollupAnswers', () => {
  it('yes without filters, for the whole range or day, week and month buckets, with or without a property', () => {
    for (const interval of [undefined, 'day', 'week', 'month'] as const) {
      for (const prop of [undefined, PROPERTIES.country, PROPERTIES.page, property('prop:plan')]) {
        expect(rollupAnswers(question(RANGE_A, { interval, property: prop })), `${interval} ${prop?.dim}`).toBe(true)
      }
    }
  })

  it('no for minute and hour buckets (rollups hold days), and no with any filter, even one that matches everything', () => {
    expect(rollupAnswers(question(RANGE_A, { interval: 'hour' }))).toBe(false)
    expect(rollupAnswers(question(RANGE_A, { interval: 'minute' }))).toBe(false)
    expect(rollupAnswers(question(RANGE_A, { filters: ALL }))).toBe(false)
  })

  it('a breakdown filtered by `==` on its own property (picking its rows): yes; a pattern, a negation or a region by name: no', () => {
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('page==/'), property: PROPERTIES.page }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('country==DE|FR'), property: PROPERTIES.country }))).toBe(true)
    for (const [raw, prop] of [['page==/*', 'page'], ['page!=/', 'page'], ['page~/', 'page'], ['region==Berlin', 'region'], ['page==/;browser==Firefox', 'page']] as const) {
      expect(rollupAnswers(question(RANGE_A, { filters: parseFilters(raw), property: PROPERTIES[prop] })), raw).toBe(false)
    }
  })

  it('a breakdown filtered on its own property: each value’s row from the rollup equals the raw path’s, and the unfiltered row', async () => {
    const names = [...Object.keys(PROPERTIES).filter((n) => !(PROPERTIES[n].level === 'visit' && PROPERTIES[n].filterExpr !== undefined)), 'prop:plan']
    for (const name of names) {
      const prop = property(name)!
      const rows = sorted(await querySums(fx.client, question(RANGE_A, { property: prop })))
      const values = [...new Set(rows.map((r) => r.key))].filter((v) => v !== '' && !/[*|;]/.test(v))
      expect(values.length, name).toBeGreaterThan(0)
      for (const picked of [[values[0]], values.slice(0, 3), ['no such value']]) {
        const filters = parseFilters(`${name}==${picked.join('|')}`)
        const fast = question(RANGE_A, { property: prop, filters })
        expect(rollupAnswers(fast), name).toBe(true)
        const got = sorted(await querySums(fx.client, fast))
        expect(got, `${name}==${picked.join('|')}: rollup vs raw`).toEqual(sorted(await querySums(fx.client, question(RANGE_A, { property: prop, filters: [...filters, ...ALL] }))))
        expect(got, `${name}==${picked.join('|')}: the unfiltered rows`).toEqual(rows.filter((r) => picked.includes(r.key)))
      }
    }
  })

  it('every property a question can name is a dimension the rollup job builds', async () => {
    const built = await rows<{ dim: string }>(fx.client, 'SELECT DISTINCT dim FROM rollup_daily WHERE site = {site:String} ORDER BY dim', { site: SITE })
    // and page flow's rows (`flow`, page-flow.ts)
    // and the held cubes' (the totals and every visit property per page viewed and event name sent, HELD_CUBES)
    const heldCube = HELD_CUBES.flatMap((f) => ['', ...VISIT_PROPERTY_NAMES].map((p) => cubeDim(f, p)))
    expect(built.map((b) => b.dim)).toEqual(['', ...Object.values(PROPERTIES).map((p) => p.dim), ...cubeDims().map(([d]) => d), ...heldCube, 'flow', 'prop:kind', 'prop:plan', 'prop:url'].sort())
  })

  // fixed by the rewrite: rollupAnswers never looked at the range, so part of a day was answered with whole days
  it('no for a range that is not whole local days, and querySums then counts only the visits starting in that part', async () => {
    expect(rollupAnswers(question(PART_OF_DAY))).toBe(false)
    expect(visitPart(await querySums(fx.client, question(PART_OF_DAY)))).toEqual(visitPart(model({ range: PART_OF_DAY })))
  })

  it('part of a day: querySums counts the pageviews and events of the visits starting in that part', async () => {
    expect(pickSums(await querySums(fx.client, question(PART_OF_DAY)), EVENT_FIELDS)).toEqual(pickSums(model({ range: PART_OF_DAY }), EVENT_FIELDS))
  })
})

describe('one filter on a visit property: answered from the rollup, as the raw path answers it', () => {
  const names = Object.entries(PROPERTIES).filter(([, p]) => p.level === 'visit' && p.filterExpr === undefined).map(([n]) => n)

  it('the rollup answers `visit-property==value` alone; not several values, a pattern, a negation, a second filter or a property', () => {
    for (const name of names) expect(rollupAnswers(question(RANGE_A, { filters: parseFilters(`${name}==x`) })), name).toBe(true)
    // (two filters: only a cube filter's value with another visit property's, the cube's cell)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('country==DE;browser==Firefox') }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('source==Google;channel==search') }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('utm_source==x;referrer==y') }))).toBe(false)
    for (const raw of ['country==DE|FR', 'country==D*', 'country!=DE', 'country~D', 'country==DE;page==/', 'country==DE;browser==Firefox;os==Linux', 'region==Berlin', 'page==/|/x', 'page==/*', 'page!=/', 'event==Signup|Other', 'outbound==x']) {
      expect(rollupAnswers(question(RANGE_A, { filters: parseFilters(raw) })), raw).toBe(false)
    }
    // one page or event name: the held cube's totals, and its rows of a visit property (not of an event property)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('page==/') }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('event==Signup'), property: PROPERTIES.country }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('page==/'), property: PROPERTIES.source }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('page==/'), property: PROPERTIES.event }))).toBe(false)
    // a breakdown under one value of a cube filter (one every event carries, or a visit's first event gives) reads the cube; under another visit property, events
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('country==DE'), property: PROPERTIES.page }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('source==Google'), property: PROPERTIES.page }))).toBe(true)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('utm_campaign==autumn'), property: PROPERTIES.page }))).toBe(false)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('country==DE|FR'), property: PROPERTIES.page }))).toBe(false)
    expect(rollupAnswers(question(RANGE_A, { filters: parseFilters('country==DE'), property: property('prop:plan') }))).toBe(false)
  })

  for (const name of names) {
    it(`${name}: every value's totals and days, rollup and raw path alike`, async () => {
      const values = model({ range: RANGE_A, property: name }).map((r) => r.key)
      expect(values.length).toBeGreaterThan(0)
      for (const value of [...values, 'no such value']) {
        for (const interval of [undefined, 'day'] as const) {
          const filters = parseFilters(`${name}==${value}`)
          const fast = sorted(await querySums(fx.client, question(RANGE_A, { filters, interval })))
          const raw = sorted(await querySums(fx.client, question(RANGE_A, { filters: [...filters, ...ALL], interval })))
          expect(fast, `${name}==${value} ${interval}`).toEqual(raw)
        }
      }
    })
  }

  for (const held of HELD_CUBES) {
    it(`${held}: every value's totals, days and visit-property rows, held cube and raw path alike`, async () => {
      const values = model({ range: RANGE_A, property: held }).map((r) => r.key)
      expect(values.length).toBeGreaterThan(held === 'page' ? 1 : 0)
      for (const value of [...values, 'no such value']) {
        const filters = parseFilters(`${held}==${value}`)
        const shapes: Pick<StatsQuestion, 'interval' | 'property'>[] = [{}, { interval: 'day' }, ...names.map((n) => ({ property: PROPERTIES[n] }))]
        for (const asked of shapes) {
          expect(rollupAnswers(question(RANGE_A, { filters, ...asked })), value).toBe(true)
          const fast = sorted(await querySums(fx.client, question(RANGE_A, { filters, ...asked })))
          const raw = sorted(await querySums(fx.client, question(RANGE_A, { filters: [...filters, ...ALL], ...asked })))
          expect(fast, `${held}==${value} ${asked.property?.dim ?? asked.interval}`).toEqual(raw)
        }
      }
    }, 120_000) // one question per value and property both ways: 16 s in CI, more on a busy machine
  }
})

describe('the same question asked at once', () => {
  it('is asked of the store once, and each caller gets rows of its own', async () => {
    const asked: string[] = []
    // the sums, not the days with events every question looks up first (shared the same way)
    const counting = seeingQueries((sql, run) => (sql.includes('event_counts') || asked.push(sql), run()))
    const q = question(RANGE_A, { filters: ALL, property: PROPERTIES.country })
    const answers = await Promise.all(Array.from({ length: 6 }, () => querySums(counting, q)))
    expect(asked).toHaveLength(1)
    expect(answers.every((a) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(answers[0])))).toBe(true)
    answers[0][0].visitors = -1
    expect(answers[1].some((r) => r.visitors === -1)).toBe(false)
    // once answered, nothing is kept of the answer itself; its days are built, so their rows are
    // (dayByDay, as rollup rows): asked again, no built day is read (test/aggregator/stats/rollup-rows-kept.test.ts
    // has a day read again once a late event makes it no longer built)
    await querySums(counting, q)
    expect(asked).toHaveLength(1)
  })
})

/** A grouped read's SQL (groupedSumsSql): its rows say their ask (`g`), by GROUPING SETS, or by ARRAY JOIN (the arrayJoin function over visit rows). */
const isGrouped = (sql: string) => /\bAS g\b/.test(sql)

describe('a total asked at once with the same question by day or week, over UTC days at UTC\'s time', () => {
  // (filters no visit fails, each test its own: nothing kept from another asking is given back)
  const oneDay = { from: Date.UTC(2030, 9, 28), to: Date.UTC(2030, 9, 29) }
  it.each([
    ['UTC', 'day', 'country!=Nowhere;os!=Nobody', false],
    ['UTC', 'week', 'country!=Nowhere;os!=Nothing', false],
    ['Europe/Berlin', 'day', 'country!=Nowhere;os!=None', true],
    ['UTC', 'hour', 'country!=Nowhere;os!=Nil', true],
  ] as const)('in %s by %s: one read; the total from its bucket where the day is in one bucket (not grouped: %s), each as asked alone', async (timezone, interval, filters, grouped) => {
    const asked: string[] = []
    const counting = seeingQueries((sql, run) => (sql.includes('event_counts') || asked.push(sql), run()))
    const q = question(oneDay, { timezone, filters: parseFilters(filters) })
    const [total, buckets] = await Promise.all([querySums(counting, q), querySums(counting, { ...q, interval })])
    expect(asked).toHaveLength(1)
    expect(isGrouped(asked[0])).toBe(grouped)
    // asked alone, under one filter more that every visit meets
    const alone = (x: StatsQuestion) => querySums(fx.client, { ...x, filters: [...parseFilters('browser!=Nobody'), ...x.filters] })
    expect(total).toEqual(await alone(q))
    expect(sorted(buckets)).toEqual(sorted(await alone({ ...q, interval })))
    expect(total[0].visitors).toBeGreaterThan(0)
  })
})


describe('several visit properties and intervals asked at once (one read: groupedSumsSql)', () => {
  const byDay = (rows: SumsRow[]) => [...rows].sort((a, b) => `${a.g}\u0000${a.c}\u0000${a.key}\u0000${a.bucket}\u0000${a.day}`.localeCompare(`${b.g}\u0000${b.c}\u0000${b.key}\u0000${b.bucket}\u0000${b.day}`))
  const run = async (sql: { sql: string; params: Record<string, unknown> }) =>
    (await rows<SumsRow & Record<string, unknown>>(fx.client, sql.sql, sql.params)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, ['key', 'bucket', 'day', 's_day'].includes(k) ? String(v) : Number(v)])) as unknown as SumsRow)
  /** An unmerged read's rows, their sums named as a merged read names them (s_visitors: visitors). */
  const runUnmerged = async (sql: { sql: string; params: Record<string, unknown> }) =>
    (await run(sql)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/^s_/, ''), v])) as unknown as SumsRow)
  /** Every visit property whose value expressions no other one shares (those are read alone). */
  const props = VISIT_PROPERTY_NAMES.map((n) => PROPERTIES[n] as VisitProperty).filter(
    (p, i, all) => !all.some((o, j) => j !== i && (o.expr === p.expr || o.eventExpr === p.eventExpr)),
  )
  /** The totals and every property, unbucketed; the totals by hour, day and week; two properties by day. */
  const asks: GroupedAsk[] = [
    { prop: null }, ...props.map((prop) => ({ prop })),
    ...(['hour', 'day', 'week'] as const).map((interval) => ({ prop: null, interval })),
    { prop: PROPERTIES.country as VisitProperty, interval: 'day' }, { prop: PROPERTIES.source as VisitProperty, interval: 'day' },
    // with a filter on a visit property more (a condition): the question the k rules' neighbours are asked without;
    // one on the source, a condition that is a function of the source asked beside it (store/client.ts: optimize_group_by_function_keys)
    ...[parseFilters('browser==Firefox'), parseFilters('country!=DE'), parseFilters('region==Bavaria'), parseFilters('browser==Firefox;country!=DE'), parseFilters('source==Google;country!=DE')].flatMap((conds) => [
      { prop: null, conds }, { prop: PROPERTIES.source as VisitProperty, conds }, { prop: null, interval: 'day' as const, conds },
    ]),
  ]

  it('covers most visit properties', () => {
    expect(props.length).toBeGreaterThan(VISIT_PROPERTY_NAMES.length * 0.8)
    expect(new Set(groupMasks(asks)).size).toBe(asks.length)
  })

  const CASES: [string, { from: number; to: number }, string][] = [
    ['range A, no filter', RANGE_A, ''],
    ['range A, browser==Firefox', RANGE_A, 'browser==Firefox'],
    ['range A, page==/docs', RANGE_A, 'page==/docs'],
    ['range A, event==Signup;country!=DE', RANGE_A, 'event==Signup;country!=DE'],
    ['range B (events without a visitor hash), no filter', RANGE_B, ''],
    ['range B, page~blog', RANGE_B, 'page~blog'],
  ]
  it.each(CASES)('%s: each ask\'s rows are what sumsSql answers for it alone', async (_, range, filters) => {
    const q = question(range, { filters: parseFilters(filters) })
    const days = readDays(q)
    const grouped = await run(groupedSumsSql(q, asks, days, new Params(), true))
    // the live path reads the branches unmerged and adds them up itself: the same rows; over
    // days without an event outside a visit (range A), without the branch that counts those
    expect(byDay(addedUp(await runUnmerged(groupedSumsSql(q, asks, days, new Params(), true, { merged: false }))))).toEqual(byDay(grouped))
    if (range === RANGE_A) expect(byDay(addedUp(await runUnmerged(groupedSumsSql(q, asks, days, new Params(), true, { merged: false, visitless: false }))))).toEqual(byDay(grouped))
    const masks = groupMasks(asks)
    const bySet = asks.map((): SumsRow[] => [])
    // a row of a set with a condition is of the visits meeting it (c = 1) or not (c = 0)
    for (const { g, c, ...r } of grouped) if (c === 1) bySet[masks.indexOf(Number(g))].push(r)
    let compared = 0
    for (const [i, a] of asks.entries()) {
      const own = { ...q, property: a.prop ?? undefined, interval: a.interval, filters: [...q.filters, ...(a.conds ?? [])] }
      const alone = await run(sumsSql(own, days, new Params(), null, true))
      if (i % 5 === 0) expect(byDay(addedUp(await runUnmerged(sumsSql(own, days, new Params(), null, true, { merged: false }))))).toEqual(byDay(alone))
      expect(byDay(bySet[i]), `${a.prop?.dim ?? 'totals'} ${a.interval ?? ''} ${a.conds?.map((f) => f.name).join(';') ?? ''}`).toEqual(byDay(alone))
      compared += alone.length
    }
    expect(compared).toBeGreaterThan(asks.length)
  })

  /** An event property's asks: its rows, by day, under conditions on properties every event carries. */
  const eventAsks: GroupedAsk[] = [
    { prop: null }, { prop: null, interval: 'day' }, { prop: null, conds: parseFilters('browser==Firefox') },
    { prop: null, interval: 'hour', conds: parseFilters('country!=DE') }, { prop: null, conds: parseFilters('browser==Firefox;region==Bavaria') },
  ]
  it.each([
    ...['page', 'event', 'outbound', 'prop:plan'].map((name) => [name, RANGE_A, ''] as const),
    ['page', RANGE_A, 'source~goo'] as const, ['event', RANGE_B, 'page~blog'] as const, ['page', RANGE_B, ''] as const,
  ])('%s over %j under %s: each ask\'s rows are what sumsSql answers for it alone', async (name, range, filters) => {
    const q = question(range, { filters: parseFilters(filters), property: property(name)! })
    const days = readDays(q)
    const grouped = await run(groupedSumsSql(q, eventAsks, days, new Params(), true))
    expect(byDay(addedUp(await runUnmerged(groupedSumsSql(q, eventAsks, days, new Params(), true, { merged: false }))))).toEqual(byDay(grouped))
    const masks = groupMasks(eventAsks)
    const bySet = eventAsks.map((): SumsRow[] => [])
    for (const { g, c, ...r } of grouped) if (c === 1) bySet[masks.indexOf(Number(g))].push(r)
    for (const [i, a] of eventAsks.entries()) {
      const alone = await run(sumsSql({ ...q, interval: a.interval, filters: [...q.filters, ...(a.conds ?? [])] }, days, new Params(), null, true))
      expect(byDay(bySet[i]), `${a.interval ?? ''} ${a.conds?.map((f) => f.name).join(';') ?? ''}`).toEqual(byDay(alone))
      expect(alone.length).toBeGreaterThan(0)
    }
  })

  /**
   * Asks that each have conditions (a question under two filters and its neighbours without
   * each, R3, and one more): the rows none of them keeps are left out of the read (keptByAny).
   */
  const condAsks: GroupedAsk[] = [
    { prop: null, conds: parseFilters('browser==Firefox;country!=DE') }, { prop: null, conds: parseFilters('browser==Firefox') },
    { prop: null, conds: parseFilters('country!=DE') }, { prop: null, interval: 'day', conds: parseFilters('source~goo') },
  ]
  /** Asks that differ in their conditions alone, one without any: each row stands for each ask it is one of (groupingSets, by ARRAY JOIN; condAsks too, whose buckets differ). */
  const neighbourAsks: GroupedAsk[] = [
    { prop: null, conds: parseFilters('source~goo;country!=DE') }, { prop: null, conds: parseFilters('country!=DE') },
    { prop: null, conds: parseFilters('source~goo') }, { prop: null },
  ]
  /** Asks that differ in their conditions alone, every one by the same buckets (R3's neighbours of a series, their totals taken from their buckets: bucketTotals). */
  const bucketAsks: GroupedAsk[] = [
    { prop: null, interval: 'day', conds: parseFilters('source~goo;country!=DE') }, { prop: null, interval: 'day', conds: parseFilters('country!=DE') },
    { prop: null, interval: 'day', conds: parseFilters('source~goo') },
  ]
  it.each([
    ...['page', 'outbound'].map((name) => [name, RANGE_A, ''] as const),
    ['page', RANGE_B, ''] as const, ['page', RANGE_A, 'os!=Nobody'] as const, [null, RANGE_A, ''] as const, ['source', RANGE_A, 'page~blog'] as const, [null, RANGE_B, ''] as const,
  ])('%s over %j under %s, asks with conditions: each ask\'s rows are what sumsSql answers for it alone, the rows no ask keeps left out', async (name, range, filters) => {
    for (const [lean, list] of [[true, condAsks], [undefined, condAsks], [true, neighbourAsks], [undefined, neighbourAsks], [true, neighbourAsks.slice(0, 3)], [true, bucketAsks], [undefined, bucketAsks]] as const) {
      const q = question(range, { filters: parseFilters(filters), property: name === null ? undefined : property(name)!, lean })
      const days = readDays(q)
      const asks = name !== null && PROPERTIES[name].level === 'visit' ? list.map((a) => ({ ...a, prop: PROPERTIES[name] as VisitProperty })) : list
      const sql = groupedSumsSql(q, asks, days, new Params(), true)
      // every ask with conditions: the rows none keeps are not read; half of the asks or more with
      // conditions (differing in them alone, or in their buckets too): each row once an ask it is one of
      if (asks.every((a) => a.conds)) expect(sql.sql).toMatch(/_g\d+ OR _g\d+/)
      expect(sql.sql).not.toContain('GROUPING SETS')
      expect(sql.sql).toContain('ARRAY JOIN arrayFilter((g, m) -> m != 0')
      const grouped = await run(sql)
      expect(byDay(addedUp(await runUnmerged(groupedSumsSql(q, asks, days, new Params(), true, { merged: false }))))).toEqual(byDay(grouped))
      const masks = groupMasks(asks)
      const bySet = asks.map((): SumsRow[] => [])
      for (const { g, c, ...r } of grouped) if (c === 1) bySet[masks.indexOf(Number(g))].push(r)
      for (const [i, a] of asks.entries()) {
        const own = { ...q, property: a.prop ?? q.property, interval: a.interval, filters: [...q.filters, ...(a.conds ?? [])] }
        const alone = await run(sumsSql(own, days, new Params(), null, true))
        expect(byDay(bySet[i]), `${lean} ${a.interval ?? ''} ${a.conds?.map((f) => f.name).join(';') ?? ''}`).toEqual(byDay(alone))
        expect(alone.length).toBeGreaterThan(0)
      }
    }
  })

  // (not two filters of one value each: `browser==Firefox` alone is answered from the held cubes)
  it.each(['browser!=Safari;country!=DE', 'source~goo;country!=DE'])(
    'a lean page breakdown under %s and its neighbours without each filter, asked at once: one read of the events, each answered as asked alone',
    async (two) => {
      const sums: string[] = []
      const counting = seeingQueries((sql, run) => (sql.includes('event_counts') || sums.push(sql), run()))
      const [a, b] = parseFilters(two)
      const asked = [[a, b], [a], [b]].map((filters) => question(RANGE_A, { filters, property: PROPERTIES.page, lean: true }))
      const atOnce = await Promise.all(asked.map((q) => querySums(counting, q)))
      expect(sums.filter((sql) => sql.includes('pathname'))).toHaveLength(1)
      expect(sums.filter((sql) => isGrouped(sql) && sql.includes('pathname'))).toHaveLength(1)
      // asked alone (a filter more that every visit meets, so that nothing kept above is given back)
      for (const [i, q] of asked.entries()) expect(sorted(atOnce[i])).toEqual(sorted(await querySums(fx.client, { ...q, filters: [...parseFilters('os!=Nobody'), ...q.filters] })))
    },
  )

  // R3's neighbours of a page panel under two filters, on what a visit holds (an event sent, a link),
  // on its first event (the source) or carried by every event (the browser): only their visitors are compared
  const NEIGHBOURS = ['event==Signup;source~goo', 'outbound~example.org;browser!=Safari', 'event==Signup;country!=DE']
  const visitorsOf = (rs: SumsRow[]) => Object.fromEntries(rs.filter((r) => r.visitors > 0).map((r) => [`${r.key}\u0000${r.day ?? ''}`, r.visitors]))
  it.each(NEIGHBOURS.flatMap((two) => [[two, 'A', RANGE_A], [two, 'B', RANGE_B]] as const))(
    'a page breakdown\'s neighbours asked for their visitors alone (visitorsOnly) under %s, range %s: read together, each one\'s visitors as asked in full',
    async (two, _, range) => {
      const sums: string[] = []
      const counting = seeingQueries((sql, run) => (sql.includes('event_counts') || sums.push(sql), run()))
      const [a, b] = parseFilters(two)
      const asked = [[a], [b]].map((filters) => question(range, { filters, property: PROPERTIES.page, lean: true, visitorsOnly: true }))
      const atOnce = await Promise.all(asked.map((q) => querySums(counting, q)))
      // the days read are not whole UTC days in Berlin: the visits holding each page, in one read, and no read of the events besides
      expect(sums.filter((sql) => sql.includes('pathname'))).toHaveLength(0)
      expect(sums.filter((sql) => /ARRAY JOIN pages AS held/.test(sql))).toHaveLength(1)
      expect(sums.filter((sql) => isGrouped(sql) && /ARRAY JOIN pages AS held/.test(sql))).toHaveLength(1)
      for (const [i, q] of asked.entries()) {
        // in full, alone (a filter more that every visit meets, so that nothing kept above is given back)
        const full = await querySums(fx.client, { ...q, visitorsOnly: undefined, filters: [...parseFilters('os!=Nobody'), ...q.filters] })
        expect(visitorsOf(atOnce[i]), q.filters[0].name).toEqual(visitorsOf(full))
        expect(Object.keys(visitorsOf(full)).length).toBeGreaterThan(1)
      }
    },
  )
  // whole UTC days in UTC (a live day's read: leanHeld): the days' pageviews in visits, once for both
  it.each(NEIGHBOURS.flatMap((two) => [[two, ['2030-10-27', '2030-10-28']], [two, ['2030-10-29']]] as const))(
    'and over whole UTC days in UTC, under %s, %s: one read of the pageviews in visits, each one\'s visitors as read alone in full',
    async (two, days) => {
      const range = { from: Date.parse(`${days[0]}T00:00:00Z`), to: Date.parse(`${days[days.length - 1]}T00:00:00Z`) + 86_400_000 }
      const q = { ...question(range, { property: PROPERTIES.page, lean: true, visitorsOnly: true }), timezone: 'UTC' }
      const asks: GroupedAsk[] = parseFilters(two).map((f) => ({ prop: null, conds: [f] }))
      const sql = groupedSumsSql(q, asks, [...days], new Params(), true, { merged: false })
      expect(sql.sql).toContain("name = 'pageview' AND visit_id != 0")
      expect(sql.sql).not.toMatch(/\(engagement_ms|scroll_depth|FROM visits FINAL/)
      expect(sql.sql).toContain('ARRAY JOIN arrayFilter((g, m) -> m != 0')
      const grouped = addedUp(await runUnmerged(sql))
      const masks = groupMasks(asks)
      for (const [i, a] of asks.entries()) {
        const mine = grouped.filter((r) => Number(r.c) === 1 && masks.indexOf(Number(r.g)) === i)
        const alone = await runUnmerged(sumsSql({ ...q, visitorsOnly: undefined, filters: [...a.conds!] }, [...days], new Params(), null, true, { merged: false }))
        expect(visitorsOf(mine), a.conds![0].name).toEqual(visitorsOf(addedUp(alone)))
        expect(Object.keys(visitorsOf(mine)).length).toBeGreaterThan(1)
        expect(mine.every((r) => Number(r.pageviews) === 0 && Number(r.engagement_ms) === 0)).toBe(true)
      }
    },
  )

  // the channel panel (asked with its bounce rate, in full) under two filters: R3's neighbours of it ask
  // their visitors alone (lean), beside their totals asked in full
  it.each(['event==Signup;source!=Newsletter', 'outbound~example.org;browser!=Safari'])(
    'a visit property\'s neighbours asked for their visitors alone under %s join the reads of their totals in full: no read of their own, each answered as asked alone',
    async (two) => {
      const sums: string[] = []
      const counting = seeingQueries((sql, run) => (sql.includes('event_counts') || sums.push(sql), run()))
      const [a, b] = parseFilters(two)
      const full = [[a, b], [a], [b]].flatMap((filters) => [undefined, PROPERTIES.channel].map((property) => question(RANGE_A, { filters, property })))
      const lean = [[a], [b]].map((filters) => question(RANGE_A, { filters, property: PROPERTIES.channel, lean: true }))
      const atOnce = await Promise.all([...full, ...lean].map((q) => querySums(counting, q)))
      // every read of the channels is a grouped one, with totals in full beside them
      const channels = sums.filter((sql) => sql.includes('channel'))
      expect(channels.length, sums.join('\n---\n')).toBeGreaterThan(0)
      expect(channels.every((sql) => isGrouped(sql) && sql.includes('sum(pageviews)')), sums.join('\n---\n')).toBe(true)
      // asked alone (a filter more that every visit meets, so that nothing kept above is given back)
      const alone = (q: StatsQuestion) => querySums(fx.client, { ...q, filters: [...parseFilters('os!=Nobody'), ...q.filters] })
      for (const [i, q] of full.entries()) expect(sorted(atOnce[i])).toEqual(sorted(await alone(q)))
      for (const [i, q] of lean.entries()) {
        const mine = visitorsOf(atOnce[full.length + i])
        expect(mine).toEqual(visitorsOf(await alone(q)))
        expect(Object.keys(mine).length).toBeGreaterThan(1)
      }
    },
  )

  it('asked in one turn, the reads of an event property\'s asks start before those of the totals over the visits (the longer first)', async () => {
    const sums: string[] = []
    const counting = seeingQueries((sql, run) => (sql.includes('event_counts') || sums.push(sql), run()))
    const filters = parseFilters('os!=Nobody;event==Signup')
    // the totals and the country panel asked first (one grouped read of the visits), then the outbound panel and its neighbour
    const asked = [
      question(RANGE_A, { filters }), question(RANGE_A, { filters, property: PROPERTIES.country }),
      question(RANGE_A, { filters, property: PROPERTIES.outbound }), question(RANGE_A, { filters: filters.slice(1), property: PROPERTIES.outbound }),
    ]
    const atOnce = await Promise.all(asked.map((q) => querySums(counting, q)))
    const links = sums.findIndex((sql) => sql.includes("props['url']") && /FROM events/.test(sql))
    const visits = sums.findIndex((sql) => !sql.includes("props['url']") && /FROM visits|FROM \(SELECT \*/.test(sql))
    expect(links, sums.join('\n---\n')).toBeGreaterThanOrEqual(0)
    expect(visits, sums.join('\n---\n')).toBeGreaterThan(links)
    for (const [i, q] of asked.entries()) expect(sorted(atOnce[i])).toEqual(sorted(await querySums(fx.client, { ...q, filters: [...parseFilters('device!=Nothing'), ...q.filters] })))
  })

  it('a grouped read that fails leaves each question to be read alone', async () => {
    const failing = seeingQueries((sql, run) => (isGrouped(sql) ? Promise.reject(new Error('memory limit (for the test)')) : run()))
    const asked = [undefined, PROPERTIES.country].map((property) => question(RANGE_A, { filters: parseFilters('device!=Nothing'), property }))
    const atOnce = await Promise.all(asked.map((q) => querySums(failing, q)))
    for (const [i, q] of asked.entries()) expect(sorted(atOnce[i])).toEqual(sorted(await querySums(fx.client, { ...q, filters: parseFilters('device!=Nothing|None') })))
  })

  it('querySums asked at once for several of them reads the visits once, and answers each as asked alone', async () => {
    const sums: string[] = []
    const counting = seeingQueries((sql, run) => (sql.includes('event_counts') || sums.push(sql), run()))
    // not the rollup's (a filter), so every day is read from visits and events
    const asked = [
      ...[undefined, PROPERTIES.country, PROPERTIES.browser, PROPERTIES.source, PROPERTIES.entry_page].map((property) => question(RANGE_A, { filters: parseFilters('os!=Nobody'), property })),
      ...(['day', 'hour'] as const).map((interval) => question(RANGE_A, { filters: parseFilters('os!=Nobody'), interval })),
      // and with filters on visit properties more (the questions whose neighbours those are)
      ...[undefined, PROPERTIES.source].map((property) => question(RANGE_A, { filters: parseFilters('os!=Nobody;browser==Firefox'), property })),
      ...[undefined, PROPERTIES.device].map((property) => question(RANGE_A, { filters: parseFilters('os!=Nobody;browser==Firefox;country!=DE'), property })),
    ]
    // an event-name breakdown and its neighbour without a filter every event carries: one read of their own;
    // a page breakdown and its neighbour: a read each (runLiveBatch)
    const held = (property: (typeof PROPERTIES)[string]) => [parseFilters('os!=Nobody'), parseFilters('os!=Nobody;browser==Firefox')].map((filters) => question(RANGE_A, { filters, property }))
    const [events, pages] = [held(PROPERTIES.event), held(PROPERTIES.page)]
    const all = [...asked, ...events, ...pages]
    const atOnce = await Promise.all(all.map((q) => querySums(counting, q)))
    // (each branch of a read is asked as a read of its own: branchRows) the visit properties' asks
    // in one read of the visits; the event names' in one grouped read, its branches over the
    // visits and over the events; the pages' a read each, likewise in two branches (what the
    // visits hold, the events)
    expect(sums.filter((sql) => sql.includes('GROUPING SETS') && sql.includes('grouping(country'))).toHaveLength(1)
    expect(sums.filter(isGrouped)).toHaveLength(3)
    expect(sums.filter((sql) => !isGrouped(sql) && sql.includes('pathname'))).toHaveLength(2)
    expect(sums.filter((sql) => !isGrouped(sql) && /ARRAY JOIN [\w.]+ AS held/.test(sql))).toHaveLength(2)
    expect(sums).toHaveLength(7)
    for (const [i, q] of all.entries()) expect(sorted(atOnce[i])).toEqual(sorted(await querySums(fx.client, { ...q, filters: [...parseFilters('os!=Nobody|Nothing'), ...q.filters.slice(1)] })))
  })
})

describe('a breakdown in stages (inOneLook)', () => {
  it('counts "(other)" from the look at the days its rows were read with: the days are looked up once', async () => {
    const looked: string[] = []
    const seeing = seeingQueries((sql, run) => (sql.includes('event_counts') && looked.push(sql), run()))
    const range = { ...RANGE_A, previous: { from: 2 * RANGE_A.from - RANGE_A.to, to: RANGE_A.from }, label: 'range A' }
    const ask = (k: number) => breakdown(seeing, { site: SITE, timezone: TZ, filters: [], limits: { k, kn: 1 } }, range, 'page', property('page')!, ['visitors'], 10)
    // k one above the smallest page's visitors: that page is folded into "(other)", counted after the rows
    const visitors = (await ask(1)).results.map((r) => Number(r.visitors))
    looked.length = 0
    const got = await ask(Math.min(...visitors) + 1)
    expect(got.results.map((r) => r.page)).toContain('(other)')
    expect(looked).toHaveLength(1)
    // outside one answer each question looks for itself: the same answer, the days looked up again
    const again = await ask(Math.min(...visitors) + 1)
    expect(again).toEqual(got)
    expect(looked).toHaveLength(2)
  })

  it('keeps its storage enabled only while answers in stages are being worked out', async () => {
    const range = { ...RANGE_A, previous: { from: 2 * RANGE_A.from - RANGE_A.to, to: RANGE_A.from }, label: 'range A' }
    let open = () => {}
    const gate = new Promise<void>((done) => (open = done))
    // b's questions wait at the gate: a is answered while b is still being worked out
    const held = seeingQueries(async (_sql, run) => (await gate, run()))
    const ask = (client: ClickHouseClient) => breakdown(client, { site: SITE, timezone: TZ, filters: [], limits: { k: 1, kn: 1 } }, range, 'page', property('page')!, ['visitors'], 10)
    const b = ask(held)
    await ask(fx.client)
    expect(await promisesTracked()).toBe(true)
    open()
    await b
    expect(await promisesTracked()).toBe(false)
  })
})

describe('filters (sumsSql)', () => {
  it('values go in as parameters, never into the SQL text; no filter, no filter value', () => {
    const plain = sumsSql(question(RANGE_A), ['2030-10-27'])
    // the one list among the parameters is the days read
    expect(Object.values(plain.params).filter(Array.isArray)).toEqual([['2030-10-27']])
    const { sql, params } = sumsSql(question(RANGE_A, { filters: parseFilters("browser==Zq'1;page~/zq2;event!=Zq3;prop:plan==Zq4") }), ['2030-10-27'])
    expect(sql).not.toMatch(/zq/i)
    expect(Object.values(params)).toEqual(expect.arrayContaining([["Zq'1"], ['/zq2'], ['Zq3'], ['Zq4'], 'plan']))
  })

  it('a filter on the property broken down keeps its values; the others pick visits', async () => {
    const got = await querySums(fx.client, question(RANGE_A, { property: PROPERTIES.page, filters: parseFilters('browser==Firefox;page==/docs|/about') }))
    const want = model({ range: RANGE_A, property: 'page', visit: (v) => dim(v.first, 'browser') === 'Firefox', keys: (k) => ['/docs', '/about'].includes(k) })
    expect(want.map((x) => x.key)).toEqual(['/about', '/docs'])
    expect(sorted(got)).toEqual(want)
  })

  const visitHas = (pred: (e: EventSpec) => boolean) => (v: Visit) => v.events.some(pred)
  const FILTERS: [string, (v: Visit) => boolean][] = [
    ['browser==Firefox', (v) => dim(v.first, 'browser') === 'Firefox'],
    ['country!=DE', (v) => dim(v.first, 'country') !== 'DE'],
    ['country==FR|US', (v) => ['FR', 'US'].includes(dim(v.first, 'country'))],
    ['region==Bavaria', (v) => dim(v.first, 'region') === 'Bavaria'],
    ['source~goo', (v) => dim(v.first, 'source').toLowerCase().includes('goo')],
    ['entry_page==/pricing', (v) => v.entry === '/pricing'],
    ['page==/docs', visitHas((e) => kind(e) === 'pageview' && e.path === '/docs')],
    ['page!=/docs', (v) => !v.events.some((e) => kind(e) === 'pageview' && e.path === '/docs')],
    ['page~blog', visitHas((e) => kind(e) === 'pageview' && (e.path ?? '').includes('blog'))],
    ['event==Signup', visitHas((e) => e.name === 'Signup')],
    ['browser==Chrome;page==/', (v) => dim(v.first, 'browser') === 'Chrome' && v.events.some((e) => kind(e) === 'pageview' && e.path === '/')],
    // fixed by the rewrite: these went through (visitor_id, day) and picked every visit of the visitor that day;
    // 9006 has two visits on the 28th, only the second with the Signup{plan: enterprise} and the click
    ['prop:plan==enterprise', visitHas((e) => e.props?.plan === 'enterprise')],
    ['outbound==https://example.org/only-9006', visitHas((e) => e.props?.url === 'https://example.org/only-9006')],
  ]
  for (const [raw, pred] of FILTERS) {
    it(`${raw}: the visits it selects, with their sums`, async () => {
      const got = await querySums(fx.client, question(RANGE_A, { filters: parseFilters(raw) }))
      expect(got).toEqual(model({ range: RANGE_A, visit: pred }))
    })
  }

  it('the filters over range B take events without a visitor hash as visits of their own', async () => {
    for (const [raw, pred] of FILTERS) {
      const got = await querySums(fx.client, question(RANGE_B, { filters: parseFilters(raw) }))
      expect(got, raw).toEqual(model({ range: RANGE_B, visit: pred }))
    }
  })

  // A filter on what every event of a visit carries (country, browser…: `onEveryEvent`) is checked
  // on the events themselves, the others through their visits: both pick the events of the visits selected.
  const EVENT_PROPERTIES = ['page', 'event', 'outbound', 'prop:plan']
  it('an event property broken down under each filter: the events of the visits it selects, over ranges A and B', async () => {
    for (const range of [RANGE_A, RANGE_B]) {
      for (const [raw, pred] of FILTERS) {
        for (const name of EVENT_PROPERTIES.filter((n) => !raw.split(';').some((f) => f.startsWith(n)))) {
          const got = sorted(await querySums(fx.client, question(range, { property: property(name)!, filters: parseFilters(raw) })))
          expect(got, `${name} under ${raw}`).toEqual(model({ range, property: name, visit: pred }))
        }
      }
    }
  })

  it('an event property\'s rows of the values a filter on it picks, as one (oneKey: a "(other)"): their distinct visitors and networks, as the totals under that filter count them', async () => {
    let shared = 0
    for (const range of [RANGE_A, RANGE_B]) {
      for (const raw of ['', 'country!=DE', 'event==Signup;browser!=Safari']) {
        for (const [name, pick] of [['outbound', 'outbound==https://example.org/|https://example.net/x'], ['prop:plan', 'prop:plan==pro|free|enterprise']] as const) {
          const filters = parseFilters([raw, pick].filter(Boolean).join(';'))
          const [one, rows, total] = await Promise.all([
            querySums(fx.client, question(range, { property: property(name)!, filters, oneKey: true })),
            querySums(fx.client, question(range, { property: property(name)!, filters })),
            querySums(fx.client, question(range, { filters })),
          ])
          const visitors = (rs: SumsRow[]) => rs.reduce((n, r) => n + r.visitors, 0)
          const networks = (rs: SumsRow[]) => rs.reduce((n, r) => n + r.networks, 0)
          const what = `${name} under ${raw} over ${range === RANGE_A ? 'A' : 'B'}`
          expect(one.map((r) => r.key), what).toEqual([''])
          expect(visitors(one), what).toBe(visitors(total))
          expect(networks(one), what).toBe(networks(total))
          expect(visitors(one), what).toBeGreaterThan(0)
          // the rows' own visitors added up count a visitor with two values twice
          if (visitors(rows) > visitors(one)) shared++
        }
      }
    }
    expect(shared).toBeGreaterThan(0)
  })

  it('"(other)" of one value counts what its row counts, for every property, under the question and under each neighbour: the breakdown takes the rows for it', async () => {
    let compared = 0
    const cases = [[RANGE_A, 'country!=DE;event==Signup'], [RANGE_B, 'page==/pricing;browser!=Safari'], [RANGE_A, 'outbound~example;source!=Nowhere']] as const
    for (const [range, raw] of cases) {
      const filters = parseFilters(raw)
      for (const name of [...Object.keys(PROPERTIES), 'prop:plan']) {
        // (a filter on the property itself: the union is counted without it, and the breakdown reads it)
        if (filters.some((f) => f.name === name)) continue
        const prop = property(name)!
        const leanable = (prop.level === 'event' && prop.visitArray !== undefined) || prop.level === 'visit'
        // (a page's or an event name's visits asked: otherSums reads them, and the breakdown with it)
        for (const lean of leanable ? [true, false] : [false]) {
          if (prop.level === 'event' && prop.visitArray !== undefined && !lean) continue
          const scope: Scope = { site: SITE, timezone: TZ, filters, limits: { k: 1, kn: 5 } }
          const what = `${name}${lean ? ' (lean)' : ''} under ${raw}`
          // the question's rows and its neighbours' (R3) as breakdownOnce asks them
          const rows = await querySums(fx.client, { ...questionOf(scope, range), property: prop, ...(lean ? { lean } : {}) })
          expect(rows.length, what).toBeGreaterThan(0)
          const some = [...rows].sort((a, b) => b.visitors - a.visitors).filter((_, i, all) => i === 0 || i === all.length - 1)
          for (const r of some) {
            const shown = rows.filter((x) => x !== r).map((x) => x.key)
            const other = await otherSums(fx.client, scope, range, name, prop, [{ key: r.key, sums: r }], shown, lean)
            expect([other.visitors, other.networks], `${what}: ${r.key}`).toEqual([r.visitors, r.networks])
            compared++
          }
          for (const f of filters) {
            const without: Scope = { ...scope, filters: filters.filter((x) => x !== f) }
            const neighbour = await querySums(fx.client, { ...questionOf(without, range), property: prop, ...(leanable ? { lean: true } : {}), ...(leanable && prop.dim === 'page' ? { visitorsOnly: true } : {}) })
            const byKey = new Map(neighbour.map((r) => [r.key, r]))
            for (const r of some) {
              const other = await otherSums(fx.client, without, range, name, prop, [{ key: r.key, sums: r }], null, lean)
              expect(other.visitors, `${what} without ${f.name}: ${r.key}`).toBe(byKey.get(r.key)?.visitors ?? 0)
              compared++
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(300)
  })

  it('every property carried by every event, filtered by each of its values: the page breakdown of the visits holding it', async () => {
    const carriedNames = Object.keys(PROPERTIES).filter((n) => PROPERTIES[n].level === 'visit' && (PROPERTIES[n] as { onEveryEvent?: true }).onEveryEvent)
    expect(carriedNames).toEqual(expect.arrayContaining(['country', 'region', 'city', 'browser', 'browser_version', 'os', 'os_version', 'device', 'network']))
    // what a filter compares: a region or a city by its own name, the others as a breakdown shows them
    const compared = (name: string, v: Visit) => (name === 'region' || name === 'city' ? dim(v.first, name) : visitValue(name, v))
    for (const name of carriedNames) {
      const values = [...new Set(visitsOf(EVENTS).map((v) => compared(name, v)))].filter((x) => x !== '')
      expect(values.length, name).toBeGreaterThan(0)
      for (const value of values) {
        for (const op of ['==', '!='] as const) {
          const got = sorted(await querySums(fx.client, question(RANGE_A, { property: PROPERTIES.page, filters: [{ name, prop: property(name)!, op, values: [value], exact: true }] })))
          const want = model({ range: RANGE_A, property: 'page', visit: (v) => (compared(name, v) === value) === (op === '==') })
          expect(got, `page under ${name}${op}${value}`).toEqual(want)
        }
      }
    }
  })
})

describe('querySums: rollup and filtered path agree, and equal the model', () => {
  it('range A: visitors, visits, bounces, durations, pageviews and events of the whole range', async () => {
    const r = await bothWays(RANGE_A)
    expect([r.fastUsesRollup, r.rawUsesRollup]).toEqual([true, false])
    const want = model({ range: RANGE_A })
    expect(pickSums(r.rollup, [...VISIT_FIELDS, ...EVENT_FIELDS])).toEqual(pickSums(want, [...VISIT_FIELDS, ...EVENT_FIELDS]))
    expect(pickSums(r.filtered, [...VISIT_FIELDS, ...EVENT_FIELDS])).toEqual(pickSums(want, [...VISIT_FIELDS, ...EVENT_FIELDS]))
  })

  it('range A: the filtered path counts each engagement ping once', async () => {
    const r = await bothWays(RANGE_A)
    expect(pickSums(r.filtered, ['engagement_ms'])).toEqual(pickSums(model({ range: RANGE_A }), ['engagement_ms']))
  })

  // issue 11 ("unfiltered time_on_page counts engagement twice"), fixed by the rewrite
  it('range A: the rollup counts each engagement ping once (time_on_page)', async () => {
    const r = await bothWays(RANGE_A)
    expect(pickSums(r.rollup, ['engagement_ms'])).toEqual(pickSums(model({ range: RANGE_A }), ['engagement_ms']))
    expect(metricValue(r.rollup[0], 'time_on_page')).toBe(metricValue(r.filtered[0], 'time_on_page'))
  })

  it('per day (over the 25-hour day too): visitors, visits, bounces and durations, each day both ways', async () => {
    const r = await bothWays(RANGE_A, { interval: 'day' })
    const want = model({ range: RANGE_A, interval: 'day' })
    expect(want.map((x) => x.bucket)).toEqual(['2030-10-26', '2030-10-27', '2030-10-28'])
    expect(visitPart(r.rollup)).toEqual(visitPart(want))
    expect(visitPart(r.filtered)).toEqual(visitPart(want))
  })

  // fixed by the rewrite: the filtered path took pageviews from `visits` and the rollup from events
  it('per day: both paths put pageviews and events on the same day', async () => {
    const r = await bothWays(RANGE_A, { interval: 'day' })
    expect(pickSums(r.filtered, EVENT_FIELDS)).toEqual(pickSums(r.rollup, EVENT_FIELDS))
  })

  // 9001's pageview at 00:05 on the 27th counts on the 26th, with its visit
  it('per day: a visit\'s pageviews and events count on the day it started, both ways', async () => {
    const r = await bothWays(RANGE_A, { interval: 'day' })
    const want = pickSums(model({ range: RANGE_A, interval: 'day' }), EVENT_FIELDS)
    expect(pickSums(r.rollup, EVENT_FIELDS)).toEqual(want)
    expect(pickSums(r.filtered, EVENT_FIELDS)).toEqual(want)
  })

  it('per hour (no rollup: both read visits), over the hour that happens twice on the 27th', async () => {
    const range = { from: MIDNIGHT['2030-10-27'], to: MIDNIGHT['2030-10-28'] }
    const unfiltered = sorted(await querySums(fx.client, question(range, { interval: 'hour' })))
    const filtered = sorted(await querySums(fx.client, question(range, { interval: 'hour', filters: ALL })))
    const want = model({ range, interval: 'hour' })
    // 9002's two visits and 9003's: 02:30 summer time and 02:30 winter time are one local hour, 2 visitors
    const dst = SPECIAL.filter((e) => e.visitor === 9002 || e.visitor === 9003)
    expect(pickSums(model({ range, interval: 'hour', events: dst }), ['visits', 'visitors'])).toEqual([{ key: '', bucket: '2030-10-27 02:00:00', visits: 3, visitors: 2 }])
    expect(visitPart(unfiltered)).toEqual(visitPart(want))
    // both read visits and events here, so they agree on every sum
    expect(filtered).toEqual(unfiltered)
  })

  // fixed by the rewrite: hour buckets were toStartOfHour in UTC, printed in the site's zone
  it('per hour in a half-hour time zone: a visit at 16:15 in Kolkata is in the 16:00 bucket', async () => {
    const range = { from: Date.UTC(2030, 9, 27, 18, 30), to: Date.UTC(2030, 9, 28, 18, 30) }
    const got = await querySums(fx.client, { site: KOLKATA_SITE, timezone: 'Asia/Kolkata', range, filters: [], interval: 'hour' })
    const want = model({ range, interval: 'hour', tz: 'Asia/Kolkata', events: KOLKATA_EVENTS })
    expect(want.map((x) => x.bucket)).toEqual(['2030-10-28 15:00:00', '2030-10-28 16:00:00'])
    expect(visitPart(sorted(got))).toEqual(visitPart(want))
  })

  // fixed by the rewrite: the filtered path read pageviews and events from `visits` alone, so
  // events without a visitor hash (2 pageviews, 4 events on the 29th) were dropped
  it('range B (events without a visitor hash): pageviews and events are the same both ways', async () => {
    const r = await bothWays(RANGE_B)
    const want = model({ range: RANGE_B })
    expect(pickSums(r.rollup, EVENT_FIELDS)).toEqual(pickSums(want, EVENT_FIELDS))
    expect(pickSums(r.filtered, EVENT_FIELDS)).toEqual(pickSums(want, EVENT_FIELDS))
  })

  it('range B: visit sums are the same both ways (unhashed events make no visits)', async () => {
    const r = await bothWays(RANGE_B)
    const want = model({ range: RANGE_B })
    expect(visitPart(r.rollup)).toEqual(visitPart(want))
    expect(visitPart(r.filtered)).toEqual(visitPart(want))
  })
})

describe('querySums per property: rollup and filtered path agree, and equal the model', () => {
  // new_vs_returning is fixed by the rewrite (issue 11: the rollup stored the literal 'v.returning')
  const names = [...Object.keys(PROPERTIES), 'prop:plan', 'prop:kind']
  for (const name of names) {
    it(`${name} over range A`, async () => {
      const prop = property(name)!
      const r = await bothWays(RANGE_A, { property: prop })
      const want = model({ range: RANGE_A, property: name })
      expect(want.length).toBeGreaterThan(0)
      expect(r.rollup).toEqual(want)
      expect(r.filtered).toEqual(want)
    })
  }

  // fixed by the rewrite: with a filter, events were kept only when their (visitor_id, day) was in
  // `visits`, so the unhashed ones were dropped
  it('page, event and outbound over range B (events without a visitor hash) agree', async () => {
    for (const name of ['page', 'event', 'outbound']) {
      const r = await bothWays(RANGE_B, { property: property(name)! })
      const want = model({ range: RANGE_B, property: name })
      expect(r.rollup, name).toEqual(want)
      expect(r.filtered, name).toEqual(want)
    }
  })

  // New definition: an unhashed event counts in the pageviews and events of its own value's row
  it('visit properties over range B agree (unhashed events are in no visit either way)', async () => {
    for (const name of ['browser', 'entry_page', 'country']) {
      const r = await bothWays(RANGE_B, { property: property(name)! })
      const want = model({ range: RANGE_B, property: name })
      expect(r.rollup, name).toEqual(want)
      expect(r.filtered, name).toEqual(want)
    }
  })

  // issue 11 ("property=page&metrics=bounce_rate answers 0 for every page"), fixed by the rewrite:
  // a page's bounce rate is that of the visits that entered on it (Plausible's definition)
  it('a page’s bounce rate is that of the visits entering on it, both ways', async () => {
    const r = await bothWays(RANGE_A, { property: PROPERTIES.page })
    const entries = model({ range: RANGE_A, property: 'entry_page' })
    const rate = (rows: SumsRow[], page: string) => metricValue(rows.find((x) => x.key === page)!, 'bounce_rate')
    expect(entries.filter((x) => x.key !== '').length).toBeGreaterThan(3)
    for (const e of entries.filter((x) => x.key !== '')) {
      const want = metricValue(e, 'bounce_rate')
      expect(rate(r.rollup, e.key), e.key).toBe(want)
      expect(rate(r.filtered, e.key), e.key).toBe(want)
    }
  })
})
