import Type, { type Static } from 'typebox'
import { calendarDate, midnight, resolvePeriod, tzOffset, type Range } from '../stats/period.ts'
import type { Interval } from '../stats/query.ts'
import { ourProperty, PlausibleError, quoted } from './names.ts'

/**
 * Plausible's stats API v2 request (`POST /api/v2/query`), read into our terms: its JSON shape
 * as the route's schema, then its date range, dimension, metrics, filters, order and page. What
 * has no counterpart here is a PlausibleError (400) naming it. Field names and values follow
 * Plausible's JSON schema (`query-api-schema.json`) and its documentation.
 */

export const V2Body = Type.Object({
  site_id: Type.String({ minLength: 1, maxLength: 253, description: "the site's domain" }),
  metrics: Type.Array(Type.String({ maxLength: 40 }), { minItems: 1, maxItems: 20, uniqueItems: true }),
  date_range: Type.Union([Type.String({ maxLength: 10 }), Type.Array(Type.String({ maxLength: 40 }), { minItems: 2, maxItems: 2 })], {
    description: '"day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", or two ISO dates or date-times',
  }),
  dimensions: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 10, uniqueItems: true })),
  filters: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 20, description: '[operator, dimension, clauses] filters, and and/or/not of them' })),
  order_by: Type.Optional(Type.Array(Type.Tuple([Type.String({ maxLength: 100 }), Type.Union([Type.Literal('asc'), Type.Literal('desc')])]), { maxItems: 10 })),
  include: Type.Optional(Type.Object({
    time_labels: Type.Optional(Type.Boolean()),
    imports: Type.Optional(Type.Boolean()),
    total_rows: Type.Optional(Type.Boolean()),
  }, { additionalProperties: false })),
  pagination: Type.Optional(Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
  }, { additionalProperties: false })),
}, { additionalProperties: false })

export type V2Request = Static<typeof V2Body>

/** What the rows are grouped by: nothing, time buckets, one property of ours, or the site's goals. */
export type Dimension =
  | { kind: 'none' }
  | { kind: 'time'; name: string; interval: Interval }
  | { kind: 'property'; name: string; ours: string }
  | { kind: 'goal'; name: 'event:goal' }

/** Metrics of Plausible's that this API answers: ours, and two computed from ours. */
const METRICS = [
  'visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events', 'time_on_page',
  'scroll_depth', 'conversion_rate', 'group_conversion_rate', 'total_revenue', 'average_revenue', 'percentage',
] as const
export type V2Metric = (typeof METRICS)[number]

/** On the goal dimension: each goal's converting visitors, completions and conversion rate (aggregator/stats/goal-conversions.ts). */
export const GOAL_METRICS: readonly V2Metric[] = ['visitors', 'events', 'conversion_rate', 'group_conversion_rate']

const TIME: Record<string, Interval | null> = { time: null, 'time:hour': 'hour', 'time:day': 'day', 'time:week': 'week', 'time:month': 'month' }

const DAY = 86_400_000
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/
/** A date-time with seconds and an offset or Z, as Plausible's examples write them. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/
const pad = (n: number) => String(n).padStart(2, '0')
const ymd = ([y, m, d]: [number, number, number]) => `${y}-${pad(m)}-${pad(d)}`

export function parseMetrics(asked: string[]): V2Metric[] {
  const unknown = asked.filter((m) => !(METRICS as readonly string[]).includes(m))
  if (unknown.length) throw new PlausibleError(`metric ${quoted(unknown[0])} is not supported: metrics are ${METRICS.join(', ')}`)
  return asked as V2Metric[]
}

/** One dimension at a time: a time bucket, a property, or event:goal. */
export function parseDimension(dimensions: string[] = []): Dimension {
  if (dimensions.length === 0) return { kind: 'none' }
  if (dimensions.length > 1) throw new PlausibleError(`one dimension at a time is supported, not ${dimensions.length}: ask once per dimension, or a property with a filter on the other`)
  const [name] = dimensions
  if (Object.hasOwn(TIME, name)) return { kind: 'time', name, interval: TIME[name] ?? 'day' }
  if (name === 'event:goal') return { kind: 'goal', name }
  return { kind: 'property', name, ours: ourProperty(name) }
}

/** `time` picks its bucket from the range, as Plausible does: hours for a day, months for half a year and more, days between. */
export function timeInterval(d: Dimension & { kind: 'time' }, dateRange: V2Request['date_range'], range: Range): Interval {
  if (d.name !== 'time') return d.interval
  if (typeof dateRange === 'string' && ['6mo', '12mo', 'year'].includes(dateRange)) return 'month'
  const days = (range.to - range.from) / DAY
  return days <= 1 ? 'hour' : days <= 93 ? 'day' : 'month'
}

/**
 * The range a `date_range` names, in the site's time zone: Plausible's shorthands (`28d` and
 * `91d` as the last so many days, `year` since 1 January), two dates (whole days, inclusive),
 * or two date-times (to the second, inclusive). `all` is not offered: give the range.
 */
export function resolveDateRange(dateRange: V2Request['date_range'], tz: string, now = Date.now()): Range {
  if (typeof dateRange === 'string') {
    if (['day', '7d', '30d', 'month', '6mo', '12mo'].includes(dateRange)) return resolvePeriod({ period: dateRange }, tz, now)
    const today = calendarDate(now, tz)
    const daysBack = { '28d': 27, '91d': 90 }[dateRange]
    if (daysBack !== undefined) {
      const first = calendarDate(midnight(...today, tz) - daysBack * DAY + DAY / 2, tz)
      return resolvePeriod({ period: 'custom', from: ymd(first), to: ymd(today) }, tz, now)
    }
    if (dateRange === 'year') return resolvePeriod({ period: 'custom', from: `${today[0]}-01-01`, to: ymd(today) }, tz, now)
    if (dateRange === 'all') throw new PlausibleError('date_range "all" is not supported: give a range such as "12mo" or two dates')
    throw new PlausibleError(`date_range ${quoted(dateRange)} is not supported: give day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year, or two dates`)
  }
  const [a, b] = dateRange
  if (ISO_DATE.test(a) && ISO_DATE.test(b)) return resolvePeriod({ period: 'custom', from: a, to: b }, tz, now)
  if (!ISO_DATE_TIME.test(a) || !ISO_DATE_TIME.test(b)) throw new PlausibleError('date_range is two ISO dates (2024-01-31) or two ISO date-times with an offset (2024-01-31T12:00:00+02:00)')
  const from = Date.parse(a)
  // the last second given is inside the range, as in Plausible
  const to = Date.parse(b) + (b.includes('.') ? 1 : 1000)
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) throw new PlausibleError('date_range: the first date-time must come before the second')
  if (to - from > 3 * 366 * DAY) throw new PlausibleError('date_range may span at most 3 years')
  return { from, to, previous: { from: from - (to - from), to: from }, label: `${a}..${b}`, period: 'custom' }
}

/** A range's bounds as Plausible echoes them: date-times in the site's offset, the end inclusive. */
export function echoRange(range: Range, tz: string): [string, string] {
  const at = (ms: number) => {
    const offset = tzOffset(ms, tz)
    const local = new Date(ms + offset).toISOString().slice(0, 19)
    const sign = offset < 0 ? '-' : '+'
    const abs = Math.abs(offset) / 60_000
    return `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  }
  return [at(range.from), at(range.to - 1000)]
}

const OPERATORS: Record<string, '==' | '!=' | '~'> = { is: '==', is_not: '!=', contains: '~' }
const UNSUPPORTED_OPERATORS: Record<string, string> = {
  contains_not: 'contains_not is not supported: filter with not around is, or with is_not',
  matches: 'regular expressions (matches) are not supported: use is with * wildcards, or contains',
  matches_not: 'regular expressions (matches_not) are not supported: use is_not with * wildcards',
  matches_wildcard: 'matches_wildcard is not supported: is takes * wildcards',
  matches_wildcard_not: 'matches_wildcard_not is not supported: is_not takes * wildcards',
  has_done: 'behavioural filters (has_done) are not supported',
  has_not_done: 'behavioural filters (has_not_done) are not supported',
}

/** Plausible's words for an empty value, ours being "(none)" (aggregator/stats/filters.ts). */
export const NOT_SET = '(not set)'
export const DIRECT = 'Direct / None'

interface Simple {
  name: string
  op: '==' | '!=' | '~'
  values: string[]
}

function simpleFilter(f: unknown[]): Simple {
  const [operator, dimension, clauses, modifiers] = f
  if (typeof operator !== 'string') throw new PlausibleError('a filter is [operator, dimension, clauses]')
  if (Object.hasOwn(UNSUPPORTED_OPERATORS, operator)) throw new PlausibleError(UNSUPPORTED_OPERATORS[operator])
  if (!Object.hasOwn(OPERATORS, operator)) throw new PlausibleError(`filter operator ${quoted(operator)} is not supported: is, is_not, contains, and, or, not`)
  if (typeof dimension !== 'string') throw new PlausibleError('a filter names its dimension as a string')
  if (dimension === 'segment') throw new PlausibleError('segment filters are not supported: give the segment\'s filters')
  if (Object.hasOwn(TIME, dimension)) throw new PlausibleError('time dimensions are not filters: set date_range')
  if (!Array.isArray(clauses) || clauses.length === 0 || clauses.some((c) => typeof c !== 'string' && !Number.isInteger(c))) {
    throw new PlausibleError('a filter\'s clauses are a non-empty list of strings or integers')
  }
  if (modifiers !== undefined) {
    const m = modifiers as { case_sensitive?: unknown }
    if (typeof m !== 'object' || m === null || Object.keys(m).some((k) => k !== 'case_sensitive') || typeof m.case_sensitive !== 'boolean') {
      throw new PlausibleError('a filter\'s modifiers are {"case_sensitive": true|false}')
    }
    if (m.case_sensitive === false && operator !== 'contains') throw new PlausibleError('case-insensitive is and is_not are not supported: contains ignores case')
  }
  const name = dimension === 'event:goal' ? 'goal' : ourProperty(dimension)
  const op = OPERATORS[operator]
  if (name === 'goal' && op === '~') throw new PlausibleError('an event:goal filter takes is with the names of goals')
  const values = clauses.map(String).map((v) => {
    if (/[|;]/.test(v)) throw new PlausibleError('a filter clause holding | or ; is not supported')
    return v === NOT_SET || (name === 'source' && v === DIRECT) ? '(none)' : v
  })
  return { name, op, values }
}

/** How deep and/or/not may nest: deeper is no question a script asks, and would only cost the stack. */
const MAX_DEPTH = 8

/** A filter tree, flattened into the conditions that must all hold. */
function conditions(tree: unknown, depth = 0): Simple[] {
  if (depth > MAX_DEPTH) throw new PlausibleError(`filters nest at most ${MAX_DEPTH} deep`)
  if (!Array.isArray(tree)) throw new PlausibleError('a filter is a list: [operator, dimension, clauses], ["and", [...]], ["or", [...]] or ["not", filter]')
  const [operator, operand] = tree
  if (operator === 'and') {
    if (!Array.isArray(operand) || operand.length === 0) throw new PlausibleError('"and" takes a non-empty list of filters')
    return operand.flatMap((t) => conditions(t, depth + 1))
  }
  if (operator === 'or') {
    if (!Array.isArray(operand) || operand.length === 0) throw new PlausibleError('"or" takes a non-empty list of filters')
    // alternatives on one dimension with one operator are one condition with several values
    const parts = operand.map((t) => conditions(t, depth + 1))
    const flat = parts.map((p) => (p.length === 1 ? p[0] : null))
    const [first] = flat
    if (!first || flat.some((p) => !p || p.name !== first.name || p.op !== first.op || p.op === '!=')) {
      throw new PlausibleError('"or" is supported between is (or contains) filters on one dimension only')
    }
    return [{ ...first, values: flat.flatMap((p) => p!.values) }]
  }
  if (operator === 'not') {
    const inner = conditions(operand, depth + 1)
    if (inner.length !== 1 || inner[0].op === '~') throw new PlausibleError('"not" is supported around one is or is_not filter')
    return [{ ...inner[0], op: inner[0].op === '==' ? '!=' : '==' }]
  }
  return [simpleFilter(tree)]
}

/** The filters in our syntax (`country==DE;page~/blog`), for aggregator/stats/filters.ts to check and read. */
export function filtersOf(filters: unknown[] = []): string {
  return filters.flatMap((t) => conditions(t)).map((c) => `${c.name}${c.op}${c.values.join('|')}`).join(';')
}
