/**
 * Time buckets (issue 13, point 2): computed in time linear in the buckets, not by walking the
 * range hour by hour through Intl (three years by month cost 0.3 s of the event loop), with the
 * very answer the walk gave, in every time zone, across daylight-saving changes, in zones 30 or
 * 45 minutes off UTC and on days a zone skipped.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buckets } from '../../../aggregator/stats/buckets.ts'
import { tzOffset } from '../../../aggregator/stats/period.ts'
import { utcDays, type Interval } from '../../../aggregator/stats/query.ts'
import { utcDay } from '../../../store/time.ts'

/** The walk it replaces, as it was: one Intl call per hour (per minute for minute buckets). */
function walked(range: { from: number; to: number }, interval: Interval, tz: string): string[] {
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
      key = utcDay(d)
    }
    if (!seen.has(key)) {
      seen.add(key)
      out.push(key)
    }
  }
  return out
}

const ZONES = Intl.supportedValuesOf('timeZone')
/**
 * Zones whose clocks are odd: 30 and 45 minutes off UTC (some with daylight saving, Lord Howe's
 * by half an hour), changes at midnight (Santiago, Havana, Beirut), a skipped day (Apia, 30
 * December 2011), a Ramadan pause (Casablanca), negative daylight saving (Dublin), and plain ones.
 */
const ODD = [
  'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Chatham', 'Asia/Kolkata', 'Australia/Adelaide', 'America/St_Johns',
  'Asia/Tehran', 'Australia/Eucla', 'Asia/Pyongyang', 'America/Santiago', 'America/Havana', 'Asia/Beirut', 'Pacific/Apia',
  'Pacific/Kiritimati', 'Africa/Casablanca', 'Europe/Dublin', 'America/Nuuk', 'Europe/Berlin', 'America/New_York', 'UTC',
]
const INTERVALS: Interval[] = ['minute', 'hour', 'day', 'week', 'month']
const HOUR = 3_600_000
const DAY = 24 * HOUR

describe('buckets', () => {
  it('answers what the hourly walk answered in odd zones, over whole years by day, week and month', () => {
    for (const [tz, year] of [...ODD.map((z) => [z, 2024] as const), ['Pacific/Apia', 2011] as const]) {
      const range = { from: Date.UTC(year, 0, 1) - 14 * HOUR, to: Date.UTC(year + 1, 0, 1) + 14 * HOUR }
      for (const interval of ['day', 'week', 'month'] as const) expect(buckets(range, interval, tz), `${tz} ${year} ${interval}`).toEqual(walked(range, interval, tz))
    }
  }, 120_000)

  it('answers what the walk answered by hour and minute across every daylight-saving change of a year in odd zones', () => {
    for (const tz of ODD) {
      // each day of 2024 whose two ends differ in offset holds a change: two days around it, by hour and by minute
      const offset = (t: number) => new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).format(t).split(' ').at(-1)
      for (let day = Date.UTC(2024, 0, 1); day < Date.UTC(2025, 0, 1); day += DAY) {
        if (offset(day) === offset(day + DAY)) continue
        const range = { from: day - 17 * HOUR + 60_000 * 7, to: day + DAY + 17 * HOUR }
        expect(buckets(range, 'hour', tz), `${tz} by hour around ${new Date(day).toISOString()}`).toEqual(walked(range, 'hour', tz))
        const near = { from: day - 3 * HOUR + 1234, to: day + DAY + 3 * HOUR }
        expect(buckets(near, 'minute', tz), `${tz} by minute around ${new Date(day).toISOString()}`).toEqual(walked(near, 'minute', tz))
      }
    }
  }, 120_000)

  it('answers what the walk answered for any zone, interval and range (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom(...INTERVALS),
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.integer({ min: 0, max: 90 * DAY }),
        (tz, interval, from, length) => {
          // minute buckets over at most two days: the walk takes a minute a step
          const range = { from, to: from + (interval === 'minute' ? length % (2 * DAY) : length) }
          expect(buckets(range, interval, tz)).toEqual(walked(range, interval, tz))
        },
      ),
      { numRuns: 200, seed: 13 },
    )
  }, 120_000)

  it('answers an empty list for an empty range', () => {
    expect(buckets({ from: 1000, to: 1000 }, 'day', 'UTC')).toEqual([])
    expect(buckets({ from: 2000, to: 1000 }, 'month', 'UTC')).toEqual([])
  })

  it('costs time linear in the buckets: three years by month in a few milliseconds', () => {
    const range = { from: Date.UTC(2023, 11, 31, 23), to: Date.UTC(2026, 11, 31, 23) }
    buckets(range, 'month', 'Europe/Berlin') // the zone's formatter made once
    const started = performance.now()
    for (let i = 0; i < 10; i++) expect(buckets(range, 'month', 'Europe/Berlin')).toHaveLength(36)
    const perCall = (performance.now() - started) / 10
    // the walk took ~300 ms here; a shared, busy machine gets a wide margin
    expect(perCall).toBeLessThan(20)
    // and the walk's per-hour cost is gone: day buckets cost about 30 times month buckets, not the same
    const days = performance.now()
    expect(buckets(range, 'day', 'Europe/Berlin')).toHaveLength(1096)
    expect(performance.now() - days).toBeLessThan(150)
  })
})

describe('offsets and day lists kept for the next question', () => {
  /** A zone's offset from the wall clock Intl gives (not from its offset name, as tzOffset reads it). */
  function offsetFromParts(ms: number, tz: string): number {
    const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]))
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000
  }

  it('tzOffset answers each zone its own offset, asked once or again, zones interleaved (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...ZONES, 'UTC'), fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) })), { minLength: 1, maxLength: 20 }), (asks) => {
        for (let round = 0; round < 2; round++) for (const [tz, ms] of asks) expect(tzOffset(ms, tz), `${tz} ${ms}`).toBe(offsetFromParts(ms, tz))
      }),
      { numRuns: 200 },
    )
  })

  it('tzOffset stays right once more instants were asked than it keeps (it forgets them all and goes on)', () => {
    const start = Date.UTC(2026, 2, 1)
    for (let i = 0; i < 50_010; i++) tzOffset(start + i * 60_000, i % 2 ? 'Europe/Berlin' : 'America/New_York')
    for (const [ms, tz] of [[start, 'America/New_York'], [start + 60_000, 'Europe/Berlin'], [Date.UTC(2026, 6, 1), 'Asia/Kathmandu'], [Date.UTC(2026, 6, 1), 'Europe/Berlin']] as const) {
      expect(tzOffset(ms, tz), tz).toBe(offsetFromParts(ms, tz))
    }
  })

  it('utcDays lists every UTC day, and a list handed out and changed does not change the next one', () => {
    const first = utcDays('2024-02-27', '2024-03-02')
    expect(first).toEqual(['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02'])
    first.push('2099-01-01')
    first[0] = 'changed'
    expect(utcDays('2024-02-27', '2024-03-02')).toEqual(['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02'])
    expect(utcDays('2024-12-31', '2024-12-31')).toEqual(['2024-12-31'])
    expect(utcDays('2025-01-02', '2025-01-01')).toEqual([])
  })
})
