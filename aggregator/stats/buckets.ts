import type { Interval } from './query.ts'

/** Every bucket of the range, in the site's time zone, in order. */
export function buckets(range: { from: number; to: number }, interval: Interval, tz: string): string[] {
  const out: string[] = []
  const step = { minute: 60_000, hour: 3_600_000, day: 3_600_000, week: 3_600_000, month: 3_600_000 }[interval]
  const seen = new Set<string>()
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  for (let t = range.from; t < range.to; t += step) {
    const p = Object.fromEntries(fmt.formatToParts(new Date(t)).map((x) => [x.type, x.value]))
    const date = `${p.year}-${p.month}-${p.day}`
    let key: string
    if (interval === 'minute') key = `${date} ${p.hour}:${p.minute}:00`
    else if (interval === 'hour') key = `${date} ${p.hour}:00:00`
    else if (interval === 'day') key = date
    else if (interval === 'month') key = `${p.year}-${p.month}-01`
    else {
      const d = new Date(`${date}T00:00:00Z`)
      d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7))
      key = d.toISOString().slice(0, 10)
    }
    if (!seen.has(key)) {
      seen.add(key)
      out.push(key)
    }
  }
  return out
}
