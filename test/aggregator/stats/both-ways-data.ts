/**
 * The synthetic traffic of both-ways.test.ts: example.com in Berlin over three local days. Every
 * event goes through the collector's pipeline: today's as beacons (`POST /api/event`, stamped
 * with the server clock), the two days before as one batch of past beacons through the seed
 * route (`POST /api/v1/admin/events`, each with its time). Nothing is written into the store
 * by hand, so the data means the same to any statistics engine behind the API.
 * Every visitor is made up and has its own documentation-range /48 (`2001:db8:<n>::1`); those
 * addresses locate nowhere, so country, region, city and network stay empty.
 * Also here: what was sent, kept as the test's own record, and the numbers that follow from it
 * by the README's definitions, so the engine is checked against something it did not compute.
 */

import { awayFromMidnight } from '../../helpers/midnight.ts'
import { utcDay } from '../../../store/time.ts'

export const SITE = 'example.com'
/** Berlin; `both-ways-utc.test.ts` runs the same comparisons for a site in UTC (BOTH_WAYS_TZ), where today's live reads take their one-day shortcuts. */
export const TZ = process.env.BOTH_WAYS_TZ ?? 'Europe/Berlin'
export const VISIT_TIMEOUT_MINUTES = 30

/** Nothing withheld or folded (k = 1), every dimension and event kind kept, returning visitors recorded, GPC counted without a hash. */
export const POLICY_YAML = `version: 1
name: Both ways (test)
defaults:
  events:
    kinds: [pageview, engagement, outbound, download, click, custom]
    custom_names: ["*"]
  dimensions:
    [path, referrer_host, referrer_path, source, channel, utm,
     browser, browser_version, os, os_version, device, screen,
     country, region, city, network]
  props: ["*"]
  query_params: ["utm_*"]
  last_visit_day: true
  consent:
    dnt: ignore
    gpc: count_without_hash
  bots: drop
  min_visitors:
    dashboard: 1
    shared: 1
    export: 1
  visit_timeout_minutes: ${VISIT_TIMEOUT_MINUTES}
`

// ---- time in the site's zone ------------------------------------------------------------------

/** The zone's offset from UTC at an instant, in ms (written here, not imported: the engine's own helpers are under test). */
function offsetAt(ms: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: TZ, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms))
  const p = Object.fromEntries(parts.map((x) => [x.type, Number(x.value)]))
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000
}

/** The local calendar date of an instant. */
export function localDate(ms: number): string {
  return utcDay(ms + offsetAt(ms))
}

/** A local wall-clock time on a local date, as UTC ms. */
export function localTime(date: string, h: number, m = 0, s = 0): number {
  const guess = Date.parse(`${date}T00:00:00Z`) + ((h * 60 + m) * 60 + s) * 1000
  return guess - offsetAt(guess - offsetAt(guess))
}

const addDays = (date: string, n: number) => utcDay(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000)

/**
 * Today's beacons must land on TODAY, and each visitor's under one daily salt (it changes at
 * midnight UTC): a run that would start in the last minutes of a day, in Berlin or in UTC, waits
 * for the next one before naming it (the beacons are sent within a minute or two of this).
 */
await awayFromMidnight({ before: 3 * 60_000, zones: [TZ, 'UTC'] })

/** Today in Berlin (beacons land now) and the two days before it (sent as past beacons). */
export const TODAY = localDate(Date.now())
export const DAYS = [addDays(TODAY, -2), addDays(TODAY, -1), TODAY] as const

// ---- who visits, from where, doing what -------------------------------------------------------

/** Real browser strings with what the collector's parser makes of them (checked with ua-parser-js v2), and a screen width. */
export const CLIENTS = [
  { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', browser: 'Chrome', width: 1920 },
  { ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', browser: 'Safari', width: 1280 },
  { ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0', browser: 'Firefox', width: 1366 },
  { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', browser: 'Mobile Safari', width: 390 },
  { ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', browser: 'Mobile Chrome', width: 412 },
  { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', browser: 'Edge', width: 2560 },
  { ua: 'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1', browser: 'Mobile Safari', width: 820 },
  { ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:132.0) Gecko/20100101 Firefox/132.0', browser: 'Firefox', width: 1440 },
] as const
export type Client = (typeof CLIENTS)[number]

/** How a visit arrives: nothing (direct), a search engine, a tagged newsletter link, a referring site. */
const ENTRIES = [
  { referrer: '', query: '' },
  { referrer: 'https://www.google.com/', query: '' },
  { referrer: '', query: '?utm_source=newsletter&utm_medium=email&utm_campaign=winter&utm_content=top&utm_term=stats' },
  { referrer: 'https://example.net/links', query: '' },
]
type Entry = (typeof ENTRIES)[number]

/** One thing a visitor does, `at` seconds into the visit. */
interface Step {
  at: number
  name: string
  page: string
  props?: Record<string, string>
  engagementMs?: number
  /** An engagement ping's deepest scroll, in percent (Plausible's `sd`). */
  scrollDepth?: number
}
const pv = (at: number, page: string): Step => ({ at, name: 'pageview', page })
const ev = (at: number, page: string, name: string, props: Record<string, string>): Step => ({ at, name, page, props })
const eng = (at: number, page: string, engagementMs: number, scrollDepth?: number): Step => ({ at, name: 'engagement', page, engagementMs, ...(scrollDepth === undefined ? {} : { scrollDepth }) })

const OUTBOUND = 'https://example.net/partner?ref=example.com'
const DOWNLOAD = 'https://example.com/files/guide.pdf'

/** Visits, each a few minutes long: bounces (one with an engagement ping, which is no interaction), browsing, conversions, clicks out, downloads. */
const JOURNEYS: Step[][] = [
  [pv(0, '/')],
  [pv(0, '/blog/a'), eng(50, '/blog/a', 45_000, 40)],
  [pv(0, '/'), pv(60, '/pricing'), pv(200, '/docs'), eng(260, '/docs', 30_000, 75)],
  [pv(0, '/'), pv(90, '/pricing'), pv(240, '/signup'), ev(300, '/signup', 'Signup', { plan: 'pro' }), eng(330, '/signup', 20_000)],
  [pv(0, '/pricing'), ev(40, '/pricing', 'CTA Click', { position: 'hero', plan: 'free' }), pv(70, '/signup'), ev(120, '/signup', 'Signup', { plan: 'free' })],
  [pv(0, '/blog/b'), ev(30, '/blog/b', 'Outbound Link: Click', { url: OUTBOUND })],
  [pv(0, '/docs'), ev(20, '/docs', 'File Download', { url: DOWNLOAD }), pv(180, '/docs/install'), eng(200, '/docs/install', 60_000, 100)],
  [pv(0, '/docs'), ev(15, '/docs', 'Search', { position: '2' }), pv(45, '/blog/a')],
]

export interface Visit {
  /** UTC ms; none for today's visits, which happen when the test sends them. */
  start?: number
  entry: Entry
  steps: Step[]
}

export interface Visitor {
  /** The model's name for the visitor; '' for one counted without a visitor hash. */
  key: string
  ip: string
  client: Client
  /** What the tracker reports from its last-visit day; absent: unknown. */
  returning?: 0 | 1
  /** Sends Global Privacy Control, which the policy counts without a hash. */
  gpc?: boolean
  visits: Visit[]
}

const ip = (n: number) => `2001:db8:${n.toString(16)}::1`
const returningOf = (i: number) => ([undefined, 1, 0] as const)[i % 3]

/**
 * 18 visitors on each of the two past days, spread over the day (06:00–20:59 local), and two
 * made by hand: one with two visits on a day (an hour and a half apart), and one whose visit runs
 * over local midnight (23:50 → 00:05) and who comes back 40 minutes later. The daily salt makes
 * a person a new visitor each UTC day; every visit here stays within one UTC day.
 */
function pastVisitors(): Visitor[] {
  const out: Visitor[] = []
  DAYS.slice(0, 2).forEach((day, d) => {
    for (let i = 0; i < 18; i++) {
      out.push({
        key: `past-${d}-${i}`,
        ip: ip(0x100 + 0x20 * d + i),
        client: CLIENTS[(i + d) % CLIENTS.length],
        returning: returningOf(i >> 1),
        visits: [{
          start: localTime(day, 6 + ((i * 7 + d * 3) % 15), (i * 13) % 60, (i * 17) % 60),
          entry: ENTRIES[(i * 3 + d) % ENTRIES.length],
          steps: JOURNEYS[(i + d) % JOURNEYS.length],
        }],
      })
    }
  })
  const [d2, d1] = DAYS
  out.push({
    key: 'past-twice',
    ip: ip(0x180),
    client: CLIENTS[3],
    returning: 1,
    visits: [
      { start: localTime(d1, 10, 0), entry: ENTRIES[1], steps: JOURNEYS[2] },
      { start: localTime(d1, 11, 45), entry: ENTRIES[2], steps: JOURNEYS[3] },
    ],
  })
  // Berlin's midnight is 22:00 or 23:00 UTC: all three times fall on the UTC day of d2, one salt.
  out.push({
    key: 'past-midnight',
    ip: ip(0x181),
    client: CLIENTS[2],
    returning: 0,
    visits: [
      { start: localTime(d2, 23, 50), entry: ENTRIES[3], steps: [pv(0, '/'), pv(15 * 60, '/')] },
      { start: localTime(d1, 0, 45), entry: ENTRIES[0], steps: [pv(0, '/'), ev(60, '/', 'Search', { position: '1' })] },
    ],
  })
  return out
}

export const PAST_VISITORS = pastVisitors()

/** 16 visitors today, and two who send Global Privacy Control (counted, not hashed), on pages others view too. */
export const TODAY_VISITORS: Visitor[] = [
  ...Array.from({ length: 16 }, (_, i): Visitor => {
    const n = i + 1
    return {
      key: `today-${n}`,
      ip: ip(n),
      client: CLIENTS[n % CLIENTS.length],
      returning: returningOf(n),
      visits: [{ entry: ENTRIES[n % ENTRIES.length], steps: JOURNEYS[(n * 5) % JOURNEYS.length] }],
    }
  }),
  { key: '', ip: ip(0x200), client: CLIENTS[0], gpc: true, visits: [{ entry: ENTRIES[0], steps: [pv(0, '/')] }] },
  { key: '', ip: ip(0x201), client: CLIENTS[5], gpc: true, visits: [{ entry: ENTRIES[1], steps: [pv(0, '/pricing')] }] },
]

/** A visit's beacons, in order (Plausible's field names), each with the step it stands for and, for a past visit, its time. */
export function beacons(v: Visitor, visit: Visit): { body: Record<string, unknown>; step: Step; ts?: number }[] {
  return visit.steps.map((s, i) => ({
    step: s,
    ts: visit.start === undefined ? undefined : visit.start + s.at * 1000,
    body: {
      name: s.name,
      url: `https://${SITE}${s.page}${i === 0 ? visit.entry.query : ''}`,
      domain: SITE,
      ...(i === 0 && visit.entry.referrer ? { referrer: visit.entry.referrer } : {}),
      ...(s.props ? { props: s.props } : {}),
      ...(s.engagementMs ? { engagement_time: s.engagementMs } : {}),
      ...(s.scrollDepth !== undefined ? { sd: s.scrollDepth } : {}),
      ...(v.returning !== undefined ? { returning: v.returning } : {}),
      screen_width: v.client.width,
    },
  }))
}

// ---- what was sent, and what follows from it --------------------------------------------------

/** One event as the test sent it. */
export interface Sent {
  /** '' when counted without a visitor hash. */
  visitor: string
  ts: number
  name: string
  page: string
  browser: string
}

interface ModelVisit {
  visitor: string
  start: number
  browser: string
  interactions: number
  /** Its pageviews' pages, in the order they were sent (its entry page first). */
  views: string[]
}

/** Visits by the README: a visitor's run of events on one UTC day with no gap longer than the timeout; unhashed events make none. */
export function visitsOf(sent: Sent[]): ModelVisit[] {
  const byVisitor = new Map<string, Sent[]>()
  for (const e of sent.filter((x) => x.visitor !== '')) byVisitor.set(e.visitor, [...(byVisitor.get(e.visitor) ?? []), e])
  const visits: ModelVisit[] = []
  for (const events of byVisitor.values()) {
    events.sort((a, b) => a.ts - b.ts)
    let current: ModelVisit | null = null
    let last = -Infinity
    for (const e of events) {
      // the daily salt changes at midnight UTC: the visitor's hash, and so the visit, is new after it
      if (!current || e.ts - last > VISIT_TIMEOUT_MINUTES * 60_000 || utcDay(e.ts) !== utcDay(last)) {
        current = { visitor: e.visitor, start: e.ts, browser: e.browser, interactions: 0, views: [] }
        visits.push(current)
      }
      if (e.name === 'pageview') current.views.push(e.page)
      else if (e.name !== 'engagement') current.interactions++
      last = e.ts
    }
  }
  return visits
}

/** Distinct visitors per local day, summed over the days: the daily salt makes a returning person new each day. */
const dailyVisitors = (pairs: { visitor: string; ts: number }[]) => new Set(pairs.map((p) => `${localDate(p.ts)}|${p.visitor}`)).size

const isBounce = (v: ModelVisit) => v.views.length <= 1 && v.interactions === 0

export interface ModelNumbers {
  visitors: number
  visits: number
  pageviews: number
}

export function modelAggregate(sent: Sent[]): ModelNumbers & { events: number; bounce_rate: number } {
  const visits = visitsOf(sent)
  return {
    visitors: dailyVisitors(visits.map((v) => ({ visitor: v.visitor, ts: v.start }))),
    visits: visits.length,
    // every stored event counts, those without a visitor hash too; engagement pings are no events
    pageviews: sent.filter((e) => e.name === 'pageview').length,
    events: sent.filter((e) => e.name !== 'engagement').length,
    bounce_rate: Math.round((visits.filter(isBounce).length / visits.length) * 100),
  }
}

/**
 * Per page: visitors who viewed it (or pinged from it) on each day, and its pageviews, unhashed
 * ones included; visits: the visits that viewed it.
 */
export function modelPages(sent: Sent[]): Map<string, ModelNumbers> {
  const out = new Map<string, ModelNumbers>()
  const visits = visitsOf(sent)
  for (const page of new Set(sent.filter((e) => e.name === 'pageview').map((e) => e.page))) {
    const on = sent.filter((e) => e.page === page && (e.name === 'pageview' || e.name === 'engagement'))
    out.set(page, {
      visitors: dailyVisitors(on.filter((e) => e.visitor !== '')),
      visits: visits.filter((v) => v.views.includes(page)).length,
      pageviews: on.filter((e) => e.name === 'pageview').length,
    })
  }
  return out
}

/**
 * Page flow of `page`: for each page viewed just before it in a visit (`(entrance)` when it
 * opened the visit) and just after it (`(exit)` when it ended it), the visitors of those
 * visits, per local day as every visitor count.
 */
export function modelFlow(sent: Sent[], page: string): { previous: Map<string, number>; next: Map<string, number> } {
  const pairs = { previous: new Map<string, { visitor: string; ts: number }[]>(), next: new Map<string, { visitor: string; ts: number }[]>() }
  const add = (d: 'previous' | 'next', key: string, v: ModelVisit) => pairs[d].set(key, [...(pairs[d].get(key) ?? []), { visitor: v.visitor, ts: v.start }])
  for (const v of visitsOf(sent)) {
    v.views.forEach((p, i) => {
      if (p !== page) return
      add('previous', v.views[i - 1] ?? '(entrance)', v)
      add('next', v.views[i + 1] ?? '(exit)', v)
    })
  }
  const count = (m: Map<string, { visitor: string; ts: number }[]>) => new Map([...m].map(([k, list]) => [k, dailyVisitors(list)]))
  return { previous: count(pairs.previous), next: count(pairs.next) }
}

/**
 * Per browser, a visit property: visitors and visits from the visits (hashed events only) in
 * which it was used; pageviews from every pageview with that browser, since an event without a
 * visitor hash "counts in pageviews but links to nothing" (README, consent.dnt), and its browser is known.
 */
export function modelBrowsers(sent: Sent[]): Map<string, ModelNumbers> {
  const out = new Map<string, ModelNumbers>()
  const visits = visitsOf(sent)
  for (const browser of new Set(sent.map((e) => e.browser))) {
    const mine = visits.filter((v) => v.browser === browser)
    out.set(browser, {
      visitors: dailyVisitors(mine.map((v) => ({ visitor: v.visitor, ts: v.start }))),
      visits: mine.length,
      pageviews: sent.filter((e) => e.browser === browser && e.name === 'pageview').length,
    })
  }
  return out
}

/** A page's bounce rate is that of the visits entering on it (issue 11: not 0 for every page). */
export function modelEntryBounceRates(sent: Sent[]): Map<string, number> {
  const out = new Map<string, number>()
  const visits = visitsOf(sent).filter((v) => v.views.length > 0)
  for (const page of new Set(visits.map((v) => v.views[0]))) {
    const mine = visits.filter((v) => v.views[0] === page)
    out.set(page, Math.round((mine.filter(isBounce).length / mine.length) * 100))
  }
  return out
}
