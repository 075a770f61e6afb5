/**
 * The date ranges a marketing person picks, and how each becomes the stats API's
 * `period`/`date`/`from`/`to`. Calendar days are the site's time zone, as the API counts them.
 */
export type RangeKey = 'day' | 'yesterday' | '7d' | '30d' | 'month' | 'lastmonth' | '12mo' | 'custom'

export interface Range {
  key: RangeKey
  /** custom only: inclusive ISO dates */
  from?: string
  to?: string
}

export const RANGES: { key: RangeKey; label: string; hotkey: string }[] = [
  { key: 'day', label: 'Today', hotkey: 'd' },
  { key: 'yesterday', label: 'Yesterday', hotkey: 'e' },
  { key: '7d', label: 'Last 7 days', hotkey: 'w' },
  { key: '30d', label: 'Last 30 days', hotkey: 't' },
  { key: 'month', label: 'This month', hotkey: 'm' },
  { key: 'lastmonth', label: 'Last month', hotkey: 'l' },
  { key: '12mo', label: 'Last 12 months', hotkey: 'y' },
  { key: 'custom', label: 'Custom range', hotkey: 'c' },
]

export const DEFAULT_RANGE: Range = { key: '30d' }

const ISO = /^\d{4}-\d{2}-\d{2}$/
export const isIsoDate = (s: string | null | undefined): s is string => !!s && ISO.test(s) && !Number.isNaN(Date.parse(s))

/** Today's calendar date in `tz`. */
export function todayIn(tz: string, now = Date.now()): string {
  // en-CA formats as YYYY-MM-DD
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now)
}

export function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + n)
  return d.toISOString().slice(0, 10)
}

function lastMonth(today: string): { from: string; to: string } {
  const firstOfThis = `${today.slice(0, 7)}-01`
  const to = addDays(firstOfThis, -1)
  return { from: `${to.slice(0, 7)}-01`, to }
}

/** The API's query parameters for a range. */
export function periodParams(range: Range, tz: string, now = Date.now()): Record<string, string> {
  const today = todayIn(tz, now)
  switch (range.key) {
    case 'day':
    case '7d':
    case '30d':
    case 'month':
    case '12mo':
      return { period: range.key }
    case 'yesterday': {
      const day = addDays(today, -1)
      return { period: 'custom', from: day, to: day }
    }
    case 'lastmonth':
      return { period: 'custom', ...lastMonth(today) }
    case 'custom': {
      const from = isIsoDate(range.from) ? range.from : addDays(today, -6)
      const to = isIsoDate(range.to) ? range.to : today
      return { period: 'custom', from: from <= to ? from : to, to: from <= to ? to : from }
    }
  }
}

/** Chart intervals that make sense for a range; the first is the default. */
export function intervalsFor(range: Range, tz: string): ('hour' | 'day' | 'week' | 'month')[] {
  if (range.key === 'day' || range.key === 'yesterday') return ['hour']
  if (range.key === '12mo') return ['month', 'week', 'day']
  const p = periodParams(range, tz)
  const days = p.from && p.to ? (Date.parse(p.to) - Date.parse(p.from)) / 86_400_000 + 1 : range.key === '7d' ? 7 : 31
  if (days <= 1) return ['hour', 'day']
  if (days <= 93) return ['day', 'week']
  return ['month', 'week', 'day']
}

export function rangeLabel(range: Range): string {
  if (range.key === 'custom' && range.from && range.to) return `${formatDay(range.from)} – ${formatDay(range.to)}`
  return RANGES.find((r) => r.key === range.key)?.label ?? range.key
}

export function formatDay(iso: string): string {
  return new Date(`${iso}T12:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })
}
