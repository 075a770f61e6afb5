import { AsyncLocalStorage } from 'node:async_hooks'
import type { ClickHouseClient } from '@clickhouse/client'
import pLimit from 'p-limit'
import { LRUCache } from 'lru-cache'
import { compare, Params, propExpr, type Filter } from './filters.ts'
import { goalCondition } from './goal-match.ts'
import { revenueCondition } from './measures.ts'
import { addSums, ZERO, type Sums } from './metrics.ts'
import { calendarDate, utcAllDay, wholeDays, type Range } from './period.ts'
import { PROPERTIES, type EventProperty, type Property, type VisitProperty } from './properties.ts'
import { utcDay } from '../../store/time.ts'
import { storeWrites, type DayRows, type StoreWrites } from '../../store/writes.ts'

export type Interval = 'minute' | 'hour' | 'day' | 'week' | 'month'

/** One statistics question: a site, a range in its time zone, filters, and how to group. */
export interface StatsQuestion {
  site: string
  timezone: string
  range: { from: number; to: number }
  filters: Filter[]
  property?: Property & { propKey?: string }
  interval?: Interval
  /**
   * Only the sums an events row gives are asked (visitors, networks, pageviews, events,
   * engagement): a page or event-name breakdown over whole UTC days then counts a value's
   * visitors from the events holding it instead of reading the visits (`leanHeld`), and its visit
   * sums (visits, bounces, entries, durations, scroll) are not worked out for those days.
   * Without a property or with a visit property: only visitors and networks are asked (a
   * headcount, or a breakdown of visitors), read without FINAL where `firstEventOnly` allows,
   * and the other sums of the days read live are 0.
   */
  lean?: boolean
  /**
   * With `lean`, a page breakdown also asks its scroll depth: the deepest scroll of each of a
   * page's views in visits is then read from the visits (`visits.scroll`) beside the lean rows,
   * or, for one live day in a zone at UTC's time, grouped from the day's pings per visit with
   * those rows (LEAN_PAGE_VISITS) unless `page_days` answers them.
   */
  scroll?: boolean
  /**
   * With `lean` and without `scroll`, a page breakdown whose visitors alone are looked at (R3's
   * neighbours, compared by their visitors: service.ts; `visitorsAlone`): a live day's rows are
   * then read from its pageviews in visits alone, with their visitors and networks and no other
   * sum (headcountSums); and the neighbours of one question are read together (fromEvents), each
   * with its filters as conditions on the events rows.
   */
  visitorsOnly?: boolean
  /**
   * An event property other than the page and event names (a link, a file, a custom property):
   * the rows of every value it is read for as one row (key ''), the distinct visitors and networks
   * of them all. Its "(other)" (service.ts otherSums): under a filter on the property picking the
   * values folded, their visitors counted once from their events, as each row counts them.
   */
  oneKey?: boolean
  /**
   * The network minimum (R1's kn) the answer is held to: its networks are counted up to it
   * (`networkCount`). Without it, exactly (the rollup build, whose rows questions held to any
   * minimum add up later).
   */
  networksUpTo?: number
}

export interface SumsRow extends Sums {
  /** Of a grouped read (groupedSumsSql): which grouping set the row is of, and whether it meets the set's conditions. */
  g?: number
  c?: number
  key: string
  bucket: string
  /** The UTC day of the row, when asked day by day (sumsSql's `byDay`). */
  day?: string
}

const fmtDate = ([y, m, d]: [number, number, number]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
const DAY = 86_400_000

/** The local days a range covers, and the UTC days that may hold its events (one either side). */
export function rangeDays(range: { from: number; to: number }, tz: string) {
  return {
    first: fmtDate(calendarDate(range.from, tz)),
    last: fmtDate(calendarDate(range.to - 1, tz)),
    utcFirst: utcDay(range.from - DAY),
    utcLast: utcDay(range.to + DAY),
  }
}

/** Every UTC day from `first` to `last`, as ISO dates (a copy of the list kept for the range: the questions of a dashboard ask the same ones). */
export function utcDays(first: string, last: string): string[] {
  const id = `${first}|${last}`
  let days = dayLists.get(id)
  if (!days) {
    days = []
    for (let t = Date.parse(first), end = Date.parse(last); t <= end; t += DAY) days.push(utcDay(t))
    dayLists.set(id, days)
  }
  return days.slice()
}
const dayLists = new LRUCache<string, string[]>({ max: 256 })

function localBucket(interval: Interval | undefined, column: string, tz: string, params: Params): string {
  const zone = params.add('String', tz)
  switch (interval) {
    case undefined:
      return "''"
    case 'minute':
      return `formatDateTime(toStartOfMinute(${column}), '%Y-%m-%d %H:%i:00', ${zone})`
    case 'hour':
      // the hour starts in the site's zone: zones 30 or 45 minutes off UTC have their own hours
      return `formatDateTime(toStartOfHour(${column}, ${zone}), '%Y-%m-%d %H:00:00', ${zone})`
    case 'day':
      return `toString(toDate(${column}, ${zone}))`
    case 'week':
      return `toString(toMonday(toDate(${column}, ${zone})))`
    case 'month':
      return `toString(toStartOfMonth(toDate(${column}, ${zone})))`
  }
}

function dayBucket(interval: Interval | undefined): string {
  switch (interval) {
    case undefined:
      return "''"
    case 'day':
      return 'toString(day)'
    case 'week':
      return 'toString(toMonday(day))'
    case 'month':
      return 'toString(toStartOfMonth(day))'
    default:
      throw new Error('rollups hold days, not ' + interval)
  }
}

/**
 * The sums every path answers, one definition each. A visit row gives visitors, visits,
 * bounces (one pageview or none, and no interaction) and durations; its pageviews, events and
 * engagement are its events'. An event without a visitor hash counts in pageviews, events and
 * engagement only. Inner queries name their sums s_*: an alias equal to a column would shadow it.
 */
const BOUNCE = 'pageviews <= 1 AND interactions = 0'
const DURATION = 'toUnixTimestamp64Milli(end) - toUnixTimestamp64Milli(start)'
/** A visit's network; a visit stored before networks were counted stands for a network of its own. */
export const NETWORK = 'if(network_id = 0, visitor_id, network_id)'
/** How a read counts distinct networks: `count(expr)`, `countIf(expr, cond)` (networkCount). */
export interface Nets {
  count(expr: string): string
  countIf(expr: string, cond: string): string
}
const EXACT_NETS: Nets = { count: (e) => `uniqExact(${e})`, countIf: (e, c) => `uniqExactIf(${e}, ${c})` }
/** uniqUpTo's largest parameter. */
const UP_TO_MAX = 100
/**
 * The networks of today's kept states (page_days, headcount_days: uniqUpTo(100) states, migration
 * 037): their count when at most 100, 101 above; read only for a question that counts them up to
 * at most 100 (pageDaysHold), for which that decides whether a count reaches its minimum as the
 * exact count does (networkCount).
 */
const KEPT_NETWORKS = `uniqUpToMerge(${UP_TO_MAX})(networks)`
/**
 * How a question's reads count distinct networks. A number of networks is only ever compared
 * with a minimum (R1's kn: `minGroup`); it is never published, subtracted or compared with
 * another. So a question that says its minimum (`networksUpTo`, kn) has them counted up to it:
 * `uniqUpTo(kn)` answers the count when it is at most kn and kn + 1 above, so whether a count
 * reaches kn is decided as on the exact count; added up over days or rows (addSums) too, since
 * one count at kn + 1 already makes the sum reach kn and below that every count is exact. It
 * keeps at most kn + 1 networks a group where `uniqExact` keeps them all: the most costly part
 * of a grouped read of today's visits at a hundred million events (see the README). Above
 * uniqUpTo's limit (100), or without `networksUpTo`, they are counted exactly.
 */
export function networkCount(q: Pick<StatsQuestion, 'networksUpTo'>, params: Params): Nets {
  const n = q.networksUpTo
  if (n === undefined || n > UP_TO_MAX) return EXACT_NETS
  const cap = params.add('UInt8', n)
  return { count: (e) => `uniqUpTo(${cap})(${e})`, countIf: (e, c) => `uniqUpToIf(${cap})(${e}, ${c})` }
}
const visitSums = (nets: Nets) => `uniqExact(visitor_id) AS s_visitors, ${nets.count(NETWORK)} AS s_networks, count() AS s_visits, sum(pageviews) AS s_pageviews, sum(events) AS s_events,
      countIf(${BOUNCE}) AS s_bounces, count() AS s_entries, sum(${DURATION}) AS s_duration_ms, sum(engagement_ms) AS s_engagement_ms`
/**
 * The lean page sums (eventSums with visitors counted from pageviews in visits, OWN_PAGE_SCROLL)
 * from today's rows kept at insert (`page_days`, migration 033, whose view states them with the
 * same expressions: test/aggregator/stats/page-days.test.ts compares the two reads).
 */
const PAGE_DAY_SUMS = `uniqExactMerge(visitors) AS s_visitors, ${KEPT_NETWORKS} AS s_networks, 0 AS s_visits,
      sum(pageviews) AS s_pageviews, 0 AS s_events, 0 AS s_bounces, 0 AS s_entries, 0 AS s_duration_ms, sum(engagement_ms) AS s_engagement_ms`
const PAGE_DAY_SCROLL = 'sum(scroll_sum) AS s_scroll_sum, sum(scroll_views) AS s_scroll_views, 0 AS s_scroll_visitors, 0 AS s_scroll_networks'
/**
 * Whether `page_days` holds the UTC `days` whole for question `q`: today alone (UTC, by the
 * clock), its networks counted up to at most the 100 the states keep (KEPT_NETWORKS). Its rows of
 * earlier days are dropped (retention/purge.ts), and a day is answered from the rollup once built.
 */
export const pageDaysHold = (q: Pick<StatsQuestion, 'networksUpTo'>, days: readonly string[]): boolean =>
  days.length === 1 && days[0] === utcDay(Date.now()) && q.networksUpTo !== undefined && q.networksUpTo <= UP_TO_MAX

/**
 * Whether a read is today's headcount kept as visits open (`headcount_days`, migration 035): only
 * visitors and networks (`lean`), with no property or filter, of today alone (UTC, by the clock,
 * as page_days) and all of it, asked alone (not `together` with other asks); by day, week or
 * month or not bucketed (a whole UTC day in a zone at UTC's time is in one such bucket).
 */
export const headcountDaysAnswer = (q: StatsQuestion, days: readonly string[], together: readonly GroupedAsk[] | null = null): boolean =>
  q.filters.length === 0 && todaysHeadcount(q, days, together)
/** A headcount (lean, no property) asked alone (not `together` with other asks), not by the hour or minute: each visit of a day in its day's bucket. */
const headcountAlone = (q: StatsQuestion, together: readonly GroupedAsk[] | null): boolean =>
  q.lean === true && !q.property && q.interval !== 'hour' && q.interval !== 'minute' && together === null
/** A headcount (headcountAlone) of all of today by the clock: what the states kept for today can answer. */
const todaysHeadcount = (q: StatsQuestion, days: readonly string[], together: readonly GroupedAsk[] | null): boolean =>
  headcountAlone(q, together) && pageDaysHold(q, days) && wholeDaysOnly({ ...q, filters: [] }, days)
/**
 * Whether a read is today's headcount under one page filter, from today's page rows (`page_days`,
 * migration 033) rather than today's visits through FINAL: only visitors and networks (`lean`),
 * with no property, of today alone and all of it, asked alone, by day, week or month or not
 * bucketed (as headcountDaysAnswer), and one filter, on the page viewed and not negated. A visit
 * of the day holds a page matching the filter when one of its pageviews that day has such a path
 * (`pages`, as kept by the visits' view), so its visitors and networks are the union of those of
 * the matching pages' pageviews in visits: their states merged. The events without a visit are
 * counted as the read's other branch counts them. Two page filters would ask for visits holding
 * both, which the pages' states cannot tell; a negated one, for visits holding none.
 * test/aggregator/stats/page-days.test.ts compares the two reads. Every question under a page
 * filter asks it for the k rules: at a hundred million events, today live (medians of 5), the
 * outbound panel under `page==/pricing` took 274 ms against 336, goals 196 against 257, the
 * funnel 346 against 417.
 */
const pageHeadcountAnswer = (q: StatsQuestion, days: readonly string[], together: readonly GroupedAsk[] | null): boolean =>
  q.filters.length === 1 && q.filters[0].name === 'page' && q.filters[0].op !== '!=' && todaysHeadcount(q, days, together)
/**
 * Whether a read is a headcount under one filter on a page viewed (not negated) and filters every
 * event of a visit carries (country, browser…), over whole UTC days, read alone (not `together`
 * with the asks of a read of the visits, which counts it beside them): a visit of those days is
 * kept when it is one of the carried values and one of its pageviews has the page, so its
 * visitors and networks are those of such pageviews in visits, with no read of the visits
 * (headcountSums over `events`). Every question under `country==US;page==/pricing` asks it for
 * the k rules: at ten million events, today, 18 ms so against 26 through FINAL, at a hundred
 * million 94 against 159 (`event==Signup` so was slower: 17 against 15, and 100 against 84).
 */
const pageviewHeadcount = (q: StatsQuestion, days: readonly string[], together: readonly GroupedAsk[] | null): boolean =>
  headcountAlone(q, together) &&
  q.filters.filter((f) => f.name === 'page').length === 1 &&
  q.filters.every((f) => carried(f) || (f.name === 'page' && f.op !== '!=')) &&
  wholeDaysOnly({ ...q, filters: q.filters.filter(carried) }, days)
/** The table of states kept for today that answers a read (headcountDaysAnswer, pageHeadcountAnswer), if one does. */
const keptHeadcount = (q: StatsQuestion, days: readonly string[], together: readonly GroupedAsk[] | null = null): 'headcount_days' | 'page_days' | null =>
  headcountDaysAnswer(q, days, together) ? 'headcount_days' : pageHeadcountAnswer(q, days, together) ? 'page_days' : null
/** headcountSums from the states of `headcount_days`, which its view states with the same expressions over each visit's first event. */
const HEADCOUNT_DAY_SUMS = `uniqExactMerge(visitors) AS s_visitors, ${KEPT_NETWORKS} AS s_networks, 0 AS s_visits, 0 AS s_pageviews, 0 AS s_events,
      0 AS s_bounces, 0 AS s_entries, 0 AS s_duration_ms, 0 AS s_engagement_ms`
/** Visitors and networks alone (`lean`: a headcount, a breakdown of visitors), over visit rows, merged or not. */
const headcountSums = (nets: Nets) => `uniqExact(visitor_id) AS s_visitors, ${nets.count(NETWORK)} AS s_networks, 0 AS s_visits, 0 AS s_pageviews, 0 AS s_events,
      0 AS s_bounces, 0 AS s_entries, 0 AS s_duration_ms, 0 AS s_engagement_ms`
/**
 * Visits holding a value of an event property (a page viewed, an event sent): the visit numbers
 * only. A page's bounce rate is out of the visits that entered on it (as Plausible counts it);
 * a bounced visit viewed one page, its entry page, so its bounces are those visits' bounces.
 */
const holdingVisitSums = (nets: Nets, entries: string) => `uniqExact(visitor_id) AS s_visitors, ${nets.count(NETWORK)} AS s_networks, count() AS s_visits, 0 AS s_pageviews, 0 AS s_events,
      countIf(${BOUNCE}) AS s_bounces, ${entries} AS s_entries, sum(${DURATION}) AS s_duration_ms, 0 AS s_engagement_ms`
/**
 * `visitors`: count the visitors of the events read (true: those with a visitor hash; a condition:
 * those meeting it). `pings`: the events read may be pageviews and engagement pings (not those of
 * an event property but the page's, whose `where` leaves them out: then neither they nor the
 * pings' `engagement_ms` are asked, and such a read can be answered from the events sorted by
 * name, migration 038).
 */
const eventSums = (nets: Nets, visitors: boolean | string, events: boolean, pings = true) => {
  const who = visitors === true ? 'visitor_id != 0' : visitors
  return `${who ? `uniqExactIf(visitor_id, ${who})` : '0'} AS s_visitors,
      ${who ? nets.countIf(NETWORK, who) : '0'} AS s_networks, 0 AS s_visits,
      ${pings ? "countIf(name = 'pageview')" : '0'} AS s_pageviews, ${events ? "countIf(name != 'engagement')" : '0'} AS s_events, 0 AS s_bounces, 0 AS s_entries,
      0 AS s_duration_ms, ${pings ? "sumIf(engagement_ms, name = 'engagement')" : '0'} AS s_engagement_ms`
}
const OUTER = `sum(s_visitors) AS visitors, sum(s_networks) AS networks, sum(s_visits) AS visits, sum(s_pageviews) AS pageviews, sum(s_events) AS events,
    sum(s_bounces) AS bounces, sum(s_entries) AS entries, sum(s_duration_ms) AS duration_ms, sum(s_engagement_ms) AS engagement_ms`
const SUMS = `sum(visitors) AS visitors, sum(networks) AS networks, sum(visits) AS visits, sum(pageviews) AS pageviews, sum(events) AS events,
    sum(bounces) AS bounces, sum(entries) AS entries, sum(duration_ms) AS duration_ms, sum(engagement_ms) AS engagement_ms`

/*
 * Revenue and scroll depth (issue 14), beside the sums above. Revenue is that of what a row
 * counts visitors from: the visits of a visit row or holding a page or an event name, else the
 * events carrying the value; it is summed only when the question asks it (measures.ts marks
 * its goal filters, `revenueCondition` says which events pay). Scroll depth is a page's: the
 * deepest scroll each page view reported (a page within a visit; an event without one stands
 * alone), and who reported it.
 */
const NO_REVENUE = '0 AS s_revenue, 0 AS s_revenue_events, 0 AS s_revenue_visitors, 0 AS s_revenue_networks'
const NO_SCROLL = '0 AS s_scroll_sum, 0 AS s_scroll_views, 0 AS s_scroll_visitors, 0 AS s_scroll_networks'
/** Over visit rows joined with their revenue (`r_amount`, `r_events`: SumsQuery.withRevenue). */
const visitRevenue = (nets: Nets) => `sum(r_amount) AS s_revenue, sum(r_events) AS s_revenue_events,
      uniqExactIf(visitor_id, r_events > 0) AS s_revenue_visitors, ${nets.countIf(NETWORK, 'r_events > 0')} AS s_revenue_networks`
/** Over events rows, those that pay (`paid`); their visitors when the row counts visitors from events. */
const eventRevenue = (nets: Nets, paid: string, visitors: boolean) => `sumIf(revenue_amount, ${paid}) AS s_revenue, countIf(${paid}) AS s_revenue_events,
      ${visitors ? `uniqExactIf(visitor_id, ${paid} AND visitor_id != 0)` : '0'} AS s_revenue_visitors,
      ${visitors ? nets.countIf(NETWORK, `${paid} AND visitor_id != 0`) : '0'} AS s_revenue_networks`
/**
 * Over the visits holding a page (`held`): the deepest scroll the visit reported on it, kept per
 * visit as events arrive (`visits.scroll`, migration 021). Grouping the pings by visit here
 * instead made a page breakdown some 40 times slower.
 */
const heldPageScroll = (nets: Nets) => `sum(if((indexOf(scroll.1, held) AS s_at) > 0, scroll.2[s_at], 0)) AS s_scroll_sum, countIf(s_at > 0) AS s_scroll_views,
      uniqExactIf(visitor_id, s_at > 0) AS s_scroll_visitors, ${nets.countIf(NETWORK, 's_at > 0')} AS s_scroll_networks`
/**
 * heldPageScroll over the visits' scroll reports instead of their pages (`held`, `s_depth`: an
 * ARRAY JOIN of `scroll` on the pages the visit holds): a lean page breakdown's, beside rows
 * that have the other sums (NO_SUMS here).
 */
const visitPageScroll = (nets: Nets) => `sum(s_depth) AS s_scroll_sum, count() AS s_scroll_views, uniqExact(visitor_id) AS s_scroll_visitors, ${nets.count(NETWORK)} AS s_scroll_networks`
/** A lean page breakdown's visitors alone (StatsQuestion.visitorsOnly), over its pageviews in visits (headcountSums). */
const visitorsAlone = (q: StatsQuestion) => q.visitorsOnly === true && q.lean === true && q.scroll !== true && q.property?.dim === 'page'
const NO_SUMS = `0 AS s_visitors, 0 AS s_networks, 0 AS s_visits, 0 AS s_pageviews, 0 AS s_events, 0 AS s_bounces, 0 AS s_entries, 0 AS s_duration_ms, 0 AS s_engagement_ms`
/** An event that reports a scroll depth: an engagement ping with one (255: none; migration 021, as `visits.scroll` keeps them). */
const SCROLL_REPORT = "name = 'engagement' AND scroll_depth <= 100"
/** Over a page's events: a ping without a visit stands as a page view of its own (no visitor behind it). */
const OWN_PAGE_SCROLL = `sumIf(scroll_depth, visit_id = 0 AND ${SCROLL_REPORT}) AS s_scroll_sum,
      countIf(visit_id = 0 AND ${SCROLL_REPORT}) AS s_scroll_views, 0 AS s_scroll_visitors, 0 AS s_scroll_networks`
/**
 * A lean page breakdown's rows over one live day, scroll depth included, from its pageviews and
 * engagement pings alone: first per page and visit (LEAN_PAGE_VISITS; the pings without a visit
 * fall in one row of visit 0 a page), then per page (leanPageSums, leanPageScroll). The same
 * numbers as eventSums with OWN_PAGE_SCROLL beside visitPageScroll over `visits.scroll`: a
 * visit's deepest report on a page it viewed, its pageviews' visitors and networks; the pings
 * without a visit each a view of their own. Reading the day's visits through FINAL besides its
 * events cost the page panel under `country==US` at ten million events 35 ms, this 23–25 ms
 * (over one day: over a range, grouping the pings by visit was some 40 times slower, heldPageScroll).
 */
const LEAN_PAGE_VISITS = `any(${NETWORK}) AS s_net, countIf(name = 'pageview') AS s_pv, sumIf(engagement_ms, name = 'engagement') AS s_eng,
          maxIf(scroll_depth, ${SCROLL_REPORT}) AS s_deepest, countIf(${SCROLL_REPORT}) AS s_reports,
          sumIf(scroll_depth, visit_id = 0 AND ${SCROLL_REPORT}) AS s_lone_sum, countIf(visit_id = 0 AND ${SCROLL_REPORT}) AS s_lone_views`
const leanPageSums = (nets: Nets) => `uniqExactIf(visitor_id, visit_id != 0 AND s_pv > 0) AS s_visitors, ${nets.countIf('s_net', 'visit_id != 0 AND s_pv > 0')} AS s_networks, 0 AS s_visits,
      sum(s_pv) AS s_pageviews, 0 AS s_events, 0 AS s_bounces, 0 AS s_entries, 0 AS s_duration_ms, sum(s_eng) AS s_engagement_ms`
const leanPageScroll = (nets: Nets) => `sumIf(s_deepest, visit_id != 0 AND s_pv > 0 AND s_reports > 0) + sum(s_lone_sum) AS s_scroll_sum,
      countIf(visit_id != 0 AND s_pv > 0 AND s_reports > 0) + sum(s_lone_views) AS s_scroll_views,
      uniqExactIf(visitor_id, visit_id != 0 AND s_pv > 0 AND s_reports > 0) AS s_scroll_visitors,
      ${nets.countIf('s_net', 'visit_id != 0 AND s_pv > 0 AND s_reports > 0')} AS s_scroll_networks`
const OUTER_MEASURES = `sum(s_revenue) AS revenue, sum(s_revenue_events) AS revenue_events, sum(s_revenue_visitors) AS revenue_visitors,
    sum(s_revenue_networks) AS revenue_networks, sum(s_scroll_sum) AS scroll_sum, sum(s_scroll_views) AS scroll_views,
    sum(s_scroll_visitors) AS scroll_visitors, sum(s_scroll_networks) AS scroll_networks`
/** The rollup holds no revenue: it is asked with a goal filter, which the rollup never answers (rollupAnswers). */
const ROLLUP_MEASURES = `0 AS revenue, 0 AS revenue_events, 0 AS revenue_visitors, 0 AS revenue_networks, sum(scroll_sum) AS scroll_sum,
    sum(scroll_views) AS scroll_views, sum(scroll_visitors) AS scroll_visitors, sum(scroll_networks) AS scroll_networks`

const nameOf = (p: Property & { propKey?: string }) => (p.propKey ? `prop:${p.propKey}` : p.dim)
const valueExpr = (p: Property & { propKey?: string }, params: Params) => (p.propKey ? propExpr(p.propKey, params) : p.expr)
/** Which events carry an event property (a custom prop: the events that have its key). */
function carriers(p: Property & { propKey?: string }, params: Params): string {
  if (p.level !== 'event') return '1'
  return p.propKey ? `${p.where} AND mapContains(props, ${params.add('String', p.propKey)})` : p.where
}
/**
 * The events by which a visit holds a value of an event property: a page by its pageviews, any
 * other value by the events carrying it (a one-event visit's pages are its pageview's path; its
 * event names, its custom event's name).
 */
const holders = (p: Property & { propKey?: string }, params: Params): string =>
  p.level === 'event' && p.visitArray === 'pages' ? "name = 'pageview'" : carriers(p, params)
const positive = (f: Filter): Filter => ({ ...f, op: f.op === '!=' ? '==' : f.op })
/** A filter every event of a visit answers as the visit does (a property `onEveryEvent`). */
const carried = (f: Filter) => f.name !== 'goal' && f.prop.level === 'visit' && f.prop.onEveryEvent === true
/** A filter on what a visit holds among its events: a page viewed, an event sent, a link, a custom prop, a goal completed. */
const held = (f: Filter) => f.name === 'goal' || f.prop.level === 'event'
/**
 * A filter on what a visit's first event gives and its other events do not carry (the source,
 * UTM tags, referrer, channel…): the view keeping visits takes those values from the event the
 * collector flags as the visit's first (visit_flags bit 1), so the visits it keeps are those whose
 * first event, found among the day's events, gives the value (openerCondition).
 */
const opener = (f: Filter) => f.name !== 'goal' && f.prop.level === 'visit' && f.prop.firstEvent === true && f.prop.onEveryEvent !== true
/** A filter whose visits are found among the events: on what a visit holds (`held`) or on what its first event gives (`opener`). */
const found = (f: Filter) => held(f) || opener(f)
/** A filter an events row of a visit answers: by its own value (`carried`), or by its visit's found among the events (`found`). */
const onEvents = (f: Filter) => carried(f) || found(f)
const negate = (f: Filter, cond: string) => (f.op === '!=' ? `NOT (${cond})` : cond)
/** A filter on what a visit holds that every row of `visits` lists (`visitArray`: a page viewed, an event name sent). */
const listed = (f: Filter) => f.name !== 'goal' && f.prop.level === 'event' && f.prop.visitArray !== undefined

/** A property a visit holds several values of (its `visitArray`: pages viewed, event names sent); throws for another. */
function heldProperty(name: string): EventProperty & { visitArray: NonNullable<EventProperty['visitArray']> } {
  const p = PROPERTIES[name]
  if (p?.level !== 'event' || !p.visitArray) throw new Error(`${name} is no property a visit holds`)
  return { ...p, visitArray: p.visitArray }
}

/**
 * One of the questions a grouped read answers (groupedSumsSql): its visit property (null: the
 * totals), its buckets, and `conds`, filters on visit properties it adds to the read's filters
 * (its rows are those of the visits meeting them all: `c` = 1).
 */
export interface GroupedAsk {
  prop: VisitProperty | null
  interval?: Interval
  conds?: readonly Filter[]
}

/** What a grouping set groups by besides the day: a property's value, a bucket, a condition; the same one for asks alike. */
type GroupArg = VisitProperty | `interval:${string}` | `cond:${string}`
/** A condition as a grouped read's argument. */
const condArg = (f: Filter): GroupArg => `cond:${JSON.stringify(f)}`
const argsOf = (a: GroupedAsk): GroupArg[] => [...(a.prop ? [a.prop] : []), ...(a.interval ? [`interval:${a.interval}` as const] : []), ...(a.conds ?? []).map(condArg)]
/** Every distinct argument of the asks: properties, then intervals, then conditions. */
const groupArgs = (asks: readonly GroupedAsk[]): GroupArg[] => {
  const all = [...new Set(asks.flatMap(argsOf))]
  const rank = (x: GroupArg) => (typeof x !== 'string' ? 0 : x.startsWith('interval:') ? 1 : 2)
  return all.sort((x, y) => rank(x) - rank(y))
}
/** The name a grouped read of `asks` gives each argument where it is written once (`_g0`…: groupingSets), for every other use. */
const argNames = (asks: readonly GroupedAsk[]) => {
  const args = groupArgs(asks)
  return (x: GroupArg) => `_g${args.indexOf(x)}`
}

/**
 * In a grouped read whose every ask has conditions, the rows meeting none of them are in no ask's
 * rows (`c` is 0 in every set): a condition keeping the others, over the conditions as
 * groupingSets names them (`_g…`), so that they are not grouped at all; null when an ask has
 * none (every row is one of its). The page panel under `source==Google;country==US` (its rows
 * and its two neighbours, R3: one read of today's events instead of three) at ten million
 * events, the SQL alone on one thread: 36 ms against 16 + 20 + 26 ms.
 */
function keptByAny(asks: readonly GroupedAsk[]): string | null {
  if (!asks.every((a) => (a.conds?.length ?? 0) > 0)) return null
  const name = argNames(asks)
  return `(${asks.map((a) => a.conds!.map((f) => name(condArg(f))).join(' AND ')).join(' OR ')})`
}

/**
 * The `grouping()` a row of each ask of `asks` has in a grouped read: `grouping()` is over every
 * distinct argument (groupArgs), the first the highest bit, and has a bit set for each one the
 * row's grouping set leaves out. The asks must differ from one another, and the properties in
 * both their expressions (`expr`, `eventExpr`), or two sets would be one.
 */
export function groupMasks(asks: readonly GroupedAsk[]): number[] {
  const args = groupArgs(asks)
  const bit = (a: GroupArg) => 2 ** (args.length - 1 - args.indexOf(a))
  return asks.map((a) => argsOf(a).reduce((m, x) => m - bit(x), 2 ** args.length - 1))
}

/**
 * Several asks of one question grouped over one read, as GROUPING SETS: a set per ask, of its
 * value (over a visit row, or an events row standing as a visit: `row`), its bucket and its
 * conditions, if any, and `rest`; `g` tells a row's set (groupMasks), `c` whether the row meets
 * its set's conditions (1 without any). Reading the visits once for a breakdown and its totals
 * took 23 ms where the breakdown alone took 29 ms (today at ten million events); eight panels
 * at once, 50 ms against 8 × 27 ms.
 */
function groupingSets(
  asks: readonly GroupedAsk[],
  row: 'visit' | 'event',
  sqlOf: { bucket: (interval: Interval) => string; cond: (f: Filter) => string },
  rest: string,
): GroupedKeys {
  const masks = groupMasks(asks)
  // each argument's SQL, made once (a bucket or a condition adds parameters)
  const made = new Map<GroupArg, string>()
  for (const a of asks) {
    if (a.prop && !made.has(a.prop)) made.set(a.prop, row === 'visit' ? a.prop.expr : a.prop.eventExpr)
    if (a.interval && !made.has(`interval:${a.interval}`)) made.set(`interval:${a.interval}`, sqlOf.bucket(a.interval))
    for (const f of a.conds ?? []) if (!made.has(condArg(f))) made.set(condArg(f), `toUInt8(${sqlOf.cond(f)})`)
  }
  // (each ask's expression made once: it may name an argument as it goes, `once` below)
  const chosen = (expr: (a: GroupedAsk) => string | undefined, otherwise: string) => {
    const cases = asks.flatMap((a, i) => {
      const x = expr(a)
      return x === undefined ? [] : [`g = ${masks[i]}, ${x}`]
    })
    return cases.length === 0 ? otherwise : `multiIf(${cases.join(', ')}, ${otherwise})`
  }
  // each argument written once, in grouping(), and named there (`_g0`…) for every other use: a
  // condition with a subquery (a page viewed) written in each place it is used was planned as
  // several subqueries, and the names are one expression each (the outbound panel under
  // `country==US;page==/pricing` at ten million events: 13.3 ms of planning against 11.6, 41.9
  // ms in all against 39.0)
  const args = groupArgs(asks)
  const sql = argNames(asks)
  const first = asks[0]
  const alike = asks.every((a) => a.prop === first.prop && a.interval === first.interval)
  // (asks of different properties or buckets so only when half of them or more have conditions:
  // GROUPING SETS count a row in each set without copying it, as a dashboard's panels beside one
  // neighbour or two would have it)
  const conditioned = asks.filter((a) => a.conds?.length).length
  if (conditioned > 0 && (alike || 2 * conditioned >= asks.length)) {
    // Asks that differ in their conditions alone (a question and its neighbours without each of its
    // filters, R3): each row stands once for each ask whose conditions it meets (its `g`, by ARRAY
    // JOIN: a row meeting none is gone), grouped by ask and value, so that a row is counted only where
    // it is one of an ask's rows, where GROUPING SETS counted every row in every set, those not meeting
    // its conditions too (c = 0, thrown away). The page panel under `source==Google;country==US` and
    // its two neighbours at ten million events, today's events on one thread: 35 ms against 47.
    const named = new Set<GroupArg>()
    const once = (x: GroupArg) => (named.has(x) ? sql(x) : (named.add(x), `(${made.get(x)!} AS ${sql(x)})`))
    const flags = asks.map((a) => (a.conds?.length ? a.conds.map((f) => once(condArg(f))).join(' AND ') : '1'))
    const asked = `arrayFilter((g, m) -> m != 0, [${masks.join(', ')}], [${flags.join(', ')}])`
    // Over events, the rows are copied as an ARRAY JOIN clause copies them; the arrayJoin function
    // in the SELECT copied every column read, the custom properties (a map) too, before the rest:
    // today's read of the `plan` panel under `source==Google;event==Signup` at a hundred million
    // events, alone, 122-142 ms so against 46-57, the same rows. Over visits (a subquery of `visits
    // FINAL`), the clause measured 5-10 % slower (the exit page panel under
    // `page==/pricing;event==Signup`, the source panel under `country==US;source==Google`), and
    // stays the function.
    const joined = row === 'event' ? { select: 'g', join: `\n      ARRAY JOIN ${asked} AS g` } : { select: `arrayJoin(${asked}) AS g`, join: '' }
    // Each row's key and bucket are its ask's: when every ask has the same, that expression,
    // grouped by its name; else the ask's by `g` (asks of different properties or buckets: a
    // breakdown under a filter, its totals and its neighbour without the filter; the exit page
    // panel under `country==US` at ten million events, today live, 62 -> 55 ms, the source panel
    // 44 -> 39, medians of 15; at a hundred million 491 -> 325 and 282 -> 189 ms).
    const byAsk = (arg: (a: GroupedAsk) => GroupArg | undefined, expr: (named: string) => string, alias: string) => {
      const one = arg(first)
      // (grouped by the argument's name; by the alias when the select is the named argument itself,
      // `(x AS _g0) AS bucket`, where the outer alias is the one the expression keeps)
      if (asks.every((a) => arg(a) === one)) {
        if (one === undefined) return { select: "''", groupBy: [] }
        const named = once(one)
        return { select: expr(named), groupBy: [expr(named) === named ? alias : sql(one)] }
      }
      const select = chosen((a) => {
        const x = arg(a)
        return x === undefined ? undefined : expr(once(x))
      }, "''")
      return { select, groupBy: [alias] }
    }
    const key = byAsk((a) => a.prop ?? undefined, (x) => `CAST(${x} AS String)`, 'key')
    const bucket = byAsk((a) => (a.interval ? (`interval:${a.interval}` as const) : undefined), (x) => x, 'bucket')
    const select = [joined.select, `${key.select} AS key`, `${bucket.select} AS bucket`, '1 AS c']
    return { select: select.join(', '), groupBy: ['g', ...key.groupBy, ...bucket.groupBy, rest].filter((x) => x !== '').join(', '), join: joined.join }
  }
  const key = chosen((a) => (a.prop ? `CAST(${sql(a.prop)} AS String)` : undefined), "''")
  const b = chosen((a) => (a.interval ? sql(`interval:${a.interval}`) : undefined), "''")
  const c = chosen((a) => (a.conds?.length ? a.conds.map((f) => sql(condArg(f))).join(' AND ') : undefined), '1')
  const sets = asks.map((a) => `(${[...argsOf(a).map(sql), rest].filter((x) => x !== '').join(', ')})`)
  return { select: `grouping(${args.map((x) => `${made.get(x)!} AS ${sql(x)}`).join(', ')}) AS g, ${key} AS key, ${b} AS bucket, ${c} AS c`, groupBy: `GROUPING SETS (${sets.join(', ')})`, join: '' }
}

/**
 * A read's key and bucket (`select`), what it groups by, and `join`: an ARRAY JOIN clause to put
 * after the rows read (after their FROM, before PREWHERE), or '' (always, over visit rows: see
 * groupingSets).
 */
interface GroupedKeys {
  select: string
  groupBy: string
  join: string
}

/** How a read's branches are joined (SumsQuery.sql). */
const BRANCHES = '\n      UNION ALL\n      '

/** How a read is made (SumsQuery.sql). */
export interface ReadOptions {
  /** false: each branch's rows as they are, sums named s_…, for the caller to add up (addedUp); true by default. */
  merged?: boolean
  /**
   * false: the days read have no event without a visit (KnownDay), so a visit property's read
   * leaves out the branch that counts them as visits of their own; true by default.
   */
  visitless?: boolean
}

/**
 * The SQL of every statistic, built from the definitions in properties.ts and the sums above.
 * `days` are the UTC days read (the planner may answer the others from the rollup); every
 * value enters as a parameter.
 */
class SumsQuery {
  constructor(
    private q: StatsQuestion,
    private params: Params,
    /** The rollup cube's: every row's key is also told apart by this property's value, `value\0key` (see CUBE_FILTERS). */
    private by: VisitProperty | null = null,
  ) {}

  /**
   * Whether the days read may hold an event without a visit (KnownDay.visitless; `branches` is
   * told): when they hold none, a condition on an events row leaves out what it would say of one
   * (eventCondition, eventsInScope), and so the columns only that part reads: under
   * `outbound~docs;source==Google`, every event's own source and properties. Today live at a
   * hundred million events (medians of 5, alternating): the page panel so 449 -> 361 ms, the
   * event panel 274 -> 194, the `plan` panel 459 -> 406, the country panel under `outbound~docs`
   * 62 -> 53; questions without such a filter unchanged. The collector stores every event in a
   * visit: only events stored before visits were cut have none.
   */
  private visitless = true

  private countNets: Nets | undefined
  /** How this question's reads count distinct networks (networkCount). */
  private get nets(): Nets {
    return (this.countNets ??= networkCount(this.q, this.params))
  }

  /**
   * A key as the rows give it: with `by`, prefixed by the value of `by` on the visit row
   * (`visit`), on an events row of a visit (`event`), or on an events row standing as a visit of
   * its own (`own`). A value every event of a visit carries is the events row's own; one its
   * first event gives is its visit's, joined to the row (openerJoin).
   */
  private keyed(key: string, row: 'visit' | 'event' | 'own'): string {
    if (!this.by) return key
    const value = row === 'visit' ? this.by.expr : row === 'event' && this.openerBy ? `if(visit_id = 0, ${this.by.eventExpr}, s_by)` : this.by.eventExpr
    return `concat(CAST(${value} AS String), char(0), ${key})`
  }

  /** Whether `by` is a value a visit's first event gives and its other events need not carry (source, channel: OPENER_CUBE_FILTERS). */
  private get openerBy(): boolean {
    return this.by?.firstEvent === true && this.by.onEveryEvent !== true
  }

  /**
   * With such a `by` (openerBy), each events row's visit's value (`s_by`): the row of `visits`
   * holding its visit's first event (`opens`, migration 034), joined by visit id (an event without
   * a visit finds none). The rollup build's alone: a cube of those filters (CUBE_FILTERS).
   */
  private openerJoin(days: string): string {
    if (!this.openerBy) return ''
    return `
      LEFT ANY JOIN (SELECT visit_id, ${this.by!.expr} AS s_by FROM visits WHERE site = ${this.site} AND day IN ${days} AND opens = 1) AS s_opens USING (visit_id)`
  }

  private get site() {
    return '{site:String}'
  }

  private inRange(column: string) {
    return `${column} >= fromUnixTimestamp64Milli({from:Int64}) AND ${column} < fromUnixTimestamp64Milli({to:Int64})`
  }

  /** A goal filter's condition on an events row: it completes one of the goals. */
  private goalCondition(f: Filter): string {
    if (!f.goals) throw new Error('a goal filter reached the query without its goals (resolveGoalFilters)')
    return `(${f.goals.map((g) => goalCondition(g, this.params)).join(' OR ')})`
  }

  /** A filter as a condition on a visit row (visitCondition) of the days `days` (SQL of the Array(Date)), for a folded read (together.ts). */
  visitFilter(f: Filter, days: string): string {
    return this.visitCondition(f, days)
  }

  /** A filter as a condition on a visit row. */
  private visitCondition(f: Filter, days: string): string {
    const p = f.prop
    if (f.name !== 'goal' && p.level === 'visit') return compare(p.filterExpr ?? p.expr, f, this.params)
    return listed(f) ? negate(f, this.rowLists(f)) : this.heldCondition(f, days)
  }

  /** Whether a visit row lists the value of a filter on what its visit's rows list (`listed`), the filter taken as not negated. */
  private rowLists(f: Filter): string {
    return `arrayExists(a -> ${compare('a', positive(f), this.params)}, ${(f.prop as EventProperty).visitArray})`
  }

  /**
   * A filter on what a visit holds (`held`) as a condition on a visit's row or on one of its
   * events, or on the visit ids of `days` (the sorting key of `visits`, for PREWHERE): its visit is
   * one of those of `days` with an event giving the value (a pageview of the page, the event, a
   * goal completed), found among those days' events (a visit never spans two UTC days). The same
   * visits as a condition on `pages` or `event_names` picks (those list what a visit's pageviews
   * and custom events give), without reading the visits; negated, the visits with no such event,
   * exact whatever rows the merge would make one. Pages and event names were found among the rows
   * of `visits` as inserted (their `pages` and `event_names`) until the events were also kept
   * sorted by name and path (migration 036), which answers them reading only the granules of the
   * names and paths asked: today's visits holding `/pricing` or `Signup` at a hundred million
   * events 24 ms so against 105 among the visits' rows; as asked there, the exit page panel under
   * `page==/pricing` 330 -> 240 ms, under `page==/pricing;event==Signup` 530 -> 379, the entry page
   * panel under it 564 -> 396 (medians of 5, live, alternating). At ten million the sets take 12
   * ms against 22, and the questions moved within the noise.
   */
  private heldCondition(f: Filter, days: string): string {
    return negate(f, this.visitsWith(days, this.holdsCondition(f)))
  }

  /** A visit is one of `days` with a row of `visits`, as inserted, meeting `cond` (SQL over such a row). */
  private visitRowsWith(days: string, cond: string): string {
    return `visit_id IN (SELECT visit_id FROM visits WHERE site = ${this.site} AND day IN ${days} AND ${cond})`
  }

  /** An events row's visit is one of `days` with an event meeting `cond` (SQL over an events row). */
  private visitsWith(days: string, cond: string): string {
    return `visit_id IN (SELECT visit_id FROM events WHERE site = ${this.site} AND toDate(ts) IN ${days} AND visit_id != 0 AND ${cond})`
  }

  /**
   * Whether an events row gives what a filter on what a visit holds (`held`) names, the filter
   * taken as not negated: a pageview of the page, the event or link or prop, a goal completed (a
   * one-event visit's pages are its pageview's path; its event names, its custom event's name).
   */
  private holdsCondition(f: Filter): string {
    return f.name === 'goal' ? this.goalCondition(f) : `(${holders(f.prop, this.params)} AND ${compare(valueExpr(f.prop, this.params), positive(f), this.params)})`
  }

  /**
   * A filter on what a visit's first event gives (`opener`) as a condition on an events row of a
   * visit of `days`: its visit's first event gives the value. Those visits are found among the
   * rows of `visits` marked as holding a visit's first event (`opens`: one such row per visit,
   * merged or not, with that event's properties: migration 034), without FINAL; a third as many
   * rows as the day's events, which the flag on the events row would have found too. Today's
   * outbound panel under `source==Google` at ten million events read its events' visits through
   * FINAL (39 ms); the visits the filter keeps took 14.5 ms to find among today's events
   * (335,000), 5.5 ms among those rows (114,000): the page panel under `source==Google` 70 -> 50
   * ms live, the funnel 58 -> 48.
   */
  private openerCondition(f: Filter, days: string): string {
    return this.openersCondition([f], days)
  }

  /** openerCondition for several filters at once: the visits whose row holding their first event meets them all, one set. */
  private openersCondition(fs: Filter[], days: string): string {
    return this.visitRowsWith(days, ['opens = 1 AND visit_id != 0', ...fs.map((f) => this.visitCondition(f, days))].join(' AND '))
  }

  /** ` AND` the conditions on an events row of a visit of the filters whose visits are found among the events (`found`); '' when none. */
  foundConditions(filters: Filter[], days: string): string {
    return this.visitSets(filters, filters.filter((f) => found(f) && !held(f)), days)
      .map((c) => ` AND ${c}`)
      .join('')
  }

  /**
   * The sets of visits that pick a read's visits, as conditions: one for each filter on what a
   * visit holds (heldCondition), and one for all of `openers`, the filters on what its first
   * event gives (openersCondition). visitRows and foundConditions each choose their openers.
   */
  private visitSets(filters: Filter[], openers: Filter[], days: string): string[] {
    return [...filters.filter(held).map((f) => this.heldCondition(f, days)), ...(openers.length ? [this.openersCondition(openers, days)] : [])]
  }

  /** A filter whose visits are found among the events (`found`) as a condition on an events row of a visit of `days`. */
  private foundCondition(f: Filter, days: string): string {
    return held(f) ? this.heldCondition(f, days) : this.openerCondition(f, days)
  }

  /** A filter as a condition on an events row without a visit (it stands as a visit of its own). */
  ownVisitCondition(f: Filter): string {
    const p = f.prop
    if (f.name !== 'goal' && p.level === 'visit') return compare(p.filterExpr ?? p.eventExpr, f, this.params)
    return negate(f, this.holdsCondition(f))
  }

  /**
   * A filter as a condition on an events row: without a visit, its own (ownVisitCondition); with
   * one, its visit's for a filter whose visits are found among the `days`' events (`found`: on
   * what a visit holds, or on what its first event gives), and for one every event of a visit
   * answers as its visit does (`carried`). Not so for the entry and exit pages, which no one
   * event of a visit gives as it is.
   */
  private eventCondition(f: Filter, days: string): string {
    if (!found(f)) return this.ownVisitCondition(f)
    return this.visitless ? `if(visit_id != 0, ${this.foundCondition(f, days)}, ${this.ownVisitCondition(f)})` : this.foundCondition(f, days)
  }

  /** eventCondition for a folded read (together.ts), over the UTC days `days` (SQL of the Array(Date)) that may hold events without a visit or not (`visitless`). */
  eventFilter(f: Filter, days: string, visitless: boolean): string {
    this.visitless = visitless
    return this.eventCondition(f, days)
  }

  /** ` AND` the conditions on an events row of the filters every event of a visit answers as its visit does (`carried`); '' when none. */
  carriedConditions(filters: Filter[]): string {
    return filters
      .filter(carried)
      .map((f) => ` AND ${this.ownVisitCondition(f)}`)
      .join('')
  }

  /** Visits of the site on `days` matching the filters, as a subquery; with `ranged`, only those starting in the range. */
  visits(days: string, filters: Filter[], ranged: boolean, ids?: string): string {
    return `(${this.visitRows(days, filters, ranged, '*', undefined, ids)})`
  }

  /**
   * In a grouped read of visit rows whose every ask has a condition on what a visit holds (the
   * asks flushLive's `holding` puts together: a question under two such filters or more and its
   * neighbours), a condition on the visit ids (the sorting key), for PREWHERE, keeping every
   * visit some ask may keep before FINAL merges them; null when an ask has none. Each ask's
   * visits are among those of one of its filters not negated, a page or an event name first (the
   * events' sorted copy finds those): the visits holding any of those, found in one read of the
   * events (as heldCondition). When an ask has only negated
   * ones, each ask's sets AND'ed, OR'ed over the asks. Exact either way: the asks' conditions, on
   * the merged rows, keep their own. (The read of the exit page panel under
   * `page==/pricing;event==Signup` and its two neighbours at ten million events, alone: 40.6 ms
   * with the OR of the asks' sets, 37.1 with the one set.)
   */
  heldByAny(asks: readonly GroupedAsk[], days: string): string | null {
    const each = asks.map((a) => (a.conds ?? []).filter(held))
    if (each.some((c) => c.length === 0)) return null
    const chosen = each.map((c) => c.find((f) => f.op !== '!=' && listed(f)) ?? c.find((f) => f.op !== '!='))
    if (chosen.some((f) => f === undefined)) {
      const made = new Map<string, string>()
      const ids = (f: Filter) => {
        const id = JSON.stringify(f)
        if (!made.has(id)) made.set(id, this.heldCondition(f, days))
        return made.get(id)!
      }
      return `(${each.map((c) => c.map(ids).join(' AND ')).join(' OR ')})`
    }
    const distinct = [...new Map(chosen.map((f) => [JSON.stringify(f), f!])).values()]
    return this.visitsWith(days, `(${distinct.map((f) => this.holdsCondition(f)).join(' OR ')})`)
  }

  /**
   * The `columns` (SQL over a visit row) of the visits `visits` picks, `where` (SQL over a visit
   * row) holding too: a SELECT with no subquery. A visit row is what the property and filter SQL
   * sees: `visits` merged with FINAL, every column and the exit page (`exit_page`). The
   * conditions go in the same WHERE, which ClickHouse applies to the merged rows (a condition on
   * a column the merge changes, as `entry_page`, sees the whole visit). Listing the columns in a
   * subquery and filtering around it cost 6 ms of planning on every read (15 ms against 9 for a
   * day without visits, 32 against 26 for today's at ten million events).
   *
   * A filter on what a visit holds (`held`: a page viewed, an event sent, a goal…) picks the
   * visits by their ids before FINAL merges their rows (PREWHERE on the sorting key, heldCondition),
   * rather than after it merged every visit of the days: a visit holds a value when one of its
   * rows does. At ten million events, today's totals under `page==/pricing`, the read alone on
   * one thread, 34 -> 22 ms (the page panel's neighbour in exit pages); as asked, the aggregate
   * 43 -> 37 ms, the exit pages 58 -> 52 (medians of 15); at a hundred million 274 -> 222 and 292 -> 277.
   * So too a filter on what a visit's first event gives (`onFirstEvent`: the source, the
   * country…): the visits whose row holding their first event gives the value (openerCondition),
   * as firstEventOnly counts them. Page flow under `source==Google` 62 -> 54 ms, under
   * `country==US` 53 -> 47; at a hundred million under `source==Google` 281 -> 242. Several such
   * filters are one set (openersCondition), where each was a set of its own, each a read of the
   * day's rows: at ten million events, today live (alternating, medians of 9), under
   * `country==US;source==Google` the aggregate 41 -> 21 ms, the daily series 67 -> 45, page flow
   * 50 -> 41; under `country==US;browser==Chrome` the series 44 -> 31, page flow 48 -> 33, the
   * channel panel 35 -> 23.
   */
  visitRows(days: string, filters: Filter[], ranged: boolean, columns: string, where?: string, ids?: string): string {
    const rows = `site = ${this.site} AND day IN ${days}`
    const byIds = (f: Filter) => held(f) || onFirstEvent(f)
    const keyed = [...this.visitSets(filters, filters.filter(onFirstEvent), days), ...(ids ? [ids] : [])]
    const conds = [...(keyed.length ? [] : [rows]), ...(ranged ? [this.inRange('start')] : []), ...filters.filter((f) => !byIds(f)).map((f) => this.visitCondition(f, days)), ...(where ? [where] : [])]
    const pre = keyed.length ? `\n      PREWHERE ${[rows, ...keyed].join(' AND ')}` : ''
    return `SELECT ${columns}, exit.2 AS exit_page FROM visits FINAL${pre}${conds.length ? `\n      WHERE ${conds.join('\n        AND ')}` : ''}`
  }

  /** Visit rows with their revenue (`r_amount`, `r_events`: see visitRevenue) when the question asks it (`paid`). */
  private withRevenue(visits: string, days: string, paid: string | null): string {
    if (!paid) return visits
    return `(SELECT * FROM ${visits} AS v
      LEFT JOIN (SELECT visit_id, sum(revenue_amount) AS r_amount, count() AS r_events FROM events
        WHERE site = ${this.site} AND toDate(ts) IN ${days} AND visit_id != 0 AND ${paid} GROUP BY visit_id) AS r USING (visit_id))`
  }

  /**
   * Events of the site in the range on `days` whose visit matches the filters (or, without a
   * visit, the event itself). A filter on a property every event of a visit carries (country,
   * browser…: `onEveryEvent`) is checked on the event itself, as for an event without a visit:
   * finding the visits first read every visit of the range (a page breakdown under `country==US`
   * at ten million events: 1.0 s, against 0.5 s without).
   *
   * With `few` (a condition on the events read that few events meet: a custom event, a link),
   * the visits are looked for only among those holding such an event. The set of every visit
   * the filters keep outgrew the memory one question may use (1 GiB) under `page==/pricing` at
   * a hundred million events; at ten million it needed over 300 MB and took 1.8–2.4 s, the
   * narrowed one under 100 MB and 1.0–1.2 s.
   *
   * When the other filters are all on what a visit holds (`held`: a page viewed, an event sent…),
   * the visits holding it are found among the events (heldCondition), not read from `visits`,
   * and every condition is checked before the other columns are read (PREWHERE): ClickHouse left
   * the sets out of the conditions it moves there itself. Today's event panel under
   * `page==/pricing` at a hundred million events took 102 ms so against 181 through `visits`.
   *
   * `also`: a condition on the events read besides (the rows the read counts). `after`: one
   * more, checked on the rows the others keep only (WHERE after PREWHERE): the conditions of a
   * grouped read's asks (keptByAny), OR'ed together over sets of visits. Left to ClickHouse, the
   * OR went to PREWHERE with the rest and was worked out for every event of the day: the
   * outbound panel under `page==/pricing;event==Signup` at ten million events, the read alone
   * on one thread, 46-50 ms against 35-36.
   * `join`: a grouped read's ARRAY JOIN (GroupedKeys), put after FROM.
   * Returns the events' FROM clause and their conditions.
   */
  private eventsInScope(days: string, filters: Filter[], also: string, few?: string, after?: string, join = ''): string {
    const base = `site = ${this.site} AND toDate(ts) IN ${days} AND ${this.inRange('ts')}`
    // (ClickHouse takes an ARRAY JOIN before a JOIN)
    const from = `FROM events${join}${this.openerJoin(days)}`
    const others = filters.filter((f) => !carried(f))
    const own = this.carriedConditions(filters)
    const then = after ? `\n      WHERE ${after}` : ''
    if (others.length === 0) return after ? `${from}\n      PREWHERE ${base}${own} AND ${also}${then}` : `${from}\n      WHERE ${base}${own} AND ${also}`
    // (days without an event outside a visit: not even its columns are read)
    const alone = this.visitless ? ` OR (visit_id = 0 AND ${others.map((f) => this.ownVisitCondition(f)).join(' AND ')})` : ''
    if (others.every(found)) return `${from}\n      PREWHERE ${base}${own} AND ${also} AND ((visit_id != 0${this.foundConditions(others, days)})${alone})${then}`
    const holding = few ? ` WHERE visit_id IN (SELECT visit_id FROM events WHERE ${base}${own} AND visit_id != 0 AND ${few})` : ''
    const visitIds = `SELECT visit_id FROM ${this.visits(days, others, false)}${holding}`
    return `${from}\n      WHERE ${base}${own} AND (visit_id IN (${visitIds})${alone}) AND ${also}${after ? ` AND ${after}` : ''}`
  }

  /**
   * Sums per (dim, key, bucket) for several visit properties at once (the rollup build's), over
   * the UTC `days`: each visit row (and each event without a visit) is read once and stands in
   * a row per property, `ARRAY JOIN` of (name, value) from the very expressions `sql` groups by
   * for one property (`expr`, `eventExpr`, `keyed`). No revenue: the rollup holds none.
   *
   * With `held` (a property a visit holds several of: `page`, `event`), a held cube's rows
   * (HELD_CUBES): for each value a visit holds, the totals (dim '') and the properties over the
   * visits holding it, keyed `value\0key`, what `sql` answers under `<held>==<that value>`. A
   * visit row is the visit's once per value it holds (`pages` and `event_names` list each once);
   * an event without a visit stands as a visit holding its own page or event name when it has
   * one (as ownVisitCondition has it); a visit holding none is in no row, as it matches no such filter.
   */
  visitPropertiesSql(days: string[], names: readonly string[], held?: string): string {
    const q = this.q
    const props = names.map((n) => [n, PROPERTIES[n]] as const)
    if (props.some(([, p]) => p?.level !== 'visit')) throw new Error('visitPropertiesSql takes visit properties only')
    const h = held === undefined ? null : heldProperty(held)
    if (h && this.by) throw new Error('a held cube is keyed by the value held, not by another property')
    const tz = this.params.add('String', q.timezone)
    const d = this.params.add('Array(Date)', days)
    // with `held`, each key follows the value held: the visit row's (ARRAY JOIN) or the event's own
    const key = (k: string, row: 'visit' | 'own') => (!h ? this.keyed(k, row) : `concat(${row === 'visit' ? 's_held' : h.expr}, char(0), ${k})`)
    const named: (readonly [string, string | null])[] = [...(h ? [['', null] as const] : []), ...props.map(([n]) => [n, n] as const)]
    const pairs = (expr: (p: VisitProperty) => string, row: 'visit' | 'own') =>
      `[${named.map(([n, p]) => `(${this.params.add('String', n)}, ${key(p === null ? "''" : `CAST(${expr(PROPERTIES[p] as VisitProperty)} AS String)`, row)})`).join(', ')}]`
    const own = q.filters.length ? ` AND ${q.filters.map((f) => this.ownVisitCondition(f)).join(' AND ')}` : ''
    const holds = h ? ` AND ${holders(h, this.params)}` : ''
    return `SELECT dim, key, bucket, ${OUTER}, ${OUTER_MEASURES} FROM (
      SELECT kv.1 AS dim, kv.2 AS key, ${localBucket(q.interval, 'start', q.timezone, this.params)} AS bucket, ${visitSums(this.nets)}, ${NO_REVENUE}, ${NO_SCROLL}
      FROM ${this.visits(d, q.filters, true)}${h ? `
      ARRAY JOIN ${h.visitArray} AS s_held` : ''}
      ARRAY JOIN ${pairs((p) => p.expr, 'visit')} AS kv
      GROUP BY dim, key, bucket, day, toDate(start, ${tz})
      UNION ALL
      SELECT kv.1 AS dim, kv.2 AS key, ${localBucket(q.interval, 'ts', q.timezone, this.params)} AS bucket, ${eventSums(this.nets, false, true)}, ${NO_REVENUE}, ${NO_SCROLL}
      FROM events
      ARRAY JOIN ${pairs((p) => p.eventExpr, 'own')} AS kv
      WHERE site = ${this.site} AND toDate(ts) IN ${d} AND ${this.inRange('ts')} AND visit_id = 0${own}${holds}
      GROUP BY dim, key, bucket
    ) GROUP BY dim, key, bucket`
  }

  /**
   * A row's key and bucket and what it is grouped by besides `rest`: the value `key` (over a visit
   * row or an events row: `row`; with `by`, prefixed; '' for none) and the question's bucket; with
   * `together`, the grouping sets of those asks (groupingSets), their conditions as `row` has them.
   */
  private keysOf(rows: 'visit' | 'opens' | 'event' | 'visitless', key: string | null, rest: string, together: readonly GroupedAsk[] | null, days: string): GroupedKeys {
    // `visitless`: events rows without a visit, each its own (a condition on it is its own: ownVisitCondition);
    // `opens`: the rows of `visits` holding a visit's first event, as inserted (firstEventOnly), whose
    // pages and event names are those of their own part only: a filter on what a visit holds is its set of visits (heldCondition)
    const row = rows === 'visit' || rows === 'opens' ? 'visit' : 'event'
    const bucket = (i: Interval | undefined) => localBucket(i, row === 'visit' ? 'start' : 'ts', this.q.timezone, this.params)
    if (together) {
      const cond = (f: Filter) => {
        if (rows === 'opens' && held(f)) return this.heldCondition(f, days)
        if (row === 'visit') return this.visitCondition(f, days)
        return rows === 'event' ? this.eventCondition(f, days) : this.ownVisitCondition(f)
      }
      return groupingSets(together, row, { bucket, cond }, rest)
    }
    const k = key === null ? "''" : this.keyed(`CAST(${key} AS String)`, rows === 'visitless' ? 'own' : row)
    return { select: `${k} AS key, ${bucket(this.q.interval)} AS bucket`, groupBy: ['key', 'bucket', rest].filter((x) => x !== '').join(', '), join: '' }
  }

  /**
   * Sums per (key, bucket) over the UTC `days` (ISO dates); `byDay`, per (key, bucket, UTC day: `day`).
   * `together`: instead of the question's interval (and without an event property, its property),
   * several (GroupedAsk) over one read, each row told by `g` (see groupingSets); with an event
   * property, the asks differ in their buckets and conditions only (their `prop` is not read),
   * and those must be on properties every event carries.
   */
  sql(days: string[], byDay = false, together: readonly GroupedAsk[] | null = null, how: ReadOptions = {}): string {
    const branches = this.branches(days, byDay, together, how.visitless ?? true)
    // unmerged: each branch's rows as they are (sums named s_…), added up by the caller (addedUp): the outer
    // GROUP BY cost some 5 ms of planning on every read
    if (how.merged === false) return branches.join(BRANCHES)
    const g = together ? 'g, c, ' : ''
    return `SELECT ${g}key, bucket, ${byDay ? 'toString(s_day) AS day, ' : ''}${OUTER}, ${OUTER_MEASURES} FROM (
      ${branches.join(BRANCHES)}
    ) GROUP BY ${g}key, bucket${byDay ? ', s_day' : ''}`
  }

  /** The reads `sql` puts together (see there), each a SELECT with its rows' sums named s_…. */
  branches(days: string[], byDay: boolean, together: readonly GroupedAsk[] | null, visitless: boolean): string[] {
    this.visitless = visitless
    const q = this.q
    if (q.oneKey && (q.property?.level !== 'event' || q.property.visitArray)) throw new Error('oneKey is for an event property no visit holds a list of')
    const tz = this.params.add('String', q.timezone)
    const d = this.params.add('Array(Date)', days)
    // One UTC day whose every instant has the same date in the site's zone (a live read of
    // today, in UTC or a zone at UTC's time that day): every row has that day for its UTC and
    // its local day, and the rows group by their value and bucket alone. Grouping by a String
    // and two dates made ClickHouse hash each row's three keys together: today's page rows at
    // ten million events took 50 ms against 39 grouped by the page alone.
    const sameDay = days.length === 1 && utcAllDay(days[0], q.timezone) ? this.params.add('Date', days[0]) : null
    // with byDay each branch says the UTC day of its rows (a visit's, an event's): branches group by it already
    const [visitDay, eventDay] = !byDay ? ['', ''] : sameDay ? [`, ${sameDay} AS s_day`, `, ${sameDay} AS s_day`] : [', day AS s_day', ', toDate(ts) AS s_day']
    const visitRest = sameDay ? '' : `day, toDate(start, ${tz})`
    const prop = q.property
    const branches: string[] = []
    const paid = revenueCondition(q.filters, this.params)
    if (!prop || prop.level === 'visit') {
      // The totals are a visit property's rows added up: a visit's pageviews and events count
      // with the visit, when it starts. (Counting them from events when they happen reads every
      // event of the range under a filter: seven times slower at ten million events.)
      const p = prop as VisitProperty | undefined
      const picked = together && keptByAny(together)
      // today's headcount as kept at insert (headcount_days, migration 035), or under a page filter the
      // matching pages' (page_days, pageHeadcountAnswer): the rows below, from states; its bucket is its
      // day's midnight's, as every visit start's of the day (headcountDaysAnswer)
      const kept = keptHeadcount(q, days, together)
      if (kept) {
        const bucket = localBucket(q.interval, "toDateTime64(day, 3, 'UTC')", q.timezone, this.params)
        const pages = kept === 'page_days' ? ` AND ${compare('pathname', q.filters[0], this.params)}` : ''
        branches.push(`SELECT '' AS key, ${bucket} AS bucket, ${HEADCOUNT_DAY_SUMS}, ${NO_REVENUE}, ${NO_SCROLL}${visitDay}
      FROM ${kept}
      WHERE site = ${this.site} AND day IN ${d}${pages}
      GROUP BY key, bucket`)
      } else if (pageviewHeadcount(q, days, together)) {
        const page = q.filters.find((f) => f.name === 'page')!
        const bucket = localBucket(q.interval, "toDateTime64(toDate(ts), 3, 'UTC')", q.timezone, this.params)
        branches.push(`SELECT '' AS key, ${bucket} AS bucket, ${headcountSums(this.nets)}, ${NO_REVENUE}, ${NO_SCROLL}${eventDay}
      FROM events
      PREWHERE site = ${this.site} AND toDate(ts) IN ${d} AND visit_id != 0${this.carriedConditions(q.filters)} AND ${this.holdsCondition(page)}
      GROUP BY key, bucket${byDay && !sameDay ? ', s_day' : ''}`)
      } else if (firstEventOnly(q, together)) {
        // Only visitors and networks, by and under what a visit's first event gives: from the
        // rows holding each visit's first event (`opens`, migration 034), as inserted, without
        // the merge FINAL makes of every row of the days read. Each visit has one such row, with
        // its properties, visitor, network and start (firstEventOnly).
        // Filters on what a visit holds pick the visits found among the days' events (heldCondition:
        // an opening row's own pages are those of its part only), before the rest is read (PREWHERE).
        const rows = `site = ${this.site} AND day IN ${d}`
        const holding = q.filters.filter(held).map((f) => this.heldCondition(f, d))
        // (the asks' conditions, sets of visits OR'ed together, after the rest: see eventsInScope's `after`)
        const pre = holding.length ? [rows, ...holding] : picked ? [rows, 'opens = 1'] : []
        const conds = [...(pre.length ? [] : [rows]), ...(pre.includes('opens = 1') ? [] : ['opens = 1']), this.inRange('start'), ...q.filters.filter((f) => !held(f)).map((f) => this.visitCondition(f, d)), ...(picked ? [picked] : [])]
        const openKeys = this.keysOf('opens', p ? p.expr : null, visitRest, together, d)
        branches.push(`SELECT ${openKeys.select}, ${headcountSums(this.nets)}, ${NO_REVENUE}, ${NO_SCROLL}${visitDay}
      FROM visits${pre.length ? `\n      PREWHERE ${pre.join(' AND ')}` : ''}
      WHERE ${conds.join('\n        AND ')}
      GROUP BY ${openKeys.groupBy}`)
      } else {
        // lean: visitors and networks alone are asked, the other sums are not worked out
        const visitKeys = this.keysOf('visit', p ? p.expr : null, visitRest, together, d)
        branches.push(`SELECT ${visitKeys.select}, ${q.lean === true && !paid ? headcountSums(this.nets) : visitSums(this.nets)},
        ${paid ? visitRevenue(this.nets) : NO_REVENUE}, ${NO_SCROLL}${visitDay}
      FROM ${this.withRevenue(this.visits(d, q.filters, true, (together && this.heldByAny(together, d)) || undefined), d, paid)}${picked ? `\n      WHERE ${picked}` : ''}
      GROUP BY ${visitKeys.groupBy}`)
      }
      const own = `${q.filters.length ? ` AND ${q.filters.map((f) => this.ownVisitCondition(f)).join(' AND ')}` : ''}${picked ? ` AND ${picked}` : ''}`
      const eventKeys = this.keysOf('visitless', p ? p.eventExpr : null, byDay && !sameDay ? 's_day' : '', together, d)
      if (visitless) branches.push(`SELECT ${eventKeys.select}, ${eventSums(this.nets, false, true)},
        ${paid ? eventRevenue(this.nets, paid, false) : NO_REVENUE}, ${NO_SCROLL}${eventDay}
      FROM events${eventKeys.join}
      WHERE site = ${this.site} AND toDate(ts) IN ${d} AND ${this.inRange('ts')} AND visit_id = 0${own}
      GROUP BY ${eventKeys.groupBy}`)
    } else {
      // Filters on the property itself pick its values; the others pick visits.
      const name = nameOf(prop)
      const ownFilters = q.filters.filter((f) => f.name === name)
      const others = q.filters.filter((f) => f.name !== name)
      const value = valueExpr(prop, this.params)
      // with `together`, the asks' sets each have the property's value: `held` on a visit row, `value` on an event's
      // (oneKey: every value's rows as one)
      const key = q.oneKey ? "''" : value
      const asValue: VisitProperty = { level: 'visit', dim: prop.dim, expr: 'held', eventExpr: key }
      const asks = together && together.map((a) => ({ ...a, prop: asValue }))
      // Lean (q.lean), over whole UTC days in a zone at UTC's time: every visit of those days
      // that the filters keep is one of the question's, in the range with all its events, and
      // holds a value when one of its events does (a pageview of the page, the event itself). A
      // value's visitors are then those of its holding events in those visits, counted where its
      // pageviews are: with only filters every event carries besides the property's own, with no
      // read of the visits (today's page rows at ten million events took 40 ms so against 70 ms);
      // with others (a page viewed), the visits they keep are looked up (eventsInScope) rather
      // than read whole with every value they hold (the event panel under `page==/pricing` at a
      // hundred million events, today live: 275 ms against 354, medians of 5).
      const leanHeld = !!prop.visitArray && q.lean === true && !this.by && wholeDaysOnly({ ...q, filters: others.filter(carried) }, days)
      if (prop.visitArray && !leanHeld) {
        // `held`: a value the visit holds; `key` the row's (with `by`, prefixed)
        const visitKeys = this.keysOf('visit', 'held', visitRest, asks, d)
        const picked = asks && keptByAny(asks)
        const keyConds = [...ownFilters.map((f) => compare('held', f, this.params)), ...(picked ? [picked] : [])]
        branches.push(`SELECT ${visitKeys.select}, ${holdingVisitSums(this.nets, prop.visitArray === 'pages' ? 'countIf(entry_page = held)' : 'count()')},
        ${paid ? visitRevenue(this.nets) : NO_REVENUE}, ${prop.visitArray === 'pages' ? heldPageScroll(this.nets) : NO_SCROLL}${visitDay}
      FROM ${this.withRevenue(this.visits(d, others, true), d, paid)}
      ARRAY JOIN ${prop.visitArray} AS held${keyConds.length ? `\n      WHERE ${keyConds.join(' AND ')}` : ''}
      GROUP BY ${visitKeys.groupBy}`)
      }
      const valueConds = ownFilters.map((f) => ` AND ${compare(value, f, this.params)}`).join('')
      const carrying = `${carriers(prop, this.params)}${valueConds}`
      const eventKeys = this.keysOf('event', q.oneKey ? null : value, sameDay ? '' : `toDate(ts), toDate(ts, ${tz})`, asks, d)
      const leanPage = leanHeld && prop.dim === 'page'
      // today's page rows as kept at insert, also for the pages the question picks (`page==/pricing`)
      // with their scroll depth: their kept rows beside the visits' scroll reports on them through
      // FINAL, rather than their events grouped by visit (pagesByVisit). An earlier session measured
      // the grouping faster at ten million events (54-55 -> 44-46 ms); measured again, alternating,
      // it is the slower. The page panel so asked, live, medians of 9, at ten million and at a
      // hundred million events (bench/queries.ts's stores): under `page==/pricing`
      // 55.9 -> 46.6 ms and 397 -> 233; under `page!=/docs` 236 -> 73 and 3,524 -> 268; under
      // `page==/pricing|/docs` 51.9 -> 50.7 and 355 -> 214. Under a page and another filter, as
      // under another filter alone, grouping by visit stays the faster (under
      // `page==/pricing;country==US`: 52.6 against 67.2 ms, 249 against 325).
      const pageDays = leanPage && others.length === 0 && !asks && !q.interval && pageDaysHold(q, days)
      // a live day's page rows with their scroll depth, all from its events in one read (LEAN_PAGE_VISITS),
      // but under one filter on what a visit's first event gives and no other (`source==Google`):
      // its visits are picked by id (openerCondition), and their scroll reports read so beside
      // the pages' events cost less than those events grouped by visit, the more so the more
      // visits it keeps. The page panel so asked, live, medians of 7-9, alternating, at ten
      // million and at a hundred million events: under `channel==social` (a third of the visits)
      // 99.7 -> 68.0 ms and 882 -> 452; `channel==direct` 105 -> 79 and 600 -> 376;
      // `utm_source==newsletter` 73.9 -> 72.5 and 439 -> 325; `source==Google` 65.1 -> 66.4 and
      // 488 -> 408. Under two such filters, or one and another, grouping by visit stays the
      // faster (`source==Google;channel==search`: 98.7 against 132 ms, 655 against 883).
      const oneOpener = ownFilters.length === 0 && others.length === 1 && opener(others[0])
      const pagesByVisit = leanPage && q.scroll === true && sameDay !== null && !asks && !pageDays && !oneOpener
      if (leanPage && q.scroll === true && !pagesByVisit) {
        // each view's deepest scroll in a visit, from the visits that reported one on a page they hold
        const keyConds = ownFilters.map((f) => ` AND ${compare('held', f, this.params)}`).join('')
        const visitKeys = this.keysOf('visit', 'held', visitRest, asks, d)
        branches.push(`SELECT ${visitKeys.select}, ${NO_SUMS}, ${NO_REVENUE}, ${visitPageScroll(this.nets)}${visitDay}
      FROM ${this.visits(d, others, true)}
      ARRAY JOIN scroll.1 AS held, scroll.2 AS s_depth
      WHERE has(pages, held)${keyConds}
      GROUP BY ${visitKeys.groupBy}`)
      }
      const heads = visitorsAlone(q)
      if (heads && !leanPage) {
        // visitors alone (R3's neighbours): the visits holding each page counted them above
      } else if (pageDays) {
        // today's page rows as kept at insert (page_days, migration 033): the sums below, from states
        branches.push(`SELECT ${eventKeys.select}, ${PAGE_DAY_SUMS}, ${NO_REVENUE}, ${PAGE_DAY_SCROLL}${eventDay}
      FROM page_days
      WHERE site = ${this.site} AND day IN ${d}${valueConds}
      GROUP BY ${eventKeys.groupBy}`)
      } else if (pagesByVisit) {
        branches.push(`SELECT key, bucket, ${leanPageSums(this.nets)}, ${NO_REVENUE}, ${leanPageScroll(this.nets)}${eventDay}
      FROM (
        SELECT ${eventKeys.select}, visit_id, visitor_id, ${LEAN_PAGE_VISITS}
        ${this.eventsInScope(d, others, carrying)}
        GROUP BY ${eventKeys.groupBy}, visit_id, visitor_id
      )
      GROUP BY key, bucket`)
      } else if (heads) {
        // each page's visitors: those of its pageviews in visits
        const picked = asks && keptByAny(asks)
        branches.push(`SELECT ${eventKeys.select}, ${headcountSums(this.nets)}, ${NO_REVENUE}, ${NO_SCROLL}${eventDay}
      ${this.eventsInScope(d, others, `name = 'pageview' AND visit_id != 0${valueConds}`, undefined, picked || undefined, eventKeys.join)}
      GROUP BY ${eventKeys.groupBy}`)
      } else {
        const picked = asks && keptByAny(asks)
        branches.push(`SELECT ${eventKeys.select},
        ${eventSums(this.nets, leanHeld ? `visit_id != 0 AND ${holders(prop, this.params)}` : !prop.visitArray, prop.dim !== 'page', prop.dim === 'page')},
        ${paid && !prop.visitArray ? eventRevenue(this.nets, paid, true) : NO_REVENUE}, ${prop.dim === 'page' ? OWN_PAGE_SCROLL : NO_SCROLL}${eventDay}
      ${this.eventsInScope(d, others, carrying, prop.dim === 'page' ? undefined : carrying, picked || undefined, eventKeys.join)}
      GROUP BY ${eventKeys.groupBy}`)
      }
    }
    return branches
  }
}

/** The query parameters every statement here takes besides those collected in `Params`. */
export function baseParams(q: StatsQuestion): Record<string, unknown> {
  return { site: q.site, from: q.range.from, to: q.range.to }
}

/**
 * The sums of several visit properties over the given UTC days in one read (dim, key, bucket and
 * the sums): what `sumsSql` answers for each of them as the question's property, the rollup
 * build's (test/aggregator/rollup/sql.test.ts compares the two row by row).
 */
export function visitPropertiesSql(q: StatsQuestion, names: readonly string[], days: string[], params = new Params(), by: VisitProperty | null = null): string {
  return new SumsQuery(q, params, by).visitPropertiesSql(days, names)
}

/** A held cube's rows over the given UTC days (dim: '' for the totals or a visit property; key: `value\0key`): see SumsQuery.visitPropertiesSql. */
export function heldPropertiesSql(q: StatsQuestion, filter: string, names: readonly string[], days: string[], params = new Params()): string {
  return new SumsQuery(q, params).visitPropertiesSql(days, names, filter)
}

/** The SQL of a question over the given UTC days, with its parameters: for the live path and the rollup build alike. */
export function sumsSql(q: StatsQuestion, days: string[], params = new Params(), by: VisitProperty | null = null, byDay = false, how: ReadOptions = {}): { sql: string; params: Record<string, unknown> } {
  const sql = new SumsQuery(q, params, by).sql(days, byDay, null, how)
  return { sql, params: { ...baseParams(q), ...params.values } }
}

/**
 * The branches of an unmerged read (ReadOptions `merged` false) of `q`, or of its `asks` over one
 * read (groupedSumsSql), by UTC day, each a read of its own: branchRows.
 */
function unmergedReads(q: StatsQuestion, asks: readonly GroupedAsk[] | null, days: string[], visitless: boolean): { reads: string[]; params: Record<string, unknown> } {
  const params = new Params()
  const reads = new SumsQuery(q, params).branches(days, true, asks, visitless)
  return { reads, params: { ...baseParams(q), ...params.values } }
}

/** The SQL of several asks of a question (`q.property` and `q.interval` are not read) over one read: rows told apart by `g` (groupMasks). */
export function groupedSumsSql(q: StatsQuestion, asks: readonly GroupedAsk[], days: string[], params = new Params(), byDay = false, how: ReadOptions = {}): { sql: string; params: Record<string, unknown> } {
  const sql = new SumsQuery(q, params).sql(days, byDay, asks, how)
  return { sql, params: { ...baseParams(q), ...params.values } }
}

/**
 * Visits of a question (its site, starting in its range, matching its filters), as SQL over
 * `visits`: for goals and funnels, which look inside visits. Not `ranged`: those
 * matching its filters that started on the days around it, whenever (an event in the range may
 * belong to a visit that started before it). `utc`: only the visits of those UTC days.
 */
export function scopedVisitsSql(q: StatsQuestion, params: Params, ranged = true, utc?: string[]): string {
  return `(${scopedVisitRowsSql(q, params, '*', undefined, utc, ranged)})`
}

/**
 * The visits of the question as scopedVisitsSql picks them, `where` holding too, as `columns`
 * (SQL over a visit row) read straight from `visits FINAL`: page flow read today's visits under
 * `country==US` at ten million events in 38-45 ms this way, 52-56 through scopedVisitsSql's
 * subquery of every column. `where` (SQL over a visit row) and `ranged` as scopedVisitsSql's.
 */
export function scopedVisitRowsSql(q: StatsQuestion, params: Params, columns: string, where?: string, utc?: string[], ranged = true): string {
  const { utcFirst, utcLast } = rangeDays(q.range, q.timezone)
  const days = params.add('Array(Date)', utc ?? utcDays(utcFirst, utcLast))
  return new SumsQuery(q, params).visitRows(days, q.filters, ranged, columns, where)
}

/** The question's filters as one condition on an events row without a visit (it stands as a visit of its own); '1' when none. */
export function ownVisitSql(q: StatsQuestion, params: Params): string {
  const query = new SumsQuery(q, params)
  return q.filters.length ? q.filters.map((f) => `(${query.ownVisitCondition(f)})`).join(' AND ') : '1'
}

/**
 * ` AND` the question's filters that every event of a visit answers as its visit does (country,
 * browser…), as conditions on an `events` row; '' when it has none. Events picked by them
 * belong to the visits the filters keep (or to none), so reading only those costs nothing in
 * what a visit question counts.
 */
export function carriedFiltersSql(q: StatsQuestion, params: Params): string {
  return new SumsQuery(q, params).carriedConditions(q.filters)
}

/**
 * Whether each of the UTC `days` lies wholly in the question's range and has the same date in its
 * zone all day, and every filter is one every event of a visit answers as its visit does: then
 * every visit of those days starts in the range on its UTC day, each of its events is in the
 * range, and an event's own values say whether its visit is one the filters keep (what
 * eventsInAndOutOfVisits otherwise learns by joining the visits).
 */
export function wholeDaysOnly(q: StatsQuestion, days: readonly string[]): boolean {
  return (
    q.filters.every(carried) &&
    days.every((d) => {
      const start = Date.parse(`${d}T00:00:00Z`)
      return start >= q.range.from && start + DAY <= q.range.to && utcAllDay(d, q.timezone)
    })
  )
}

/**
 * Whether the events of the UTC `days` alone tell which of them are in the question's visits, as
 * with wholeDaysOnly, the filters whose visits are found among the events allowed besides (`found`:
 * a page viewed…, a source): those are then conditions on the events of a visit (foundFiltersSql),
 * each a set of visits found among the days' events, with no read of `visits`.
 */
export function eventsTellVisits(q: StatsQuestion, days: readonly string[]): boolean {
  return q.filters.every(onEvents) && wholeDaysOnly({ ...q, filters: q.filters.filter(carried) }, days)
}

/** ` AND` the question's filters whose visits are found among the events (`found`: on what a visit holds or what its first event gives), as conditions on an events row of a visit of the UTC `days`; '' when none. */
export function foundFiltersSql(q: StatsQuestion, params: Params, days: string[]): string {
  return q.filters.some(found) ? new SumsQuery(q, params).foundConditions(q.filters, params.add('Array(Date)', days)) : ''
}

/**
 * A filter an events row of the UTC `days` answers (`onEvents`, as eventsTellVisits requires) as a
 * condition on that row: its visit's, found among the days' events or carried by every event of
 * it, or, without a visit (the days may hold such: `visitless`), its own. What a read folded
 * with its neighbours (together.ts) tells its asks apart by.
 */
export function eventFilterSql(q: StatsQuestion, params: Params, f: Filter, days: string[], visitless: boolean): string {
  if (!onEvents(f)) throw new Error(`the filter on ${f.name} is not one an events row answers`)
  return new SumsQuery(q, params).eventFilter(f, params.add('Array(Date)', days), visitless)
}

/** A filter as a condition on a merged visit row of the UTC `days` (as scopedVisitRowsSql reads them): what a read folded with its neighbours over visits (together.ts) tells its asks apart by. */
export function visitFilterSql(q: StatsQuestion, params: Params, f: Filter, days: string[]): string {
  return new SumsQuery(q, params).visitFilter(f, params.add('Array(Date)', days))
}

/**
 * A filter on the event names a visit holds: through FINAL a condition on `event_names`, a short
 * list, cheaper than a set of visits found among the events (today's headcount under
 * `event==Signup` at ten million events, 20.2 ms through FINAL against 26.1 from the rows opening
 * the visits of the set; under `page==/pricing`, whose `pages` are longer, 37.1 against 29.7).
 */
const namesHeld = (f: Filter) => f.name !== 'goal' && f.prop.level === 'event' && f.prop.visitArray === 'event_names'

/** A filter the row holding a visit's first event answers as the merged row does: on a visit property that event gives (`firstEvent`). */
const onFirstEvent = (f: Filter) => f.name !== 'goal' && f.prop.level === 'visit' && f.prop.firstEvent === true

/**
 * Whether a read for `q` may count its visitors and networks from the rows holding each visit's
 * first event (`opens`, migration 034) as inserted, without FINAL: only those are asked (`lean`,
 * with no property or a visit property), and its property and every filter, its own and those of
 * the asks read with it (`together`), are of what the first event gives (onFirstEvent), but
 * the question's own filters may also be on what a visit holds (`held`, event names aside:
 * namesHeld, unless beside another such filter, whose `pages` FINAL would read too: the source
 * panel's read under `page==/pricing;event==Signup` at ten million events, 32 ms through FINAL
 * against 25 from the opening rows of the two sets), its visits found among the events
 * (heldCondition; the source panel under `page==/pricing` at ten million events read today's
 * visits through FINAL: 58-59 -> 47-50 ms live). Each
 * visit has exactly one such row, as inserted and once merged (the collector flags one event of
 * a visit as its first: collector/visits.ts), holding the visit's visitor, network and every
 * such property as the merged row does, and its start: a visit's later events never come before
 * its first (VisitTracker.assign), so the range and the buckets, on `start`, pick it alike.
 */
export function firstEventOnly(q: StatsQuestion, together: readonly GroupedAsk[] | null = null): boolean {
  const prop = q.property
  // a filter on what a visit holds other than event names: one on event names is then a set as well
  const beside = q.filters.some((f) => held(f) && !namesHeld(f))
  return (
    q.lean === true &&
    (!prop || (prop.level === 'visit' && prop.firstEvent === true)) &&
    q.filters.every((f) => onFirstEvent(f) || (held(f) && (!namesHeld(f) || beside))) &&
    (together ?? []).every((a) => (a.prop === null || a.prop.firstEvent === true) && (a.conds ?? []).every((f) => onFirstEvent(f) || held(f)))
  )
}

/** What of the daily rollup answers a question: its dimension's rows, those of some values, or with `prefix` the cube's rows of one filter value. */
export interface RollupSlice {
  dim: string
  values: string[] | null
  prefix?: string
}

/**
 * Filters whose breakdowns the daily rollup also keeps, as a cube: for each of these visit
 * properties and every other property (custom props aside), rows per pair of values (dimension
 * `country|page`, value `US\0/pricing`), so that a panel under one such filter (`country==US`,
 * the most common click on a dashboard) is read like an unfiltered one. Each is a property every
 * event of a visit carries (onEveryEvent: an events row gives its value as its visit does), or
 * one its first event gives (OPENER_CUBE_FILTERS), whose value an events row of the visit takes
 * from the visit's opening row (SumsQuery.openerJoin).
 */
export const OPENER_CUBE_FILTERS: readonly string[] = ['source', 'channel']
export const CUBE_FILTERS: readonly string[] = ['country', 'browser', 'os', 'device', ...OPENER_CUBE_FILTERS]

/** The rollup dimension of the cube of `filter` (CUBE_FILTERS) by the property `dim`. */
export const cubeDim = (filter: string, dim: string) => `${filter}|${dim}`

/** The properties each cube filter breaks down: every one but itself. */
export const cubeDims = (): [string, VisitProperty, string][] =>
  CUBE_FILTERS.flatMap((f) => Object.keys(PROPERTIES).filter((p) => p !== f).map((p): [string, VisitProperty, string] => [cubeDim(f, p), PROPERTIES[f] as VisitProperty, p]))

/**
 * The held cubes: the daily rollup also keeps, for each page viewed (`page`) and each event name
 * sent (`event`), the totals and every visit property's rows over the visits holding it
 * (dimension `page|source`, value `/pricing\0Google`; the totals `page|`, value `/pricing\0`),
 * so that a dashboard under `page==/pricing` (a row of the top pages clicked) or `event==Signup`
 * reads its cards, its chart and its visit panels like an unfiltered one (every visit property,
 * VISIT_PROPERTY_NAMES). Event properties under
 * such a filter (pages, events, links, goals) are still asked of events.
 */
export const HELD_CUBES: readonly string[] = ['page', 'event']

/**
 * The rows of the daily rollup that answer a question, if any: whole local days, day buckets
 * or none, and either no filter (the rows of its property, or the totals), one filter
 * `visit-property==value` and no property (the rows of that value: a visit property's row is
 * exactly the visits the filter keeps, their pageviews and events with them, and the visitors
 * of one UTC day are distinct in it), one filter `==` on the property broken down (it picks
 * that property's rows), or one value of a cube filter and another property (the cube's rows of
 * that value, CUBE_FILTERS), or no property and one value of a cube filter with one of another
 * visit property (that cell of the cube), or one page or event name (`page==/pricing`) with a
 * visit property or none (the held cube's rows of that value, HELD_CUBES). Several values of a filter on another property, a pattern or a negation
 * would add rows up and count twice a visitor with visits of two values, so those are asked of
 * visits and events.
 */
export function rollupSlice(q: StatsQuestion): RollupSlice | null {
  // (the rollup's rows are per value: their visitors would be added up)
  if (q.oneKey) return null
  if (q.interval !== undefined && !['day', 'week', 'month'].includes(q.interval)) return null
  if (!wholeDays(q.range, q.timezone)) return null
  if (q.filters.length === 0) return { dim: q.property ? nameOf(q.property) : '', values: null }
  const plain = (f: Filter) => f.op === '==' && !f.goals && !f.others && (f.prop.level !== 'visit' || f.prop.filterExpr === undefined) && (f.exact || !f.values.some((v) => v.includes('*')))
  if (q.filters.length === 2 && !q.property) {
    // the totals under one value of a cube filter and one of another visit property: that cell of the cube
    const [a, b] = q.filters
    const [cell, other] = CUBE_FILTERS.includes(a.name) ? [a, b] : [b, a]
    const one = (f: Filter) => plain(f) && f.values.length === 1 && f.prop.level === 'visit'
    if (!CUBE_FILTERS.includes(cell.name) || cell.name === other.name || !one(cell) || !one(other)) return null
    return { dim: cubeDim(cell.name, other.prop.dim), values: [`${cell.values[0]}\u0000${other.values[0]}`] }
  }
  const [f] = q.filters
  if (q.filters.length !== 1 || !plain(f)) return null
  if (q.property) {
    // a breakdown filtered on its own property: the filter picks rows (see SumsQuery.sql), each
    // exactly its row of the unfiltered breakdown (the panel a value was clicked in)
    if (f.name === nameOf(q.property)) return { dim: f.name, values: f.values }
    // a visit property under one page or event name: the held cube's rows of that value
    if (HELD_CUBES.includes(f.name) && f.values.length === 1 && q.property.level === 'visit') return { dim: cubeDim(f.name, q.property.dim), values: null, prefix: f.values[0] }
    // a breakdown under one value of a cube filter: that value's rows of the cube
    if (f.values.length === 1 && CUBE_FILTERS.includes(f.name) && !q.property.propKey) return { dim: cubeDim(f.name, q.property.dim), values: null, prefix: f.values[0] }
    return null
  }
  // the totals under one page or event name: its row of the held cube's totals
  if (HELD_CUBES.includes(f.name) && f.values.length === 1) return { dim: cubeDim(f.name, ''), values: null, prefix: f.values[0] }
  if (f.values.length !== 1 || f.prop.level !== 'visit') return null
  return { dim: f.prop.dim, values: f.values }
}

/** Whether the daily rollup answers the question's whole days (rollupSlice). */
export const rollupAnswers = (q: StatsQuestion): boolean => rollupSlice(q) !== null

/**
 * The UTC days whose rollup holds every event the day has now: built from as many events as
 * the day counts (event_counts, kept at insert). A day with events but no such build (today,
 * a day with late events, a seed not yet built) is answered from events and visits instead,
 * so no answer ever comes from a half-built or outdated state.
 */
export async function currentDays(client: ClickHouseClient, first: string, last: string): Promise<Set<string>> {
  return new Set(buildsIn(await eventDays(client), first, last).keys())
}

/**
 * What the store holds of a UTC day with events: `build`, the id of the newest build of its
 * rollup when that build holds every event the day has now ('' when not: see currentDays);
 * `parts`, the names of the day's active parts of `events` and `visits` ('' when the store
 * does not list them: a cluster's tables are Distributed ones, whose parts are on the shards).
 */
export interface KnownDay {
  build: string
  parts: string
  /** Whether the day has an event without a visit (visitless_counts, kept at insert; may count one twice, never misses one). */
  visitless: boolean
  /** The day's events, every site's (event_counts, with this process's inserts since): what a read of it may cost (dayByDay). */
  events: number
}

/** The current days (currentDays) among `days` (eventDays) from `first` to `last`, with the id of the build behind each: a rebuild changes it. */
const buildsIn = (days: Map<string, KnownDay>, first: string, last: string) =>
  new Map([...days].filter(([day, d]) => d.build !== '' && day >= first && day <= last).map(([day, d]) => [day, d.build]))

/**
 * What rows worked out from a day's visits and events (not its rollup) stay right while: its
 * build, when current (a build is made from the day's events and never changes), else its
 * parts; null when neither is known (nothing is kept). A part never changes either: an insert
 * adds one, a merge or a mutation (a purge's DELETE) replaces some by new names, and events and
 * visits are listed alike, so rows read while the visits of an insert were not yet in are kept
 * under names that are already gone. Whether the day has events without a visit is part of it
 * too: rows read without them (the count of an insert not yet in) are kept under a version that
 * is gone once it is.
 */
const dayVersion = (d: KnownDay | undefined): string | null => {
  const v = !d ? null : d.build !== '' ? `b${d.build}` : d.parts !== '' ? `p${d.parts}` : null
  return v === null ? null : `${v}${d!.visitless ? '+' : ''}`
}

/**
 * Every UTC day that has events (see KnownDay). The newest build, not every build's:
 * rollup_builds merges a day's rows into its newest, and what was kept for a build must not be
 * read again because of a merge. A day without events has no visits
 * either, so nothing is read for it: a comparison with the weeks before a site's first event,
 * or the day after the range, costs no query. Every day at once (a row a day in each table):
 * the questions a dashboard asks together, their neighbours over other days included, share
 * this one read instead of one each (about 11 ms apiece at ten million events: readEventDays).
 * event_counts never lowers (retention deletes events, not counts), so a day it lacks has
 * never had an event.
 */
async function eventDays(client: ClickHouseClient): Promise<Map<string, KnownDay>> {
  const look = looks.getStore()
  let days = look?.get(client)
  if (!days) {
    days = lookAtDays(client)
    look?.set(client, days)
  }
  return days
}

/**
 * One answer's look at the days (eventDays), for an answer worked out in stages: a breakdown's
 * "(other)" is counted after its rows are known, and looked the days up again (about 11 ms at ten
 * million events) and could have seen an insert its rows did not. Within `inOneLook` every stage
 * reads the days as the first one found them; outside it, each question looks for itself.
 */
const looks = new AsyncLocalStorage<Map<ClickHouseClient, Promise<Map<string, KnownDay>>>>()
/** Answers in stages being worked out (inOneLook): the storage is enabled while there are any. */
let staged = 0

export async function inOneLook<T>(answer: () => Promise<T>): Promise<T> {
  if (looks.getStore()) return answer()
  staged++
  try {
    return await looks.run(new Map(), answer)
  } finally {
    // While an AsyncLocalStorage is enabled, Node tracks every promise and callback of the
    // process, the beacons' too (3-7 µs more main thread a beacon under the bench's load): it is
    // enabled again by the next answer's run.
    if (--staged === 0) looks.disable()
  }
}

/** What the store said of a day with events (readDayCounts), with this process's inserts since added (HeldLook). */
interface DayCounts {
  events: number
  /** The newest build's id and the events it was built from. */
  build: { id: string; events: number } | null
  visitless: number
  /** The day's active parts, as the store listed them. */
  parts: string
  /** The newest logged insert added to the day since (StoreWrites.seq), 0 for none. */
  inserted: number
}

/**
 * The days as last read from the embedded store, kept while this process wrote nothing but
 * events blocks that said their days (store/writes.ts: the spool writer's inserts), whose rows
 * are added to the counts read: a question on a live site then costs no look at the days (11–33
 * ms of the engine at ten million events, however few days the question spans). A day an
 * insert added to is versioned by the parts read and that insert's number, which no later look
 * gives anything else. Any other write (a build, a purge, a migration, an insert by SQL) and the
 * store is read again; a ClickHouse server (other writers) is read at every question, as before.
 */
interface HeldLook {
  generation: number
  seq: number
  counts: Map<string, DayCounts>
  days: Map<string, KnownDay>
}
const heldLooks = new WeakMap<StoreWrites, HeldLook>()

async function lookAtDays(client: ClickHouseClient): Promise<Map<string, KnownDay>> {
  const writes = storeWrites(client)
  if (!writes) return knownDays(await readDayCounts(client))
  const held = heldLooks.get(writes)
  if (held && held.generation === writes.generation) {
    const since = writes.since(held.seq)
    if (since) {
      if (since.length > 0) {
        addInserts(held.counts, since)
        held.seq = writes.seq
        held.days = knownDays(held.counts)
      }
      return held.days
    }
  }
  const { generation, seq } = writes
  const counts = await readDayCounts(client)
  // inserts that ended while the store was read may be in the counts already: added again, a day
  // counts more events than it has (read from events rather than its build), never fewer
  const since = writes.since(seq)
  if (!since) return knownDays(counts)
  addInserts(counts, since)
  const fresh: HeldLook = { generation, seq: writes.seq, counts, days: knownDays(counts) }
  if (writes.generation === generation) heldLooks.set(writes, fresh)
  return fresh.days
}

function addInserts(counts: Map<string, DayCounts>, inserts: { seq: number; days: DayRows }[]): void {
  for (const { seq, days } of inserts) {
    for (const [day, { rows, visitless }] of days) {
      let c = counts.get(day)
      if (!c) counts.set(day, (c = { events: 0, build: null, visitless: 0, parts: '', inserted: 0 }))
      c.events += rows
      c.visitless += visitless
      c.inserted = seq
    }
  }
}

/** The days with events, each current when its newest build holds as many events as the day has. */
function knownDays(counts: Map<string, DayCounts>): Map<string, KnownDay> {
  const days = new Map<string, KnownDay>()
  for (const [day, c] of counts) {
    if (c.events <= 0) continue
    days.set(day, {
      build: c.build && c.build.events >= c.events ? c.build.id : '',
      parts: c.inserted ? `${c.parts}+${c.inserted}` : c.parts,
      visitless: c.visitless > 0,
      events: c.events,
    })
  }
  return days
}

async function readDayCounts(client: ClickHouseClient): Promise<Map<string, DayCounts>> {
  // four small reads in one query, put together here: a UNION ALL costs about half what the
  // same reads joined in the store did (11 against 20 ms at ten million events)
  const rows = await asked(client, 'event days', async () => {
    const rs = await client.query({
      query: `SELECT 'events' AS of, toString(day) AS day, sum(events) AS n, '' AS s FROM event_counts GROUP BY day
              UNION ALL SELECT 'build', toString(day), max(events), toString(argMax(build_id, built_at)) FROM rollup_builds GROUP BY day
              UNION ALL SELECT 'visitless', toString(day), sum(events), '' FROM visitless_counts GROUP BY day
              UNION ALL SELECT 'parts', toString(toDate(partition)) AS day, 0, arrayStringConcat(arraySort(groupArray(concat(table, '/', name))), ' ')
                        FROM system.parts WHERE active AND database = currentDatabase() AND table IN ('events', 'visits') GROUP BY day`,
      format: 'JSONEachRow',
    })
    return rs.json<{ of: 'events' | 'build' | 'visitless' | 'parts'; day: string; n: string | number; s: string }>()
  })
  const of = (kind: string) => new Map(rows.filter((r) => r.of === kind).map((r) => [r.day, r]))
  const [builds, visitless, parts] = [of('build'), of('visitless'), of('parts')]
  const counts = new Map<string, DayCounts>()
  for (const { day, n } of rows.filter((r) => r.of === 'events' && Number(r.n) > 0)) {
    const b = builds.get(day)
    counts.set(day, {
      events: Number(n),
      build: b ? { id: b.s, events: Number(b.n) } : null,
      visitless: Number(visitless.get(day)?.n ?? 0),
      parts: parts.get(day)?.s ?? '',
      inserted: 0,
    })
  }
  return counts
}

/**
 * Rollup rows already read, per store, by question and by the builds they came from: a day's
 * build never changes (a rebuild is another build), so the rows stay right while those builds
 * are the current ones, and a dashboard asked again reads none of the rollup's parts (one per
 * day). Bounded by rows; an entry unused for ten minutes goes (a purge, a removed site), one
 * in use stays (each use restarts its ten minutes: without it, every kept row was read again
 * ten minutes after it was kept, a dashboard on screen included).
 */
const rollupRowsKept = new WeakMap<ClickHouseClient, LRUCache<string, SumsRow[]>>()
const ROLLUP_ROWS_KEPT = 100_000

function keptRows(client: ClickHouseClient): LRUCache<string, SumsRow[]> {
  let kept = rollupRowsKept.get(client)
  if (!kept) rollupRowsKept.set(client, (kept = new LRUCache<string, SumsRow[]>({ maxSize: ROLLUP_ROWS_KEPT, sizeCalculation: (rows) => rows.length + 1, ttl: 10 * 60_000, updateAgeOnGet: true })))
  return kept
}

export async function rollupRows(client: ClickHouseClient, key: string, read: () => Promise<SumsRow[]>): Promise<SumsRow[]> {
  const kept = keptRows(client)
  let rows = kept.get(key)
  if (!rows) {
    rows = await read()
    kept.set(key, rows)
  }
  return rows.map((r) => ({ ...r }))
}

/**
 * The UTC days a question reads: those its instants fall on (the visits starting in the range
 * and the events in it are there), and with filters the day before, where the visit of an event
 * just after midnight may have started. Never the day after: reading it (today, for a range
 * ending yesterday) only finds rows the range leaves out.
 */
export function readDays(q: StatsQuestion): string[] {
  return utcDays(utcDay(q.range.from - (q.filters.length > 0 ? DAY : 0)), utcDay(q.range.to - 1))
}

/**
 * Rows a question works out day by day from visits and events (the live days of sums, sums
 * the rollup does not hold, a funnel's levels, page flow), each day's kept as rollup rows are
 * while what it was read from is unchanged (dayVersion): a built day's while its build is the
 * current one, another day's (today) until an insert, a merge or a purge changes its parts. A
 * question asked again reads only the days that changed since. `utc`: the UTC days it reads,
 * in order (those without events are left out); `read` works out the rows of the days it is
 * given, each with its UTC `day`.
 */
export async function dayByDay(
  client: ClickHouseClient,
  question: string,
  utc: string[],
  /** Reads a run of days; `visitless`: whether one of them may hold an event without a visit (KnownDay). */
  read: (days: string[], visitless: boolean) => Promise<SumsRow[]>,
  /** eventDays, when the caller has it already. */
  known?: Map<string, KnownDay>,
): Promise<SumsRow[]> {
  known ??= await eventDays(client)
  const days = utc.filter((d) => known.has(d))
  const kept = keptRows(client)
  const keyOf = (day: string) => {
    const version = dayVersion(known.get(day))
    return version === null ? null : `${question}\u0000${day}\u0000${version}`
  }
  const out: SumsRow[] = []
  const missing: string[] = []
  for (const day of days) {
    const key = keyOf(day)
    const rows = key === null ? undefined : kept.get(key)
    // (a loop, not push(...rows): a day of a page panel may hold more rows than a call takes arguments)
    if (rows) for (const r of rows) out.push(copyRow(r, true, false))
    else missing.push(day)
  }
  if (missing.length > 0) {
    const fresh = new Map<string, SumsRow[]>()
    const turn = pLimit(DAYS_READ_AT_ONCE.runs)
    const runs = inRuns(missing, known).map((run) => turn(() => read(run, run.some((d) => known.get(d)?.visitless !== false))))
    for (const r of (await Promise.all(runs)).flat()) {
      let rows = fresh.get(r.day!)
      if (!rows) fresh.set(r.day!, (rows = []))
      rows.push(copyRow(r, true, false))
    }
    for (const day of missing) {
      const rows = fresh.get(day) ?? []
      const key = keyOf(day)
      if (key !== null) kept.set(key, rows)
      for (const r of rows) out.push(copyRow(r, true, false))
    }
  }
  return out
}

/**
 * What dayByDay keeps of `question` for the UTC days of `utc`, read nowhere: the rows of each day
 * kept under its version in `known` (every row of such a day, as dayByDay would give them), and
 * those days, in order. A day not kept (today after an insert, a day never asked) is left out, in
 * `unread` (the days dayByDay would read).
 */
export function keptDayRows(client: ClickHouseClient, question: string, utc: readonly string[], known: Map<string, KnownDay>): { rows: SumsRow[]; days: string[]; unread: string[] } {
  const kept = keptRows(client)
  const rows: SumsRow[] = []
  const days: string[] = []
  const unread: string[] = []
  for (const day of utc) {
    const version = dayVersion(known.get(day))
    const dayRows = version === null ? undefined : kept.get(`${question}\u0000${day}\u0000${version}`)
    if (!dayRows) {
      unread.push(day)
      continue
    }
    days.push(day)
    for (const r of dayRows) rows.push(copyRow(r, true, false))
  }
  return { rows, days, unread }
}

/** The days with events as one answer sees them (eventDays, within inOneLook the same for each of its stages). */
export const lookedDays = (client: ClickHouseClient): Promise<Map<string, KnownDay>> => eventDays(client)

/**
 * The events a read of dayByDay covers at most (the days' events, every site's): the days a
 * question has not read yet (its first asking, a month of days after a start) are read in runs
 * of days (in order) up to this many events, asked together. One read of a month's funnel at a
 * hundred million events needed more than the memory a question may use (QUESTION_LIMITS: 1 GiB)
 * and was refused; three days of it (10 million events) took 256-512 MiB. (Since a question's
 * grouping goes on on disk past half its memory, store/client.ts questionLimits, such a read is
 * answered, in 13-17 s against 6-7 s in runs; a day above a run is still read alone, so.)
 *
 * A question reads at most `runs` of them at once; the store works on a few questions at a time
 * anyway (store/client.ts QUESTIONS_AT_ONCE), and the rest wait in its queue, where past
 * QUESTION_QUEUE a question is refused with 503. At a hundred million events a day is a run of its
 * own, and a first look at a dashboard under `country==US;source==Google` (its eight questions at
 * once, each reading a month day by day, several reads a day) saw six of its eight questions
 * refused (with the queue lifted, 162 reads waited at most). Four at a time, 34 waited at most and
 * the eight took as long (20.4 s against 21.1 s, all answered); a question asked alone, as long
 * too (3.5 s; two at a time, 3.9-4.3 s).
 */
export const DAYS_READ_AT_ONCE = { events: 5_000_000, runs: 4 }

/** `days`, in order, as runs holding up to DAYS_READ_AT_ONCE events each; a day above it alone. */
function inRuns(days: string[], known: Map<string, KnownDay>): string[][] {
  const runs: string[][] = []
  let run: string[] = []
  let events = 0
  for (const day of days) {
    const n = known.get(day)?.events ?? 0
    if (run.length > 0 && events + n > DAYS_READ_AT_ONCE.events) {
      runs.push(run)
      run = []
      events = 0
    }
    run.push(day)
    events += n
  }
  if (run.length > 0) runs.push(run)
  return runs
}

/**
 * A copy of a row, with its grouping (g, c) and its day only when asked (`grouping`, `day`),
 * and the sums of `sums` (its own by default). One object literal: rest patterns
 * (`{ day, ...r }`) and spreads beside other properties were built by V8 a property at a time;
 * with them, and the rows of a day gathered by copying the day's array at each row, a page
 * panel of 46,000 pages took 1.1–1.4 s once readRows was mended, 0.65–0.75 s with this.
 */
export function copyRow(r: SumsRow, grouping: boolean, day: boolean, sums: Sums = r): SumsRow {
  const row: SumsRow = {
    key: r.key,
    bucket: r.bucket,
    visitors: sums.visitors,
    networks: sums.networks,
    visits: sums.visits,
    pageviews: sums.pageviews,
    events: sums.events,
    bounces: sums.bounces,
    entries: sums.entries,
    duration_ms: sums.duration_ms,
    engagement_ms: sums.engagement_ms,
    revenue: sums.revenue,
    revenue_events: sums.revenue_events,
    revenue_visitors: sums.revenue_visitors,
    revenue_networks: sums.revenue_networks,
    scroll_sum: sums.scroll_sum,
    scroll_views: sums.scroll_views,
    scroll_visitors: sums.scroll_visitors,
    scroll_networks: sums.scroll_networks,
  }
  if (grouping && r.g !== undefined) {
    row.g = r.g
    row.c = r.c
  }
  if (day && r.day !== undefined) row.day = r.day
  return row
}

/** The rows keyed by index (`0`…`n - 1`, one per goal or funnel step) added up per key, over their days: one Sums per index. */
export function sumsByIndex(rows: SumsRow[], n: number): Sums[] {
  const out = Array.from({ length: n }, (): Sums => ({ ...ZERO }))
  for (const r of rows) out[Number(r.key)] = addSums(out[Number(r.key)], r)
  return out
}

/**
 * The days a question reads (readDays): with `rollup` (the rollup answers it), the UTC days whose
 * rollup holds them, with their builds (see buildsIn); the others with events, read live; and
 * every day with events (eventDays), for dayByDay.
 */
export async function rollupDays(client: ClickHouseClient, q: StatsQuestion, rollup: boolean): Promise<{ known: Map<string, KnownDay>; current: Map<string, string>; live: string[] }> {
  const days = rangeDays(q.range, q.timezone)
  const known = await eventDays(client)
  const current = rollup ? buildsIn(known, days.utcFirst, days.utcLast) : new Map<string, string>()
  return { known, current, live: readDays(q).filter((d) => !current.has(d) && known.has(d)) }
}

/** The UTC days whose sums querySums takes from the rollup for `q` (none when the rollup does not answer it). */
export async function rollupHeldDays(client: ClickHouseClient, q: StatsQuestion): Promise<Set<string>> {
  if (rollupSlice(q) === null) return new Set()
  return new Set((await rollupDays(client, q, true)).current.keys())
}

/**
 * Sums per (key, bucket) for a question: from the daily rollup for the UTC days it holds
 * completely, from visits and events for the others, added up (visitor hashes change with
 * the UTC day, so the two parts never share a visitor).
 */
export async function querySums(client: ClickHouseClient, q: StatsQuestion, part: 'all' | 'rollup' = 'all'): Promise<SumsRow[]> {
  const slice = rollupSlice(q)
  const { known, current, live } = await rollupDays(client, q, slice !== null)
  const parts: Promise<SumsRow[]>[] = []
  if (slice && current.size > 0) parts.push(sliceRows(client, q, slice, current, q.property !== undefined))
  // `rollup`: only the days the rollup answers (rollupHeldDays), for a caller that works the others out itself
  if (live.length > 0 && part === 'all') {
    // the other days (every day, when the rollup does not answer) from events and visits: day by day, each day's rows kept (dayByDay)
    // the days read without an event outside a visit need no branch for them (KnownDay.visitless: dayByDay tells)
    parts.push(dayByDay(client, JSON.stringify({ sums: inOrder(q) }), live, (days, visitless) => liveRows(client, q, days, visitless), known))
  }
  // the days' rows carry no day (dayByDay), so they add up per (key, bucket)
  return addedUp((await Promise.all(parts)).flat())
}

/**
 * What querySums gives of `q` without reading a live day: the rollup's rows of the days it holds
 * (kept from an earlier asking, else read as querySums would) and the rows dayByDay keeps of the
 * other days, with those days (UTC, in order) and the days left (`unread`), which querySums reads.
 */
export async function keptSums(client: ClickHouseClient, q: StatsQuestion): Promise<{ days: string[]; unread: string[]; rows: SumsRow[] }> {
  const slice = rollupSlice(q)
  const { known, current, live } = await rollupDays(client, q, slice !== null)
  const held = slice && current.size > 0 ? await sliceRows(client, q, slice, current, q.property !== undefined) : []
  const kept = keptDayRows(client, JSON.stringify({ sums: inOrder(q) }), live, known)
  return { days: [...current.keys(), ...kept.days].sort(), unread: kept.unread, rows: [...held, ...kept.rows] }
}

/**
 * A question's fields in one order, whatever order its caller wrote them in: what a key made of it
 * (`JSON.stringify`) tells apart is then the question, not how it was written (a lean breakdown
 * and its headcount were read apart so).
 */
const inOrder = (q: StatsQuestion): StatsQuestion => ({
  site: q.site,
  timezone: q.timezone,
  range: q.range,
  filters: q.filters,
  property: q.property,
  interval: q.interval,
  lean: q.lean,
  scroll: q.scroll,
  visitorsOnly: q.visitorsOnly,
  oneKey: q.oneKey,
  networksUpTo: q.networksUpTo,
})

/** How pendingLive tells batches apart: by the question without its property and buckets (`base`), the days read and whether they have visitless events. */
const batchId = (base: StatsQuestion, days: string[], visitless: boolean) => JSON.stringify([base, days, visitless])

/** A question's rows over the UTC `days` from visits and events, per UTC day: alone, or with others asked at once (pendingLive). */
function liveRows(client: ClickHouseClient, q: StatsQuestion, days: string[], visitless: boolean): Promise<SumsRow[]> {
  // today's headcount (unfiltered, or under a page filter) is read from its states, never as one of a grouped read's asks (which would count every visit row again)
  if (keptHeadcount(q, days)) return afterLiveReads(client, () => aloneRows(client, q, days, visitless))
  const prop = q.property
  // batches are told apart by the question without its property and buckets
  const base = inOrder({ ...q, property: undefined, interval: undefined })
  const id = batchId(base, days, visitless)
  const pending = pendingOf(client)
  let batch = pending.get(id)
  if (!batch) pending.set(id, (batch = { q: base, days, visitless, asks: [] }))
  return new Promise((resolve, reject) => batch.asks.push({ q, prop: prop?.level === 'visit' ? prop : null, interval: q.interval, resolve, reject }))
}

/** The live asks of this turn (pendingLive), flushed once the questions resuming in it (those that shared one eventDays) have asked theirs. */
function pendingOf(client: ClickHouseClient): Map<string, LiveBatch> {
  let pending = pendingLive.get(client)
  if (!pending) {
    const mine = (pending = new Map())
    pendingLive.set(client, mine)
    setImmediate(() => {
      pendingLive.delete(client)
      // (the states reads are asked even if planning the live ones failed: their questions wait on them)
      try {
        flushLive(client, mine)
      } finally {
        for (const read of statesAfter.get(mine) ?? []) read()
      }
    })
  }
  return pending
}

/**
 * Reads of today's kept states (keptHeadcount) asked in a turn wait for the turn's live reads to
 * be asked first (flushLive): the stats API asks QUESTIONS_AT_ONCE at a time, and a grouped read
 * of today's events or visits, the longest, then starts at once beside them rather than after one.
 * At a hundred million events, today live (alternating, medians of 9): the custom prop panel under
 * `page==/pricing` 386 -> 339 ms (the two states reads, 48 and 64 ms, held the two turns while its
 * read of today's events waited); at ten million 55 -> 47, the outbound panel under it 41 -> 36,
 * the daily series 23 -> 21; the funnel, goals and the aggregate within the noise.
 */
const statesAfter = new WeakMap<Map<string, LiveBatch>, (() => void)[]>()
function afterLiveReads(client: ClickHouseClient, read: () => Promise<SumsRow[]>): Promise<SumsRow[]> {
  const pending = pendingOf(client)
  return new Promise((resolve, reject) => {
    const later = statesAfter.get(pending) ?? []
    later.push(() => read().then(resolve, reject))
    statesAfter.set(pending, later)
  })
}

async function aloneRows(client: ClickHouseClient, q: StatsQuestion, days: string[], visitless: boolean): Promise<SumsRow[]> {
  const { reads, params } = unmergedReads(q, null, days, visitless)
  return addedUp(await branchRows(client, reads, params))
}

/**
 * An unmerged read's rows, each branch asked as a read of its own, all at once (the caller adds
 * them up: addedUp): the stats API asks each read on one thread (QUESTION_LIMITS in
 * store/client.ts), and the branches of one read, as one UNION ALL, ran one after the other. The
 * page panel as the dashboard asks it, at ten million events, live: today's page rows
 * (page_days) and the visits' scroll reports (through FINAL) 53.7 -> 46.5 ms, under
 * `country==US` 54.7 -> 47.5; the others within the noise. A branch asked by several questions
 * at once is read once (`asked`).
 */
function branchRows(client: ClickHouseClient, reads: string[], params: Record<string, unknown>): Promise<SumsRow[]> {
  return Promise.all(reads.map((sql) => rowsOf(client, sql, params))).then((rs) => rs.flat())
}

/** The rows of an unmerged read (ReadOptions `merged` false) added up per (set, key, bucket, day), as the merged SQL's outer GROUP BY adds them. */
export function addedUp(rows: SumsRow[]): SumsRow[] {
  const out = new Map<string, SumsRow>()
  for (const r of rows) {
    const id = `${r.g ?? ''}\u0000${r.c ?? ''}\u0000${r.key}\u0000${r.bucket}\u0000${r.day ?? ''}`
    const had = out.get(id)
    out.set(id, had ? copyRow(had, true, true, addSums(had, r)) : r)
  }
  return [...out.values()]
}

interface LiveAsk extends GroupedAsk {
  q: StatsQuestion
  resolve: (rows: SumsRow[]) => void
  reject: (e: unknown) => void
}

/**
 * Live reads asked in the same turn that differ only in their visit property (or have none: the
 * totals) and their buckets: a breakdown and its totals, a series, its totals and its parent
 * buckets, a dashboard's panels resuming together after the eventDays they shared; and those
 * whose filters on visit properties differ, as a question and the neighbours the k rules ask
 * without each of its filters (R3): see flushLive. One read of the visits answers them all (groupedSumsSql); each is
 * given its own rows, as `sumsSql` would have answered it (test/aggregator/stats/query.test.ts
 * compares them). Per store, by question (its filters, range and zone) and days read.
 */
const pendingLive = new WeakMap<ClickHouseClient, Map<string, LiveBatch>>()

interface LiveBatch {
  /** The question without property or interval. */
  q: StatsQuestion
  days: string[]
  /** Whether the days have events without a visit (ReadOptions). */
  visitless: boolean
  asks: LiveAsk[]
}

/**
 * A filter a grouped read can take as a condition: on a visit property (a condition on the visit
 * row); for the asks of an event property read from events (`fromEvents`: its name), on what a
 * visit holds too (on an events row, its visit's, found among the events:
 * SumsQuery.eventCondition), unless on that property itself, whose filters pick its rows. A visit
 * property's asks under a filter on what a visit holds are read apart from their neighbour
 * without it, each reading only its visits, the two at once on two cores: the entry page panel
 * under `page==/pricing` at ten million events, today live, 78 ms as one read of every visit
 * through FINAL with the filter as a condition (grouping sets: the visits without the page were
 * counted too, and thrown away) against 55 ms apart; under `country==US;page==/pricing` 96
 * against 55; the source panel under `page==/pricing` (its visits' first events answer it),
 * 33 ms as one read against 23 and 17 ms apart. But with `opening` (the asks the rows opening
 * visits answer, of a question under two such filters or more and its neighbours: flushLive),
 * on what a visit holds too, a set of visits on those rows (keysOf's `opens`): each set is then
 * found once, where apart the question and its neighbours found each two or three times among
 * the day's events, four reads on two cores. The source panel under `page==/pricing;event==Signup`
 * at ten million events, today live, 72 -> 61 ms, the country panel 77 -> 61, the browser
 * panel 71 -> 59, the daily series 63 -> 46 (medians of 15). And with `holding` (the other asks
 * of a visit property or none, of such a question and its neighbours), on what a visit holds
 * too, on the merged visit rows, every ask having such a condition: the visits some ask keeps
 * are picked by their ids before FINAL (SumsQuery.heldByAny), so no visit is merged that no ask
 * counts.
 */
const conditionable = (f: Filter, fromEvents: string | null, mode: Mode) => mode !== 'apart' && (!held(f) || (fromEvents !== null && f.name !== fromEvents) || mode !== null)

/**
 * How a group of asks takes filters on what a visit holds as conditions: on the rows opening
 * visits (`opens`), on merged visit rows (`holds`); or takes no filter as a condition (`apart`):
 * see flushLive.
 */
type Mode = 'opens' | 'holds' | 'apart' | null

/** A question firstEventOnly answers whatever conditions on what a visit holds it is read with. */
const opensAnswer = (q: StatsQuestion) =>
  q.lean === true && (!q.property || (q.property.level === 'visit' && q.property.firstEvent === true)) && q.filters.every((f) => onFirstEvent(f) || held(f))

/**
 * An ask of an event property read from events with its neighbours (links, custom props, event
 * names; not pages, each read alone: runLiveBatch). Under a filter on what a visit holds, its
 * neighbour without it reads the same events: the outbound panel under `page==/pricing` at ten
 * million events, its rows and its neighbour's in one read with the page as a condition, 34 ms,
 * against 25 and 16 ms apart.
 *
 * The pages too when their visitors alone are asked (`visitorsOnly`: R3's neighbours of a page
 * panel under two filters or more, which then read one day's pageviews once, not once each). At
 * a hundred million events, today's two neighbours of the page panel under
 * `outbound~docs;source==Google`, the SQL alone: 107-126 ms as one read against 80-97 and 94-106
 * ms apart; reading pageviews alone, 10-15 % less each.
 */
const fromEvents = (a: LiveAsk): string | null => {
  const p = a.q.property
  if (p?.level !== 'event') return null
  return p.dim !== 'page' || visitorsAlone(a.q) ? nameOf(p) : null
}

/**
 * Runs the batches asked in a turn, those that differ only in filters on visit properties as
 * one: over the filters they all have (and the others, which must be the same), each ask with
 * the rest of its own as conditions.
 */
function flushLive(client: ClickHouseClient, pending: Map<string, LiveBatch>): void {
  // a headcount (lean, no property) asked beside the same totals in full takes its visitors and
  // networks from their read (a dashboard's page panel beside its cards) rather than reading again;
  // not beside an event property's asks alone, which read no visits (the outbound panel under
  // `country==US` made its headcount a read of every visit through FINAL so: 85 ms against 38).
  // Under filters, so does a lean ask of a visit property (R3's neighbours of the channel panel,
  // asked with its bounce rate, beside their totals in full): one read fewer, and its sets of
  // visits found once. At ten million events, today live, two rounds alternating (medians of 7):
  // the channel panel under `source==Google;event==Signup` 67-69 -> 49-50 ms, under
  // `outbound~docs;source==Google` 64-68 -> 48-52, under `page==/pricing;country==US` 49-52 ->
  // 34-36; whole dashboards under `country==US` 107/121 -> 99/102, under `page==/pricing`
  // 126/123 -> 110/117; the entry and exit page panels under two filters on what a visit holds
  // (their asks and their totals one read, not two) within the noise, at a hundred million too.
  // Unfiltered, the panels' reads of the rows opening visits stay apart from the cards' through
  // FINAL, on the other core (joined, a whole dashboard took 75 ms against 68).
  for (const [id, b] of pending) {
    if (b.q.lean !== true) continue
    const full = pending.get(batchId({ ...b.q, lean: undefined }, b.days, b.visitless))
    if (!full || full.asks.every((a) => a.q.property?.level === 'event')) continue
    const joins = (a: LiveAsk) => !a.q.property || (a.q.property.level === 'visit' && b.q.filters.length > 0)
    full.asks.push(...b.asks.filter(joins))
    b.asks = b.asks.filter((a) => !joins(a))
    if (b.asks.length === 0) pending.delete(id)
  }
  for (const b of pending.values()) b.asks = bucketTotals(b)
  // the asks of each event property read from events apart (their own filters pick their rows), then the others
  const groups = new Map<string, { events: string | null; mode: Mode; batches: LiveBatch[] }>()
  const idOf = (f: Filter) => JSON.stringify(f)
  // the asks the rows opening visits answer (opensAnswer) of a question under two filters or more on what a visit
  // holds, and of its neighbours (R3): each such filter a condition too, so that each set of visits is found once
  const heldOf = (q: StatsQuestion) => q.filters.filter(held).map(idOf)
  const asked = [...pending.values()].flatMap((b) => b.asks.map((a) => a.q))
  // (an ask of that question or of one of its neighbours: the same property, some of its filters on what a visit holds)
  const within = (q: StatsQuestion, wide: StatsQuestion[]) => wide.some((w) => w.property?.dim === q.property?.dim && heldOf(q).every((f) => heldOf(w).includes(f)))
  const wide = asked.filter((q) => opensAnswer(q) && heldOf(q).length >= 2)
  const opening = (a: LiveAsk) => fromEvents(a) === null && opensAnswer(a.q) && within(a.q, wide)
  // the other asks of a visit property or none (read from merged visit rows) of such a question and of its neighbours:
  // each such filter a condition too, every ask having one at least, so that the visits some ask keeps are picked by
  // their ids before FINAL merges them (heldByAny), one read where each ask read its visits through FINAL. At ten
  // million events, today live (medians of 15): the exit page panel under `page==/pricing;event==Signup` 74 -> 54 ms,
  // the entry page panel 68 -> 50, the exit page panel under `country==US;page==/pricing;event==Signup` 80 -> 54, the
  // aggregate under `page!=/pricing;event==Signup` 48 -> 37 (under `page==/pricing;event==Signup` 36 -> 35)
  const wider = asked.filter((q) => q.property?.level !== 'event' && heldOf(q).length >= 2)
  const holding = (a: LiveAsk) => a.q.property?.level !== 'event' && heldOf(a.q).length > 0 && within(a.q, wider)
  // the asks of a visit property or none under filters on visit properties alone, beside the same question without
  // any filter (R3's neighbour under one filter, a dashboard's panels under `country==US`): read apart from it, so
  // that their read picks its visits by their ids (visitRows) where one grouped read merged every visit for both,
  // each row counted for each ask it is one of. At a hundred million events, today live (medians of 6): the exit
  // page panel under `country==US` 341 -> 244 ms, the entry page panel under `source==Google` 335 -> 215, the
  // country panel under it 157 -> 105; at ten million (medians of 10): 44 -> 37, 44 -> 37, 33 -> 30; the aggregate
  // 21 -> 23, whole dashboards under `country==US` within the noise. (Under two such filters, none of the family
  // is without any: grouped as before.)
  const besideBare = (b: LiveBatch) => b.q.filters.length > 0 && !b.q.filters.some(held) && pending.has(batchId({ ...b.q, filters: [] }, b.days, b.visitless))
  for (const b of pending.values()) {
    const byKind = new Map<string, LiveAsk[]>()
    const apart = besideBare(b)
    for (const a of b.asks) {
      const alone = apart && a.q.property?.level !== 'event'
      const kind = JSON.stringify([fromEvents(a), opening(a) ? 'opens' : holding(a) ? 'holds' : alone ? 'apart' : null])
      byKind.set(kind, [...(byKind.get(kind) ?? []), a])
    }
    for (const [kind, asks] of byKind) {
      const [events, mode] = JSON.parse(kind) as [string | null, Mode]
      const id = JSON.stringify([events, mode, { ...b.q, filters: b.q.filters.filter((f) => !conditionable(f, events, mode)) }, b.days, b.visitless])
      const group = groups.get(id) ?? { events, mode, batches: [] }
      groups.set(id, { events, mode, batches: [...group.batches, { ...b, asks }] })
    }
  }
  // The groups with asks of an event property first: they read the day's events, the longest reads,
  // so that the stats API's turns take them before the totals and headcounts over the visits (it
  // starts its reads in the order asked). The page panel under `source==Google;event==Signup`,
  // today live, alternating (medians of 5-11): 335 -> 293 ms at a hundred million events, 76 -> 64
  // and 66 at ten million; under `outbound~docs;source==Google` 325 -> 298 at a hundred million;
  // the outbound panel under `page==/pricing` there 55 -> 44; the others within the noise.
  const readsEvents = (g: { batches: LiveBatch[] }) => g.batches.some((b) => b.asks.some((a) => a.q.property?.level === 'event'))
  for (const { events, mode, batches } of [...groups.values()].sort((a, b) => Number(readsEvents(b)) - Number(readsEvents(a)))) {
    const everyone = batches.map((b) => new Set(b.q.filters.map(idOf)))
    // (a group's batches share the filters on what a visit holds their asks take as they are: those are common)
    const common = (f: Filter) => !conditionable(f, events, mode) || everyone.every((ids) => ids.has(idOf(f)))
    const base: LiveBatch = { q: { ...batches[0].q, filters: batches[0].q.filters.filter(common) }, days: batches[0].days, visitless: batches[0].visitless, asks: [] }
    for (const b of batches) {
      const conds = b.q.filters.filter((f) => !common(f))
      for (const a of b.asks) base.asks.push(conds.length ? { ...a, conds } : a)
    }
    void runLiveBatch(client, base, base.asks)
  }
}

/**
 * A batch's asks but the totals its buckets give. A live read's rows are per UTC day, and a UTC
 * day at UTC's time is in one bucket by day, week or month: a total asked beside the same question
 * by such buckets (a series and its totals; R3's neighbours of a series, each a total and buckets)
 * is, day by day, that day's bucket row. It is given those rows when its buckets are read, and is
 * not grouped again. At ten million events, today live (alternating, medians of 7), the daily
 * series under `page!=/pricing;event==Signup` 59 -> 37 ms, under `page==/pricing;event==Signup`
 * 53 -> 42, under `page==/pricing;country==US` 42 -> 33, under `outbound~docs;source==Google`
 * 54 -> 48; the other panels within the noise.
 */
function bucketTotals(b: LiveBatch): LiveAsk[] {
  if (!b.days.every((d) => utcAllDay(d, b.q.timezone))) return b.asks
  // (the same question by buckets, in full where the total is asked in full)
  const bare = (q: StatsQuestion) => JSON.stringify(inOrder({ ...q, interval: undefined, lean: undefined }))
  const byBucket = (a: LiveAsk) => b.asks.find((x) => x.interval !== undefined && x.interval !== 'hour' && x.interval !== 'minute' && bare(x.q) === bare(a.q) && (a.q.lean === true || x.q.lean !== true))
  return b.asks.filter((a) => {
    const from = !a.q.property && a.interval === undefined ? byBucket(a) : undefined
    if (!from) return true
    const [resolve, reject] = [from.resolve, from.reject]
    from.resolve = (rows) => {
      resolve(rows)
      a.resolve(addedUp(rows.map((r) => ({ ...copyRow(r, false, true), bucket: '' }))))
    }
    from.reject = (e) => {
      reject(e)
      a.reject(e)
    }
    return false
  })
}

async function runLiveBatch(client: ClickHouseClient, batch: LiveBatch, all: LiveAsk[]): Promise<void> {
  // an event property's asks: one read for those of each property (their conditions on properties every event carries), apart from the others;
  // the page's alone, each reading only the events its filters keep: its rows are most events, and their distinct
  // visitors cost more than the read (the page panel under country==US and its neighbour, live: 534–615 ms alone
  // against 727–864 as one read at a hundred million events, 80–85 against 81–98 at ten million; links and custom
  // events, a few events each, 58–63 ms as one read against 68–78 alone)
  const byEventProp = new Map<string, LiveAsk[]>()
  const pages = all.filter((a) => a.q.property?.level === 'event' && a.q.property.dim === 'page')
  // but the page's asks that each keep some of the events by their conditions (a question under two
  // filters and its neighbours without each, R3), read together, the events none keeps left out (keptByAny)
  const pagesTogether = batch.q.lean === true && pages.length >= 2 && pages.every((a) => (a.conds?.length ?? 0) > 0 && a.conds!.every(onEvents))
  if (pagesTogether) void runGrouped(client, { ...batch, q: { ...batch.q, property: pages[0].q.property } }, pages)
  for (const a of all) {
    const p = a.q.property
    if (p?.level !== 'event') continue
    if (p.dim === 'page') {
      if (!pagesTogether) aloneRows(client, a.q, batch.days, batch.visitless).then(a.resolve, a.reject)
    } else byEventProp.set(nameOf(p), [...(byEventProp.get(nameOf(p)) ?? []), a])
  }
  for (const asks of byEventProp.values()) void runGrouped(client, { ...batch, q: { ...batch.q, property: asks[0].q.property } }, asks)
  return runGrouped(client, batch, all.filter((a) => a.q.property?.level !== 'event'))
}

/** One read of the asks (all of a visit property or none, or all of one event property), each given its rows; those it cannot take, alone. */
async function runGrouped(client: ClickHouseClient, batch: LiveBatch, asks: LiveAsk[]): Promise<void> {
  const eventProp = batch.q.property?.level === 'event'
  // one grouping set per distinct ask; a property sharing an expression with another one is read alone
  const sets: GroupedAsk[] = []
  const setOf = new Map<LiveAsk, number>()
  const alone: LiveAsk[] = []
  const sameProp = (p: VisitProperty | null, o: VisitProperty | null) => (p === null ? o === null : o !== null && p.expr === o.expr && p.eventExpr === o.eventExpr)
  const props: VisitProperty[] = []
  const condId = (fs: readonly Filter[] | undefined) => JSON.stringify((fs ?? []).map((f) => JSON.stringify(f)).sort())
  for (const a of asks) {
    if (eventProp && !(a.conds ?? []).every(onEvents)) {
      alone.push(a)
      continue
    }
    const prop = a.prop === null ? null : (props.find((p) => sameProp(p, a.prop)) ?? a.prop)
    if (prop !== null && !props.includes(prop)) {
      if (props.some((p) => p.expr === prop.expr || p.eventExpr === prop.eventExpr)) {
        alone.push(a)
        continue
      }
      props.push(prop)
    }
    const same = sets.findIndex((s) => s.prop === prop && s.interval === a.interval && condId(s.conds) === condId(a.conds))
    setOf.set(a, same >= 0 ? same : sets.push({ prop, interval: a.interval, conds: a.conds }) - 1)
  }
  // grouping() is a number: past 52 arguments its bits would not be told apart
  const together = sets.length >= 2 && groupArgs(sets).length <= 52
  if (!together) alone.push(...setOf.keys())
  for (const a of alone) Promise.resolve(a.q).then((q) => aloneRows(client, q, batch.days, batch.visitless)).then(a.resolve, a.reject)
  if (!together) return
  const grouped = [...setOf.keys()]
  try {
    const { reads, params } = unmergedReads(batch.q, sets, batch.days, batch.visitless)
    const rows = addedUp(await branchRows(client, reads, params))
    const masks = groupMasks(sets)
    const bySet = sets.map((): SumsRow[] => [])
    // a set with conditions: the rows of the visits meeting them
    for (const r of rows) if (r.c === 1) bySet[masks.indexOf(Number(r.g))].push(copyRow(r, false, true))
    for (const a of grouped) a.resolve(bySet[setOf.get(a)!].map((r) => copyRow(r, false, true)))
  } catch {
    // one failed read (say, past the memory one query may use) fails no question that alone would be answered
    for (const a of grouped) aloneRows(client, a.q, batch.days, batch.visitless).then(a.resolve, a.reject)
  }
}

/**
 * A slice's rows of the daily rollup for the days built (`current`, with their builds), per key
 * (the value, or with a `prefix` what follows it; '' unless `keyed`) and bucket of `q`: read
 * once per build and kept (rollupRows).
 */
export function sliceRows(client: ClickHouseClient, q: StatsQuestion, slice: RollupSlice, current: Map<string, string>, keyed: boolean): Promise<SumsRow[]> {
  const { dim, values, prefix } = slice
  const days = rangeDays(q.range, q.timezone)
  const keyOf = !keyed ? "''" : prefix === undefined ? 'value' : 'substring(value, {plen:UInt64} + 1)'
  const sql = `SELECT ${keyOf} AS key, ${dayBucket(q.interval)} AS bucket, ${SUMS}, ${ROLLUP_MEASURES}
      FROM rollup_daily
      WHERE site = {site:String} AND dim = {dim:String} AND build_day IN {built:Array(Date)} AND day BETWEEN {d0:Date} AND {d1:Date}${values === null ? '' : ' AND value IN {values:Array(String)}'}${prefix === undefined ? '' : ' AND startsWith(value, {prefix:String})'}
      GROUP BY key, bucket`
  // (in day order: the store lists them in any order)
  const built = [...current.keys()].sort()
  const params = {
    site: q.site, dim, built, d0: days.first, d1: days.last, ...(values === null ? {} : { values }),
    ...(prefix === undefined ? {} : { prefix: `${prefix}\u0000`, plen: Buffer.byteLength(`${prefix}\u0000`) }),
  }
  const key = `${sql}\u0000${JSON.stringify(params)}\u0000${built.map((d) => current.get(d)).join(';')}`
  return rollupRows(client, key, () => rowsOf(client, sql, params))
}

/** Questions being asked of each store now, by their text and values (see `asked`). */
const asking = new WeakMap<ClickHouseClient, Map<string, Promise<unknown>>>()

/**
 * One answer for the same question asked while it is being answered: a dashboard's panels ask
 * the same totals and neighbours at once (every breakdown's total, the days either side), and
 * the store works them out once. Nothing is kept once answered, so no answer is older than the
 * question. Callers get their own copy of the rows.
 */
async function asked<T>(client: ClickHouseClient, key: string, ask: () => Promise<T[]>): Promise<T[]> {
  let running = asking.get(client)
  if (!running) asking.set(client, (running = new Map()))
  let answer = running.get(key) as Promise<T[]> | undefined
  if (!answer) {
    const mine = running
    answer = ask().finally(() => mine.delete(key))
    running.set(key, answer)
  }
  return (await answer).map((r) => (typeof r === 'object' && r !== null ? { ...r } : r))
}

function rowsOf(client: ClickHouseClient, query: string, query_params: Record<string, unknown>): Promise<SumsRow[]> {
  return asked(client, `${query}\u0000${JSON.stringify(query_params)}`, () => readRows(client, query, query_params))
}

/**
 * A read's rows as SumsRows. The result comes as arrays under one line of column names
 * (JSONCompactEachRowWithNames), and each field is found by its place, looked up once a read:
 * looking each up by name in each row (and under its `s_…` name when the read is an unmerged
 * one) took some 35 µs a row on the development machine, seconds of the main thread (where the
 * beacons are answered too) for a page panel of 46,000 pages.
 */
async function readRows(client: ClickHouseClient, query: string, query_params: Record<string, unknown>): Promise<SumsRow[]> {
  const rs = await client.query({ query, query_params, format: 'JSONCompactEachRowWithNames' })
  const [names, ...rows] = await rs.json<unknown[]>()
  if (!names) return []
  const columns = names as string[]
  // an unmerged read's sums are its branches' own, named s_…
  const at = (name: string) => {
    const i = columns.indexOf(name)
    return i >= 0 ? i : columns.indexOf(`s_${name}`)
  }
  const [g, c, key, bucket, day] = [at('g'), at('c'), at('key'), at('bucket'), at('day')]
  const [visitors, networks, visits, pageviews, events, bounces, entries, duration, engagement] =
    ['visitors', 'networks', 'visits', 'pageviews', 'events', 'bounces', 'entries', 'duration_ms', 'engagement_ms'].map(at)
  const [revenue, revenueEvents, revenueVisitors, revenueNetworks, scrollSum, scrollViews, scrollVisitors, scrollNetworks] =
    ['revenue', 'revenue_events', 'revenue_visitors', 'revenue_networks', 'scroll_sum', 'scroll_views', 'scroll_visitors', 'scroll_networks'].map(at)
  return (rows as unknown[][]).map((r) => {
    // one literal, then what only some reads have: a literal with spreads in it was built a property at a time
    const row: SumsRow = {
      key: String(r[key]),
      bucket: String(r[bucket]),
      visitors: Number(r[visitors]),
      networks: Number(r[networks]),
      visits: Number(r[visits]),
      pageviews: Number(r[pageviews]),
      events: Number(r[events]),
      bounces: Number(r[bounces]),
      entries: Number(r[entries]),
      duration_ms: Number(r[duration]),
      engagement_ms: Number(r[engagement]),
      revenue: Number(r[revenue]),
      revenue_events: Number(r[revenueEvents]),
      revenue_visitors: Number(r[revenueVisitors]),
      revenue_networks: Number(r[revenueNetworks]),
      scroll_sum: Number(r[scrollSum]),
      scroll_views: Number(r[scrollViews]),
      scroll_visitors: Number(r[scrollVisitors]),
      scroll_networks: Number(r[scrollNetworks]),
    }
    if (g >= 0) {
      row.g = Number(r[g])
      row.c = Number(r[c])
    }
    if (day >= 0) row.day = String(r[day])
    return row
  })
}

export type { Range }
