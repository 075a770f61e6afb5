import { InputError } from '../../http/errors.ts'
/** A half-open time range [from, to) in UTC milliseconds, plus the one just before it of the same length. */
export interface Range {
  from: number
  to: number
  previous: { from: number; to: number }
  /** The calendar days it covers, in the site's time zone, for display. */
  label: string
  /** The period asked for (`custom` for from..to). */
  period?: Period
}

export const PERIODS = ['realtime', 'day', '7d', '30d', 'month', '6mo', '12mo', 'custom'] as const
export type Period = (typeof PERIODS)[number]

export class PeriodError extends InputError {}

const DAY = 86_400_000
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/

/** A formatter per time zone: making one costs ~150 µs, a hundred times using it, and a question asks thousands of offsets. */
const offsetFormats = new Map<string, Intl.DateTimeFormat>()

/**
 * Offset of `tz` from UTC at instant `ms`, in ms (positive east of Greenwich), read from the
 * zone's offset name (`GMT+05:45`; `GMT` for UTC; with seconds for early local mean time): the
 * cheapest answer Intl gives, ~1 µs where a date's parts cost ~15.
 */
export function tzOffset(ms: number, tz: string): number {
  if (tz === 'UTC') return 0
  let known = knownOffsets.get(tz)
  if (!known) knownOffsets.set(tz, (known = new Map()))
  const had = known.get(ms)
  if (had !== undefined) return had
  let format = offsetFormats.get(tz)
  if (!format) offsetFormats.set(tz, (format = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' })))
  const m = /GMT(?:([+-])(\d\d):(\d\d)(?::(\d\d))?)?/.exec(format.format(ms))!
  const offset = m[1] ? (m[1] === '-' ? -1 : 1) * ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4] ?? 0)) * 1000 : 0
  // forgotten all at once past the bound (every zone's): the instants are a few per question, asked again and again
  if (++offsetsKnown > KNOWN_OFFSETS) {
    knownOffsets.clear()
    offsetsKnown = 1
    knownOffsets.set(tz, (known = new Map()))
  }
  known.set(ms, offset)
  return offset
}

/** Whether every instant of the UTC day `day` (ISO date) has that date in `tz`: the zone is at UTC's time from its start to its end. */
export function utcAllDay(day: string, tz: string): boolean {
  const start = Date.parse(`${day}T00:00:00Z`)
  // an offset that changed within the day could not change back before its end
  return tzOffset(start, tz) === 0 && tzOffset(start + 86_400_000 - 1, tz) === 0
}

/**
 * Offsets already worked out, per zone and instant: the same questions ask the same instants
 * (a three-year series by day, 1,096 midnights and bucket starts, each offset ~3 µs through
 * Intl, was 6 ms of the main thread's 14 a question). Exact instants, so no assumption on when
 * a zone's clocks change.
 */
const knownOffsets = new Map<string, Map<number, number>>()
/** At most this many offsets kept in all (a few MB). */
const KNOWN_OFFSETS = 50_000
let offsetsKnown = 0

/** Midnight starting calendar day `y-m-d` in `tz`, as UTC ms. */
export function midnight(y: number, m: number, d: number, tz: string): number {
  const guess = Date.UTC(y, m - 1, d)
  return guess - tzOffset(guess - tzOffset(guess, tz), tz)
}

/** The calendar date (y, m, d) of instant `ms` in `tz`. */
export function calendarDate(ms: number, tz: string): [number, number, number] {
  const shifted = new Date(ms + tzOffset(ms, tz))
  return [shifted.getUTCFullYear(), shifted.getUTCMonth() + 1, shifted.getUTCDate()]
}

function parseDate(s: string, field: string): [number, number, number] {
  if (!ISO_DATE.test(s)) throw new PeriodError(`${field} must be a date like 2026-01-31`)
  const [y, m, d] = s.split('-').map(Number)
  const check = new Date(Date.UTC(y, m - 1, d))
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d || y < 2000 || y > 2200) {
    throw new PeriodError(`${field} is not a valid date`)
  }
  return [y, m, d]
}

function addDays([y, m, d]: [number, number, number], n: number): [number, number, number] {
  const t = new Date(Date.UTC(y, m - 1, d + n))
  return [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()]
}

const fmt = ([y, m, d]: [number, number, number]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`

/**
 * Plausible's periods: `day` is today (or `date`), `7d`/`30d` the last N days including
 * today, `month` this calendar month, `6mo`/`12mo` the last N calendar months including
 * this one, `custom` from..to inclusive; `realtime` the last 5 minutes.
 */
export function resolvePeriod(q: { period?: string; date?: string; from?: string; to?: string }, tz: string, now = Date.now()): Range {
  const period = (q.period ?? (q.from || q.to ? 'custom' : '30d')) as Period
  if (!PERIODS.includes(period)) throw new PeriodError(`period must be one of ${PERIODS.join(', ')}`)
  if (period === 'realtime') {
    const from = now - 5 * 60_000
    return { from, to: now, previous: { from: from - 5 * 60_000, to: from }, label: 'last 5 minutes', period }
  }
  const today = q.date ? parseDate(q.date, 'date') : calendarDate(now, tz)
  let first: [number, number, number]
  let last: [number, number, number]
  switch (period) {
    case 'day':
      first = last = today
      break
    case '7d':
      first = addDays(today, -6)
      last = today
      break
    case '30d':
      first = addDays(today, -29)
      last = today
      break
    case 'month':
      first = [today[0], today[1], 1]
      last = addDays([today[1] === 12 ? today[0] + 1 : today[0], today[1] === 12 ? 1 : today[1] + 1, 1], -1)
      break
    case '6mo':
    case '12mo': {
      const months = period === '6mo' ? 6 : 12
      const startMonth = today[1] - (months - 1)
      const y = today[0] + Math.floor((startMonth - 1) / 12)
      const m = ((((startMonth - 1) % 12) + 12) % 12) + 1
      first = [y, m, 1]
      last = addDays([today[1] === 12 ? today[0] + 1 : today[0], today[1] === 12 ? 1 : today[1] + 1, 1], -1)
      break
    }
    case 'custom': {
      if (!q.from || !q.to) throw new PeriodError('a custom period needs both from and to')
      first = parseDate(q.from, 'from')
      last = parseDate(q.to, 'to')
      if (fmt(first) > fmt(last)) throw new PeriodError('from must not be after to')
      if (Date.UTC(last[0], last[1] - 1, last[2]) - Date.UTC(first[0], first[1] - 1, first[2]) > 3 * 366 * DAY) {
        throw new PeriodError('a custom period may span at most 3 years')
      }
      break
    }
  }
  const from = midnight(...first, tz)
  const to = midnight(...addDays(last, 1), tz)
  const previous = period === 'month' ? { from: midnight(...addMonths(first, -1), tz), to: from } : { from: from - (to - from), to: from }
  return { from, to, previous, label: fmt(first) === fmt(last) ? fmt(first) : `${fmt(first)}..${fmt(last)}`, period }
}

function addMonths([y, m, d]: [number, number, number], n: number): [number, number, number] {
  const t = new Date(Date.UTC(y, m - 1 + n, 1))
  return [t.getUTCFullYear(), t.getUTCMonth() + 1, d]
}

export const COMPARISONS = ['previous_period', 'year_over_year', 'custom'] as const
export type Comparison = (typeof COMPARISONS)[number]

/**
 * The range a period is compared with, like for like: a period still running (today, this
 * month) is compared up to the same point of the other period (today until now with yesterday
 * until the same time, this month to date with last month to the same day), so a running
 * period never shows a fall that is only time still to come. `previous_period` is the period
 * before (the calendar month before a month), `year_over_year` the same dates a year earlier,
 * `custom` the days `compare_from`..`compare_to` (whole days, as asked).
 */
export function comparisonRange(
  range: Range,
  kind: Comparison,
  tz: string,
  custom: { from?: string; to?: string } = {},
  now = Date.now(),
): { from: number; to: number; label: string } {
  if (kind === 'custom') {
    if (!custom.from || !custom.to) throw new PeriodError('comparison=custom needs compare_from and compare_to')
    const r = resolvePeriod({ period: 'custom', from: custom.from, to: custom.to }, tz, now)
    return { from: r.from, to: r.to, label: r.label }
  }
  const first = calendarDate(range.from, tz)
  const from = kind === 'year_over_year' ? midnight(first[0] - 1, first[1], first[2], tz) : range.previous.from
  const whole = kind === 'year_over_year' ? from + (range.to - range.from) : range.previous.to
  // a running period: the same length of time as has passed
  const to = range.to > now && now > range.from ? Math.min(whole, from + (now - range.from)) : whole
  const last = calendarDate(Math.max(from, to - 1), tz)
  const label = fmt(calendarDate(from, tz)) === fmt(last) ? fmt(last) : `${fmt(calendarDate(from, tz))}..${fmt(last)}`
  return { from, to, label }
}

/** Whether a range runs from a local midnight to a local midnight in `tz`. */
export function wholeDays(range: { from: number; to: number }, tz: string): boolean {
  return midnight(...calendarDate(range.from, tz), tz) === range.from && midnight(...addDays(calendarDate(range.to - 1, tz), 1), tz) === range.to
}

/**
 * The local day just before and the one just after a range of whole local days (the days a
 * caller gets by adding one day to the range), leaving out a day that has not begun; none for
 * a range that is not whole days (the last five minutes).
 */
export function adjacentDays(range: { from: number; to: number }, tz: string, now = Date.now()): { from: number; to: number }[] {
  if (!wholeDays(range, tz)) return []
  const first = calendarDate(range.from, tz)
  const last = calendarDate(range.to - 1, tz)
  const out = [{ from: midnight(...addDays(first, -1), tz), to: range.from }]
  if (range.to <= now) out.push({ from: range.to, to: midnight(...addDays(last, 2), tz) })
  return out
}
