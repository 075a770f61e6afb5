import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { Clock } from '../../collector/clock.ts'
import { RetentionSchedule } from '../../retention/schedule.ts'
import { Spool } from '../../collector/spool/spool.ts'
import { DOC_IPS, beacon, flush, rows, tempDataDir, testApp } from '../helpers/app.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** A wall clock and a monotonic clock that the test moves by hand. */
function clocks(start = Date.UTC(2026, 10, 29, 12)) {
  const t = { wall: start, mono: 1_000 }
  const jumps: number[] = []
  const clock = new Clock(
    (j) => jumps.push(j.ms),
    () => t.wall,
    () => t.mono,
  )
  const pass = (ms: number) => {
    t.wall += ms
    t.mono += ms
  }
  return { t, clock, jumps, pass }
}

describe('the collector clock', () => {
  it('after the wall clock is set back, goes on with the monotonic clock, and says so once', () => {
    const { t, clock, jumps, pass } = clocks()
    const a = clock.eventTime()
    pass(10)
    const b = clock.eventTime()
    t.wall -= 2 * HOUR // set back
    pass(10)
    const c = clock.eventTime()
    pass(10)
    const d = clock.eventTime()
    expect([b - a, c - b, d - c]).toEqual([10, 10, 10])
    expect(jumps).toHaveLength(1)
    expect(jumps[0]).toBeLessThan(-HOUR)
    // set right again: the wall clock is followed again, with no step
    t.wall += 2 * HOUR
    pass(10)
    expect(clock.eventTime()).toBe(t.wall)
    expect(clock.eventTime() - d).toBe(10)
  })

  it('after a jump ahead, goes on with the monotonic clock until the jump has lasted an hour', () => {
    const { t, clock, pass } = clocks()
    const a = clock.eventTime()
    t.wall += DAY
    pass(60_000)
    expect(clock.eventTime() - a).toBe(60_000)
    expect(clock.now() - a).toBe(60_000) // salts rotate by this time: today's is not wiped a day early
    pass(HOUR)
    // believed now: the wall clock is followed
    expect(clock.eventTime()).toBe(t.wall)
  })

  it('a jump back that lasts is believed, and event times wait for the clock to catch up', () => {
    const { t, clock, pass } = clocks()
    const start = clock.eventTime()
    t.wall -= 2 * HOUR
    expect(clock.eventTime()).toBe(start) // the jump is seen
    pass(30 * 60_000)
    const last = clock.eventTime()
    expect(last - start).toBe(30 * 60_000) // not believed yet: the monotonic clock goes on
    pass(31 * 60_000)
    expect(clock.eventTime()).toBe(last) // believed: the wall clock is behind the last time given
    pass(HOUR)
    expect(clock.eventTime()).toBe(last)
    pass(HOUR)
    expect(clock.eventTime()).toBe(t.wall) // caught up
    expect(t.wall).toBeGreaterThan(last)
  })

  it('tells a jump ahead from time passing, and believes it after an hour', () => {
    const { t, clock, jumps, pass } = clocks()
    pass(5 * 60_000)
    expect(clock.steady()).toBe(true)
    t.wall += DAY
    expect(clock.steady()).toBe(false)
    pass(30 * 60_000)
    expect(clock.steady()).toBe(false)
    pass(31 * 60_000)
    expect(clock.steady()).toBe(true)
    expect(jumps).toEqual([DAY])
  })

  it('takes slow drift as no jump', () => {
    const { t, clock, jumps, pass } = clocks()
    for (let i = 0; i < 100; i++) {
      pass(60_000)
      t.wall += 500 // 0.5 s a minute: far more than any real clock drifts
      expect(clock.steady()).toBe(true)
    }
    expect(jumps).toEqual([])
  })

  it('a jump ahead and back again is not believed, so retention waits', () => {
    const { t, clock, pass } = clocks()
    t.wall += 400 * DAY
    expect(clock.steady()).toBe(false)
    pass(10 * 60_000)
    t.wall -= 400 * DAY
    expect(clock.steady()).toBe(true)
  })
})

describe('retention after a jump', () => {
  it('deletes nothing while the clock has jumped, and runs once it is steady', async () => {
    let steady = false
    let runs = 0
    const warnings: string[] = []
    const schedule = new RetentionSchedule({
      client: null as never,
      policy: () => null as never,
      sites: () => [],
      log: { info() {}, warn: (msg: string) => warnings.push(msg) } as never,
      firstAfterMs: 1,
      everyMs: 20,
      clockSteady: () => steady,
      run: async () => {
        runs++
        return { droppedPartitions: [], deletedRowsEstimate: 0 } as never
      },
    })
    schedule.start()
    await new Promise((r) => setTimeout(r, 80))
    expect(runs).toBe(0)
    expect(warnings.some((w) => /clock jumped/.test(w))).toBe(true)
    steady = true
    await new Promise((r) => setTimeout(r, 80))
    await schedule.stop()
    expect(runs).toBeGreaterThan(0)
  })
})

describe('spool segments under a clock set back', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('are replayed in the order they were made', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 10, 29, 12) })
    const dir = tempDataDir()
    const opts = { dir, fsync: false, segmentRows: 1, segmentMs: 60_000, capBytes: 1e9 }
    const spool = new Spool(opts)
    for (let i = 0; i < 6; i++) {
      await spool.append({ visitor_id: String(i) })
      if (i === 2) vi.setSystemTime(Date.now() - 3 * HOUR)
    }
    await spool.close()
    // a later process, with the clock set back further still
    vi.setSystemTime(Date.now() - DAY)
    const next = new Spool(opts)
    await next.append({ visitor_id: '6' })
    await next.drainAppends()
    const order: number[] = []
    for (let seg = next.peek(); seg; seg = next.peek()) {
      order.push(...next.recordsOf(seg).map((r) => Number(r.visitor_id)))
      next.done(seg)
    }
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6])
  })
})

describe('beacons while the clock jumps', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await testApp()
  })
  afterAll(async () => {
    vi.useRealTimers()
    await app?.close()
  })

  it('are all stored, in the order they came, at the time they came', async () => {
    const realStart = Date.now()
    const start = realStart
    vi.useFakeTimers({ toFake: ['Date'], now: start })
    // each step: how far the wall clock is moved before the next 10 beacons
    const steps = [0, -2 * HOUR, 0, +DAY, 0, -DAY - 2 * HOUR, +5 * 60_000, -30 * 60_000]
    let seq = 0
    for (const jump of steps) {
      vi.setSystemTime(Date.now() + jump)
      for (let i = 0; i < 10; i++, seq++) {
        const res = await beacon(app, { n: 'pageview', u: `https://example.com/seq/${String(seq).padStart(3, '0')}`, d: 'example.com' }, { ip: DOC_IPS[seq % 3] })
        expect(res.statusCode, `beacon ${seq}`).toBe(202)
        vi.setSystemTime(Date.now() + 7) // a few ms pass between beacons
      }
    }
    vi.useRealTimers()
    await flush(app)
    const stored = await rows<{ p: string; t: number }>(app, "SELECT pathname AS p, toUnixTimestamp64Milli(ts) AS t FROM events WHERE pathname LIKE '/seq/%' ORDER BY p")
    expect(stored.map((r) => r.p)).toEqual(Array.from({ length: seq }, (_, i) => `/seq/${String(i).padStart(3, '0')}`))
    // in the order they came: each time at or after the one before
    const backwards = stored.filter((r, i) => i > 0 && Number(r.t) < Number(stored[i - 1].t)).map((r) => r.p)
    expect(backwards).toEqual([])
    // none earlier than the first beacon's, none an hour or a day off: the jumps were seen
    expect(Math.min(...stored.map((r) => Number(r.t)))).toBeGreaterThanOrEqual(start)
    expect(Math.max(...stored.map((r) => Number(r.t)))).toBeLessThan(realStart + 5 * 60_000)
    // the visits take them in as they are inserted
    const [counted] = await rows<{ pageviews: number }>(app, "SELECT sum(pageviews) AS pageviews FROM visits FINAL WHERE site = 'example.com'")
    expect(Number(counted.pageviews)).toBeGreaterThanOrEqual(seq)
  })
})
