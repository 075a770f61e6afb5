import type { ClickHouseClient } from '@clickhouse/client'
import { buckets } from './buckets.ts'
import {
  adjacentDayAllows, apart, apartFromEach, APART, cellOf, minGroup, Noise, OTHER, OTHER_TRIES, otherAllowed, keptLeads, settledApart, splitRows, withheldReason, type Cell, type KeptLeads, type Limits, type Row,
} from './disclosure.ts'
import type { Filter } from './filters.ts'
import { keepMeasures } from './measures.ts'
import { addSums, MetricError, metricValue, ZERO, type Metric, type Sums } from './metrics.ts'
import { adjacentDays, comparisonRange, midnight, type Range } from './period.ts'
import { present, type Property } from './properties.ts'
import { currentDays, inOneLook, keptSums, querySums, rangeDays, rollupAnswers, utcDays, type Interval, type StatsQuestion, type SumsRow } from './query.ts'

export interface Scope {
  site: string
  timezone: string
  filters: Filter[]
  /** The minimum group of whoever asks (dashboard, shared link or export), from the policy. */
  limits: Limits
  /** Consistent noise on every published count, when the policy gives this audience an ε. */
  noise?: Noise
  /** When the question is asked (ms): which adjacent days have begun (publishable). Now, when absent; the bench asks a store kept from an earlier day as of then. */
  now?: number
}

export const NONE = '(none)'

export type MetricValue = { value: number | null; change: number | null } | { value: null; change: null; withheld: string }

type Span = { from: number; to: number }

/**
 * The question a scope asks of a range. Its networks are counted up to the scope's network
 * minimum (StatsQuestion.networksUpTo): they are only compared with it.
 */
export const questionOf = (s: Scope, range: Span): StatsQuestion => ({ site: s.site, timezone: s.timezone, range, filters: s.filters, networksUpTo: s.limits.kn })

/** The sums of the whole range (or `filters` instead of the scope's): every number's total. */
export async function totals(client: ClickHouseClient, s: Scope, range: Span, filters = s.filters, lean = false): Promise<Sums> {
  return summed(await querySums(client, { ...questionOf(s, range), filters, ...(lean ? { lean } : {}) }))
}

/** Rows added up into one Sums. */
const summed = (rows: Sums[]): Sums => rows.reduce((acc, r) => addSums(acc, r), { ...ZERO })

/**
 * The visitors and networks of the totals, for a caller that reads no other sum (what the k
 * rules compare): under filters on what a visit's first event gives, the days read live are
 * counted from the rows holding each visit's first event, without the merge a visit's other sums
 * need (`firstEventOnly` in query.ts). Its other sums may be 0.
 */
export const headcount = (client: ClickHouseClient, s: Scope, range: Span, filters = s.filters): Promise<HeadCount> => totals(client, s, range, filters, true)
export type HeadCount = Pick<Sums, 'visitors' | 'networks'>

/**
 * Whether anything of a question may be published: R1 on its total, then the neighbours a
 * caller gets by changing one thing, checked against its visitors: R3 `remove-filter` (each
 * filter sets apart at least k visitors) and R6 `add-day` (the day before and after hold none
 * or at least k). The neighbours are asked at once, beside the total (pass its promise).
 */
export async function publishable(client: ClickHouseClient, s: Scope, range: Span, total: HeadCount | Promise<HeadCount>, lean = false, now = s.now ?? Date.now(), settle = true): Promise<boolean> {
  // the neighbours' visitors alone are compared: with a headcount total (`lean`), they are headcounts too,
  // read beside it unless the days kept already set them k visitors apart (settledTotal; not with
  // `settle` false: a series, or a breakdown whose neighbours' rows are read, reads them with their
  // totals in one read, which split apart were slower: the channel panel under
  // `outbound~docs;source==Google` at ten million events, today live, 40 -> 55 ms)
  const without = s.filters.map((_, i) => (settle ? settledTotal : totals)(client, s, range, s.filters.filter((__, j) => j !== i), lean))
  const adjacent = adjacentDays(range, s.timezone, now).map((day) => totals(client, s, day, undefined, lean))
  const [t, w, a] = await Promise.all([total, Promise.all(without), Promise.all(adjacent)])
  return minGroup(t, s.limits) && w.every((x) => apart(x.visitors, t.visitors, s.limits)) && a.every((x) => adjacentDayAllows(x.visitors, s.limits))
}

/** R3 row by row settled by the kept days, for a breakdown (keptLeads in disclosure.ts): over the days whose sums are kept (keptSums). */
async function leads(client: ClickHouseClient, mine: StatsQuestion, theirs: StatsQuestion, l: Limits): Promise<KeptLeads | null> {
  const [a, b] = await Promise.all([keptSums(client, mine), keptSums(client, theirs)])
  return keptLeads(a, b, l)
}

/**
 * The total of a neighbour of `s` (under `filters`, one of its filters left out) as R3 compares it:
 * `APART` visitors when the days whose sums are kept already (keptSums: the rollup's, the live
 * days' rows kept since an earlier asking) put it k visitors ahead of the question's over the same
 * days (settledApart in disclosure.ts), else read. The question's kept sums are those its own total
 * is made of, so nothing is read for them.
 */
async function settledTotal(client: ClickHouseClient, s: Scope, range: Span, filters: Filter[], lean: boolean): Promise<HeadCount> {
  const ask = (fs: Filter[]) => ({ ...questionOf(s, range), filters: fs, ...(lean ? { lean } : {}) })
  const [mine, theirs] = await Promise.all([keptSums(client, ask(s.filters)), keptSums(client, ask(filters))])
  const same = mine.days.length > 0 && mine.days.join() === theirs.days.join()
  if (same && settledApart([summed(mine.rows)], [summed(theirs.rows)], s.limits)[0]) return { visitors: APART, networks: 0 }
  return totals(client, s, range, filters, lean)
}

export const spanOf = (r: Span) => `${r.from}..${r.to}`
/** The published sums of a cell: with the audience's noise, if any; revenue and scroll depth only above k (keepMeasures). */
export const shown = (s: Scope, cell: Cell, sums: Sums) => keepMeasures(s.noise ? s.noise.sums(cell, sums) : sums, s.limits)

/**
 * The conversion filters (goal filters) removed: the visitors a conversion rate is out of.
 * Asking for `conversion_rate` without a goal filter is a 400.
 */
function conversionBase(s: Scope, metrics: Metric[]): Scope | null {
  if (!metrics.includes('conversion_rate')) return null
  if (!s.filters.some((f) => f.name === 'goal' && f.op === '==')) throw new MetricError('conversion_rate needs a goal filter, e.g. filters=goal==Signup')
  return { ...s, filters: s.filters.filter((f) => f.name !== 'goal') }
}

/**
 * A row's base for its conversion rate: shown when it passes R1 and at least k of its visitors
 * did not convert (R4, the converting ones are a row of it); else the rate is null.
 */
function rateBase(base: Scope, cell: Cell, sums: Sums, converting: Sums): Sums | null {
  if (!minGroup(sums, base.limits) || !apart(sums.visitors, converting.visitors, base.limits)) return null
  return shown(base, cell, sums)
}

/**
 * Totals for the range with the change against `compared`: by default the period before, like
 * for like (comparisonRange). The change is shown only when the compared period passes R1 (R8).
 */
export async function aggregate(client: ClickHouseClient, s: Scope, range: Range, metrics: Metric[], compared?: Span): Promise<Record<string, MetricValue>> {
  const against = compared ?? comparisonRange(range, 'previous_period', s.timezone)
  const base = conversionBase(s, metrics)
  const current = totals(client, s, range)
  const [now, before, baseNow, baseBefore, open] = await Promise.all([
    current,
    totals(client, s, against),
    base ? totals(client, base, range) : null,
    base ? totals(client, base, against) : null,
    publishable(client, s, range, current, true),
  ])
  const out: Record<string, MetricValue> = {}
  if (!open) {
    for (const m of metrics) out[m] = { value: null, change: null, withheld: withheldReason(s.limits.k) }
    return out
  }
  const value = shown(s, cellOf(s.filters, spanOf(range)), now)
  const prev = minGroup(before, s.limits) ? shown(s, cellOf(s.filters, spanOf(against)), before) : null
  const rateNow = base && baseNow ? rateBase(base, cellOf(base.filters, spanOf(range)), baseNow, now) : null
  const rateBefore = base && baseBefore && prev ? rateBase(base, cellOf(base.filters, spanOf(against)), baseBefore, before) : null
  for (const m of metrics) {
    const v = metricValue(value, m, rateNow)
    const p = prev ? metricValue(prev, m, rateBefore) : null
    out[m] = { value: v, change: v === null || !p ? null : Math.round(((v - p) / p) * 1000) / 10 } as MetricValue
  }
  return out
}

export type TimeseriesRow = { date: string } & Record<string, number | null | string>

/** R5 compares a bucket with its parent: a minute with its hour, an hour with its day. */
const PARENT: Partial<Record<Interval, Interval>> = { minute: 'hour', hour: 'day' }
const parentLabel = (interval: Interval, label: string) => (interval === 'minute' ? `${label.slice(0, 13)}:00:00` : label.slice(0, 10))

/** A bucket's time span for its noise: days, weeks and months as the instants they cover within the range. */
function bucketSpans(labels: string[], starts: number[], interval: Interval, range: Span, tz: string): string[] {
  if (interval === 'minute' || interval === 'hour') return labels.map((l) => `${l}@${tz}`)
  return starts.map((from, i) => spanOf({ from: Math.max(range.from, from), to: starts[i + 1] ?? range.to }))
}

/**
 * One row per bucket. A bucket is shown when the whole answer may be, it passes R1, and R5
 * `bucket` holds; otherwise it looks like an empty bucket: every metric null, `withheld`. A
 * bucket that has not begun is no data yet: its metrics are null, with no reason.
 */
export async function timeseries(client: ClickHouseClient, s: Scope, range: Range, metrics: Metric[], interval: Interval, now = s.now ?? Date.now()): Promise<TimeseriesRow[]> {
  const q = questionOf(s, range)
  const parent = PARENT[interval]
  const base = conversionBase(s, metrics)
  // what the k rules compare (the total, the parent buckets, the neighbours) are visitors alone: read
  // lean, as the buckets themselves when they ask only visitors (the dashboard's chart by default)
  const lean = { lean: true }
  const whole = headcount(client, s, range)
  const [rows, total, parents, bases, ok, ...withouts] = await Promise.all([
    querySums(client, { ...q, interval, ...(metrics.every((m) => m === 'visitors') ? lean : {}) }),
    whole,
    parent ? querySums(client, { ...q, interval: parent, ...lean }) : Promise.resolve([]),
    base ? querySums(client, { ...q, filters: base.filters, interval }) : Promise.resolve([]),
    // (its neighbours' totals read with their buckets: see settle)
    publishable(client, s, range, whole, true, s.now ?? Date.now(), false),
    // R3 bucket by bucket: the series without each filter
    ...s.filters.map((f) => querySums(client, { ...q, filters: s.filters.filter((x) => x !== f), interval, ...lean })),
  ])
  const neighbours = withouts.map((rs) => new Map(rs.map((r) => [r.bucket, r.visitors])))
  const byBucket = new Map(rows.map((r) => [r.bucket, r]))
  const byParent = new Map(parents.map((r) => [r.bucket, r]))
  const byBase = new Map(bases.map((r) => [r.bucket, r]))
  const labels = buckets(range, interval, s.timezone)
  const starts = bucketStarts(labels, interval, s.timezone)
  const spans = bucketSpans(labels, starts, interval, range, s.timezone)
  return labels.map((date, i) => {
    const sums = byBucket.get(date) ?? ZERO
    const row: TimeseriesRow = { date }
    const inParent = parent ? (byParent.get(parentLabel(interval, date)) ?? ZERO).visitors : null
    const visible =
      ok && minGroup(sums, s.limits) && apart(total.visitors, sums.visitors, s.limits, labels.length === 1) && (inParent === null || apart(inParent, sums.visitors, s.limits)) &&
      apartFromEach(neighbours.map((n) => n.get(date) ?? 0), sums.visitors, s.limits)
    if (starts[i] > now) {
      for (const m of metrics) row[m] = null
    } else if (!visible) {
      for (const m of metrics) row[m] = null
      row.withheld = withheldReason(s.limits.k)
    } else {
      const value = shown(s, cellOf(s.filters, spans[i]), sums)
      const rate = base ? rateBase(base, cellOf(base.filters, spans[i]), byBase.get(date) ?? ZERO, sums) : null
      for (const m of metrics) row[m] = metricValue(value, m, rate)
    }
    return row
  })
}

/** When each bucket begins (ms): a bucket after now is the future, not an empty bucket. */
function bucketStarts(labels: string[], interval: Interval, tz: string): number[] {
  return labels.map((l) => {
    const [y, m, d] = l.slice(0, 10).split('-').map(Number)
    const day = midnight(y, m, d, tz)
    if (interval !== 'hour' && interval !== 'minute') return day
    // within the day, by wall-clock offset: exact except in the hour a clock change skips or repeats
    return day + (Number(l.slice(11, 13)) * 60 + Number(l.slice(14, 16))) * 60_000
  })
}

/** The metrics made of visitors, pageviews, events and engagement alone: a breakdown asking only these may be lean (StatsQuestion.lean). */
const LEAN_METRICS: ReadonlySet<Metric> = new Set(['visitors', 'pageviews', 'events', 'time_on_page'])

export interface Breakdown {
  results: Record<string, string | number | null>[]
  withheld?: string
}

/**
 * "(other)": the rows folded, with the numbers that can overlap between rows (visitors and
 * networks; for pages and event names, which a visit can hold several of, its visits) counted
 * again over their union (R0), as the question filtered on the folded values.
 *
 * `shown`, the keys of the rows shown, for the question the rows are of (not a neighbour without
 * one of its filters, R3): when they are fewer, the union is asked as every value but them. The
 * rows are every value the question has, so the two are the same set, unless the question
 * filters the broken-down property itself (the union is counted without that filter, over values
 * the rows do not list). A neighbour is asked the folded values themselves: without a filter,
 * "every value but the rows shown" holds values the question does not have, and would compare
 * "(other)" with a larger set than the one an explicit filter on the folded values gives.
 */
export async function otherSums(client: ClickHouseClient, s: Scope, range: Span, name: string, prop: Property & { propKey?: string }, folded: Row[], shown: string[] | null, lean: boolean): Promise<Sums> {
  const added = folded.reduce((acc, r) => addSums(acc, r.sums), { ...ZERO })
  // compare the value as the rows show it (a region with its country)
  const asShown = prop.level === 'visit' ? { ...prop, filterExpr: undefined } : prop
  const others = shown !== null && shown.length < folded.length && s.filters.every((f) => f.name !== name)
  const union: Filter = others ? { name, prop: asShown, op: '==', values: shown, exact: true, others } : { name, prop: asShown, op: '==', values: folded.map((r) => r.key), exact: true }
  // the question's own filter on the property, when it picks these values (every row folded): the
  // question itself, whose totals were read beside its rows (dayByDay keeps them for this look)
  const own = ownPick(s, name)
  const same = own !== null && !union.others && new Set(own.values).size === new Set(union.values).size && union.values.every((v) => own.values.includes(v))
  const filters = same ? s.filters : [...s.filters.filter((f) => f.name !== name), union]
  // only its visitors and networks are counted again (lean), but a page's or an event name's visits
  // and durations when the question asks them of visits (not `lean`): the page panel under
  // `page==/pricing` at ten million events read the page's visits in full through FINAL for its
  // "(other)" (33 ms), where today's page rows answer (page_days); the `plan` panel under
  // `source==Google;event==Signup`, today live, its visits with a plan through FINAL (50 ms),
  // where their first events answer (firstEventOnly)
  const visits = unionVisits(prop, lean)
  // a link's, a file's or a custom property's: the visitors of the events carrying a folded value, as
  // its rows count them, from those events (oneKey) rather than from the visits holding such a value
  // (the `plan` panel under `source==Google;event==Signup` at ten million events, today live: 35 ms
  // through the rows opening those visits, found among the day's events three times over)
  const distinct = prop.level === 'event' && prop.visitArray === undefined
    ? summed(await querySums(client, { ...questionOf(s, range), property: prop, filters, oneKey: true }))
    : await totals(client, s, range, filters, !visits)
  const out: Sums = { ...added, visitors: distinct.visitors, networks: distinct.networks }
  // revenue and scroll depth are not counted again over the union (R0): "(other)" shows neither
  out.revenue_visitors = out.scroll_visitors = 0
  if (visits) {
    out.visits = distinct.visits
    out.duration_ms = distinct.duration_ms
    // a visit enters on one page, but holds several event names
    if (prop.level === 'event' && prop.visitArray === 'event_names') out.entries = distinct.visits
  }
  return out
}

/** Whether otherSums counts a union's visits and durations again too: a page's or an event name's, when the question asks them of visits (not `lean`). */
const unionVisits = (prop: Property, lean: boolean) => prop.level === 'event' && prop.visitArray !== undefined && !lean

/** A row's sums as otherSums gives them for its value alone: no revenue or scroll depth visitors (R0). */
const asOther = (sums: Sums): Sums => ({ ...sums, revenue_visitors: 0, scroll_visitors: 0 })

/**
 * The question's one filter on the property `name` when it picks values as the rows show them:
 * `==`, no `*` (exact filters compare `*` as itself), and for a visit property its value as its
 * rows give it (no filterExpr); null otherwise.
 */
export function ownPick(s: Scope, name: string): Filter | null {
  const own = s.filters.filter((f) => f.name === name)
  if (own.length !== 1) return null
  const [f] = own
  const plain = (f.exact === true || f.values.every((v) => !v.includes('*'))) && (f.prop.level !== 'visit' || f.prop.filterExpr === undefined)
  return f.op === '==' && !f.others && plain ? f : null
}

/** The one value a question picks of the broken-down property, if it filters it so (splitRows `picked`). */
function pickedValue(s: Scope, name: string): string | null {
  const own = ownPick(s, name)
  return own !== null && own.values.length === 1 ? own.values[0] : null
}

/**
 * Values of a property with their metrics, largest first. R1 and R4 decide which rows are shown;
 * the others are folded into "(other)", counted over their union; if "(other)" may not be shown,
 * the smallest rows join it. Nothing shown: no rows and `withheld`, as for an empty range. Its
 * rows and "(other)", counted after them, come from one look at the days (inOneLook).
 */
export const breakdown = (...asked: Parameters<typeof breakdownOnce>): Promise<Breakdown> => inOneLook(() => breakdownOnce(...asked))

async function breakdownOnce(
  client: ClickHouseClient,
  s: Scope,
  range: Range,
  name: string,
  prop: Property & { propKey?: string },
  metrics: Metric[],
  limit: number,
): Promise<Breakdown> {
  const nothing = { results: [], withheld: withheldReason(s.limits.k) }
  const base = conversionBase(s, metrics)
  // metrics an events row gives alone: the rows need none of the visit sums (StatsQuestion.lean)
  // a page's scroll depth too (the dashboard's page panel asks it): read from the visits beside the lean rows
  const scroll = prop.dim === 'page' && metrics.includes('scroll_depth')
  // a property a visit holds several values of (pages, event names) may be read lean; a visit
  // property, when visitors alone are asked (a lean visit row counts nothing else)
  const leanable = (prop.level === 'event' && prop.visitArray !== undefined) || prop.level === 'visit'
  const lean = leanable && metrics.every((m) => (prop.level === 'visit' ? m === 'visitors' : LEAN_METRICS.has(m) || (scroll && m === 'scroll_depth')))
  // its visitors alone are compared: an event property's rows are read apart from the visits, a
  // visit property's with its totals in one read (so these stay the whole totals, lean as its rows)
  const headcounted = prop.level === 'event' || lean
  const question = { ...questionOf(s, range), property: prop, ...(lean ? { lean } : {}), ...(lean && scroll ? { scroll } : {}) }
  const asked = querySums(client, { ...question, filters: s.filters })
  // A breakdown of what a visit holds several of (pages, event names) picking one value
  // (`page==/pricing`, beside other filters or none): its one row counts the visitors of the visits
  // holding the value that the other filters keep, which are the question's, so its total is that
  // row rather than a headcount read beside it (the page panel under `page==/pricing;event==Signup`
  // at ten million events read today's visits through FINAL for it, 26 ms); without a row under
  // the value picked (none at all: no visitor), the headcount is read.
  const picked = pickedValue(s, name)
  const whole: Promise<HeadCount> =
    prop.level === 'event' && prop.visitArray !== undefined && picked !== null
      ? asked.then((rs) => (rs.length === 0 ? { visitors: 0, networks: 0 } : (rs.find((r) => r.key === picked) ?? headcount(client, s, range))))
      : headcounted
        ? headcount(client, s, range)
        : totals(client, s, range)
  // R3 row by row: the question without each filter on another property. Only a neighbour's
  // visitors are compared (splitRows), so it is asked lean whenever the property can be, whatever
  // the question's metrics, and never its scroll depth; the page's, its visitors alone (visitorsOnly)
  const withouts = s.filters.filter((f) => f.name !== name).map((f): Scope => ({ ...s, filters: s.filters.filter((x) => x !== f) }))
  const neighbour = { ...questionOf(s, range), property: prop, ...(leanable ? { lean: true } : {}), ...(leanable && prop.dim === 'page' ? { visitorsOnly: true } : {}) }
  // a neighbour the days kept already set k visitors apart at every row R1 lets through is not read
  // (leads, settledApart): waited for when the kept days' rows are so, checked once the rows are read
  const margins = await Promise.all(withouts.map((w) => leads(client, { ...question, filters: s.filters }, { ...neighbour, filters: w.filters }, s.limits)))
  const early = withouts.map((w, i) => (margins[i]?.likely ? null : querySums(client, { ...neighbour, filters: w.filters })))
  early.forEach((p) => p?.catch(() => {}))
  const [rows, total, bases, open] = await Promise.all([
    asked,
    whole,
    base ? querySums(client, { ...question, filters: base.filters }) : Promise.resolve([]),
    // (the neighbours' totals with their rows, in the same read, when these are read)
    publishable(client, s, range, whole, headcounted, s.now ?? Date.now(), early.every((p) => p === null)),
  ])
  const byBase = new Map(bases.map((r) => [r.key, r]))
  if (!open) return nothing
  const neighbourRows = await Promise.all(
    withouts.map((w, i) => early[i] ?? (margins[i]!.settles(rows) ? rows.map((r): SumsRow => ({ ...ZERO, key: r.key, bucket: r.bucket, visitors: APART })) : querySums(client, { ...neighbour, filters: w.filters }))),
  )
  const neighbours = neighbourRows.map((rs) => new Map(rs.map((r) => [r.key, r])))
  // "(other)" of one value is that value's row: otherSums would count its visitors and networks
  // again from the visits or events holding it, under the question and under each neighbour, and
  // find what the row and the neighbours' rows of it already count (test/aggregator/stats/
  // query.test.ts proves it for every property), unless the question filters the property itself
  // (the union is then counted without that filter) or a page's or an event name's visits are
  // asked (otherSums reads them too). At ten million events, today live, the question's second
  // turn of reads (15-30 ms): the `plan` panel under `outbound~docs;source==Google`, the event,
  // channel and outbound panels under it, the device panel under `page==/pricing;country==US`,
  // each had one value folded alone.
  const rowIsUnion = s.filters.every((f) => f.name !== name) && !unionVisits(prop, lean)
  let { shown: visible, folded } = splitRows(rows.map((r) => ({ key: r.key, sums: r })), total.visitors, s.limits, neighbours, picked)
  let other: Sums | null = null
  for (let tries = 0; folded.length > 0; tries++) {
    if (tries === OTHER_TRIES) {
      folded = [...folded, ...visible]
      visible = []
    }
    const [union, ...unionWithout] =
      folded.length === 1 && rowIsUnion
        ? [asOther(folded[0].sums), ...neighbours.map((n) => asOther(n.get(folded[0].key) ?? ZERO))]
        : await Promise.all([s, ...withouts].map((scope) => otherSums(client, scope, range, name, prop, folded, scope === s ? visible.map((r) => r.key) : null, lean)))
    other = union
    if (otherAllowed(other, total.visitors, s.limits) && apartFromEach(unionWithout.map((w) => w.visitors), union.visitors, s.limits)) break
    other = null
    if (visible.length === 0) return nothing
    folded = [...folded, visible.pop()!]
  }
  if (visible.length === 0 && !other) return nothing
  const span = spanOf(range)
  const cells = [
    ...visible.slice(0, limit).map((r) => ({ label: present(name, r.key === '' ? NONE : r.key), sums: r.sums, row: { name, op: '==', values: [r.key] } })),
    ...(other ? [{ label: { [name]: OTHER }, sums: other, row: { name, op: '!=', values: visible.map((r) => r.key) } }] : []),
  ]
  const results = cells.map((c) => {
    const value = shown(s, cellOf(s.filters, span, c.row), c.sums)
    // "(other)" has no base of its own: its rate is null
    const baseRow = base && c.row.op === '==' ? byBase.get(c.row.values[0]) : undefined
    const rate = base && baseRow ? rateBase(base, cellOf(base.filters, span, c.row), baseRow, c.sums) : null
    const out: Record<string, string | number | null> = { ...c.label }
    for (const m of metrics) out[m] = metricValue(value, m, rate)
    return out
  })
  // with noise, the order follows the numbers shown, so it does not tell the true one
  if (s.noise) results.sort((a, b) => Number(a[name] === OTHER) - Number(b[name] === OTHER) || Number(b.visitors ?? 0) - Number(a.visitors ?? 0))
  return { results }
}

/**
 * The custom-prop keys used in the range by at least k visitors from kn networks (R1), most
 * used first: a key only a handful of visitors sent is not listed (its name alone could single
 * them out). `url` is the link of outbound and download clicks, shown by those properties, not
 * listed. Like every statistic, from the rollup for the days it holds and from events for the others.
 */
export async function propertyKeys(client: ClickHouseClient, s: Scope, range: { from: number; to: number }): Promise<string[]> {
  const days = rangeDays(range, s.timezone)
  const whole = rollupAnswers({ site: s.site, timezone: s.timezone, range, filters: [] })
  const current = whole ? await currentDays(client, days.utcFirst, days.utcLast) : new Set<string>()
  const live = utcDays(days.utcFirst, days.utcLast).filter((d) => !current.has(d))
  const rs = await client.query({
    query: `SELECT key, sum(v) AS v, sum(nets) AS nets FROM (
              SELECT substring(dim, 6) AS key, sum(visitors) AS v, sum(networks) AS nets FROM rollup_daily
              WHERE site = {site:String} AND startsWith(dim, 'prop:') AND build_day IN {built:Array(Date)} AND day BETWEEN {d0:Date} AND {d1:Date}
              GROUP BY key
              UNION ALL
              SELECT key, sum(n) AS v, sum(m) AS nets FROM (
                SELECT k AS key, uniqExactIf(visitor_id, visitor_id != 0) AS n,
                  uniqExactIf(if(network_id = 0, visitor_id, network_id), visitor_id != 0) AS m
                FROM events ARRAY JOIN mapKeys(props) AS k
                WHERE site = {site:String} AND toDate(ts) IN {live:Array(Date)} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})
                  AND name NOT IN ('pageview', 'engagement')
                GROUP BY key, toDate(ts), toDate(ts, {tz:String})
              ) GROUP BY key
            )
            WHERE key != 'url'
            GROUP BY key HAVING v >= {k:UInt64} AND nets >= {kn:UInt64} ORDER BY v DESC, key LIMIT 100`,
    query_params: { site: s.site, built: [...current], live, d0: days.first, d1: days.last, from: range.from, to: range.to, tz: s.timezone, k: s.limits.k, kn: s.limits.kn },
    format: 'JSONEachRow',
  })
  return (await rs.json<{ key: string }>()).map((r) => r.key)
}

