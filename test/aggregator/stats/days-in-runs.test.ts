import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { funnel } from '../../../aggregator/stats/funnel.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import { pageFlow } from '../../../aggregator/stats/page-flow.ts'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { breakdown, type Scope } from '../../../aggregator/stats/service.ts'
import { dayByDay, DAYS_READ_AT_ONCE, type KnownDay } from '../../../aggregator/stats/query.ts'
import { ZERO } from '../../../aggregator/stats/metrics.ts'
import { countingClient, DAY, HOUR, MINUTE, openFixture, type EventSpec, type StoreFixture } from '../store-fixture.ts'
import type { ClickHouseClient } from '@clickhouse/client'
import { QUESTION_QUEUE, questionClient, StoreBusy } from '../../../store/client.ts'
import { aggregate, timeseries } from '../../../aggregator/stats/service.ts'

/**
 * The days a question has not read yet are read in runs of up to DAYS_READ_AT_ONCE events
 * (`dayByDay` in query.ts), so that a month's first read at a hundred million events stays within
 * a question's memory. Asked in runs, every kind of question read day by day (funnel, goals, page
 * flow, a breakdown under filters the rollup does not answer) answers what it answers in one read,
 * and the days are read in as many reads as the runs say; at most DAYS_READ_AT_ONCE.runs of them
 * at once, so that a dashboard's first look, every question reading its days, stays within the
 * store's queue (QUESTION_QUEUE) and is answered whole rather than refused in part.
 */

const SITE = 'example.com'
const D0 = Date.UTC(2030, 2, 4)
const DAYS = 5
const RANGE = { from: D0, to: D0 + DAYS * DAY, previous: { from: D0 - DAYS * DAY, to: D0 }, label: '', period: 'custom' as const }
// per day: each visitor views /, then /pricing (all but one), then /signup (one in two), with a Signup event
const PER_DAY = 8
const day = (d: number): EventSpec[] =>
  Array.from({ length: PER_DAY }, (_, i) => i).flatMap((i) => {
    const v = d * 100 + i + 1
    const t = D0 + d * DAY + 9 * HOUR + i * 7 * MINUTE
    const country = { dims: { country: i % 3 === 0 ? 'DE' : 'US' } }
    return [
      { site: SITE, ts: t, visitor: v, path: '/', ...country },
      ...(i < PER_DAY - 1 ? [{ site: SITE, ts: t + MINUTE, visitor: v, path: '/pricing', ...country }] : []),
      ...(i % 2 === 0 ? [{ site: SITE, ts: t + 2 * MINUTE, visitor: v, path: '/signup', ...country }, { site: SITE, ts: t + 3 * MINUTE, visitor: v, name: 'Signup', path: '/signup', ...country }] : []),
    ]
  })

let fx: StoreFixture
const scope = (filters = ''): Scope => ({ site: SITE, timezone: 'UTC', now: D0 + (DAYS + 3) * DAY, filters: filters ? parseFilters(filters) : [], limits: { k: 1, kn: 1 } })
const steps = [parseGoalMatch({ page: '/' }), parseGoalMatch({ page: '/pricing' }), parseGoalMatch({ event: 'Signup' })]
const goals = [{ id: 'g1', site: SITE, label: 'Visit /signup', created_at: '', ...parseGoalMatch({ page: '/signup' }) }, { id: 'g2', site: SITE, label: 'Signup', created_at: '', ...parseGoalMatch({ event: 'Signup' }) }]

/**
 * Each question, with what tells its day-by-day reads among the queries asked, and whether that
 * is its only read of the range (else its neighbours, read over other days or from the rollup's
 * place, are counted too: more reads in runs, not exactly three times as many).
 */
const questions: [string, (c: Parameters<typeof funnel>[0]) => Promise<unknown>, string, boolean][] = [
  ['funnel', (c) => funnel(c, scope(), RANGE, steps), 'arrayFold', true],
  ['funnel under country==US', (c) => funnel(c, scope('country==US'), RANGE, steps), 'arrayFold', true],
  ['goals', (c) => goalConversions(c, scope(), RANGE, goals), 'FROM events', true],
  ['page flow', (c) => pageFlow(c, scope(), RANGE, '/pricing', 10), 'FROM visits', true],
  ['page panel under page==/pricing;country==US', (c) => breakdown(c, scope('page==/pricing;country==US'), RANGE, 'page', property('page')!, ['visitors', 'pageviews'], 10), 'FROM visits', false],
]

beforeAll(async () => {
  // no rollup built: every day is read from the visits and events, day by day
  fx = await openFixture({ [SITE]: 'UTC' }, D0 + (DAYS + 3) * DAY)
  await fx.insert(Array.from({ length: DAYS }, (_, d) => day(d)).flat())
})
afterAll(async () => {
  await fx?.close()
})

describe('days read in runs of up to DAYS_READ_AT_ONCE events', () => {
  const eventsADay = day(0).length
  it.each(questions)('%s: the same answer in runs of two days as in one read, in three reads', async (_, ask, marker, only) => {
    const whole = DAYS_READ_AT_ONCE.events
    try {
      // a client of its own each time: nothing kept from an earlier read
      const once: string[] = []
      const inOne = await ask(countingClient(fx.client, once))
      DAYS_READ_AT_ONCE.events = 2 * eventsADay
      const runs: string[] = []
      const inRuns = await ask(countingClient(fx.client, runs))
      expect(inRuns).toEqual(inOne)
      // the answer holds the days' numbers (not withheld, not empty)
      expect(JSON.stringify(inOne)).toMatch(/[1-9]/)
      const reads = (asked: string[]) => asked.filter((sql) => sql.includes(marker)).length
      // five days of equal size in runs of two: three reads for each one read
      if (only) expect(reads(runs)).toBe(3 * reads(once))
      else expect(reads(runs)).toBeGreaterThan(reads(once))
      expect(reads(once)).toBeGreaterThan(0)
    } finally {
      DAYS_READ_AT_ONCE.events = whole
    }
  })

  it('a day holding more events than a run reads alone', async () => {
    const whole = DAYS_READ_AT_ONCE.events
    try {
      const once: string[] = []
      const inOne = await funnel(countingClient(fx.client, once), scope(), RANGE, steps)
      DAYS_READ_AT_ONCE.events = 1
      const runs: string[] = []
      expect(await funnel(countingClient(fx.client, runs), scope(), RANGE, steps)).toEqual(inOne)
      expect(runs.filter((sql) => sql.includes('arrayFold')).length).toBe(DAYS)
    } finally {
      DAYS_READ_AT_ONCE.events = whole
    }
  })

  it('a question reads at most DAYS_READ_AT_ONCE.runs runs of days at once, each run once, in order', async () => {
    const whole = { ...DAYS_READ_AT_ONCE }
    const days = Array.from({ length: 12 }, (_, d) => new Date(D0 + d * DAY).toISOString().slice(0, 10))
    const known = new Map(days.map((d): [string, KnownDay] => [d, { build: '', parts: '', visitless: false, events: 10 }]))
    try {
      DAYS_READ_AT_ONCE.events = 10
      for (const runs of [1, 2, 4]) {
        DAYS_READ_AT_ONCE.runs = runs
        let now = 0
        let most = 0
        const read: string[][] = []
        const rows = await dayByDay(fx.client, `runs ${runs}`, days, async (run) => {
          read.push(run)
          most = Math.max(most, ++now)
          await new Promise((resolve) => setTimeout(resolve, 5))
          now--
          return run.map((day) => ({ ...ZERO, key: day, bucket: '', day, visitors: 1 }))
        }, known)
        expect(most).toBe(runs)
        expect(read).toEqual(days.map((d) => [d]))
        expect(rows.map((r) => r.key)).toEqual(days)
      }
    } finally {
      Object.assign(DAYS_READ_AT_ONCE, whole)
    }
  })
})

/**
 * A month of a site read day by day, as at a hundred million events, where each day is a run of
 * its own: a dashboard's first look (its panels asked at once, each reading the month) is
 * answered whole, not refused in part for the store's queue (store/client.ts QUESTION_QUEUE).
 */
describe("a dashboard's first look, every day read apart", () => {
  const MONTH = 30
  const site = 'month.example.com'
  const from = D0 - 40 * DAY
  const range = { from, to: from + MONTH * DAY, previous: { from: from - MONTH * DAY, to: from }, label: '', period: 'custom' as const }
  const s: Scope = { site, timezone: 'UTC', now: from + (MONTH + 1) * DAY, filters: parseFilters('page==/pricing;country==US'), limits: { k: 1, kn: 1 } }
  const panels = (c: ClickHouseClient) => [
    aggregate(c, s, range, ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration']),
    timeseries(c, s, range, ['visitors', 'pageviews'], 'day'),
    ...['page', 'entry_page', 'exit_page', 'source', 'country', 'browser'].map((p) => breakdown(c, s, range, p, property(p)!, ['visitors'], 10)),
  ]

  beforeAll(async () => {
    await fx.insert(Array.from({ length: MONTH }, (_, d) => day(d).map((e) => ({ ...e, site, ts: e.ts - D0 + from }))).flat())
  })

  it(`is answered whole within the store's queue (${QUESTION_QUEUE} reads waiting), as asked one at a time in one read; with every day's read asked at once, it is not`, async () => {
    const whole = { ...DAYS_READ_AT_ONCE }
    try {
      DAYS_READ_AT_ONCE.events = 1
      // the question client the stats routes use, with nothing kept yet
      const answers = await Promise.allSettled(panels(questionClient({ client: fx.client, embedded: true })))
      expect(answers.filter((a) => a.status === 'rejected').map((a) => String((a as PromiseRejectedResult).reason))).toEqual([])
      Object.assign(DAYS_READ_AT_ONCE, whole)
      const alone: unknown[] = []
      for (const p of panels(countingClient(fx.client, []))) alone.push(await p)
      expect(JSON.stringify(alone)).toMatch(/[1-9]/)
      expect(answers.map((a) => (a as PromiseFulfilledResult<unknown>).value)).toEqual(alone)
      // every day's reads asked at once: past the queue, some questions are refused (503)
      DAYS_READ_AT_ONCE.events = 1
      DAYS_READ_AT_ONCE.runs = Infinity
      const flood = await Promise.allSettled(panels(questionClient({ client: fx.client, embedded: true })))
      expect(flood.some((a) => a.status === 'rejected' && a.reason instanceof StoreBusy)).toBe(true)
    } finally {
      Object.assign(DAYS_READ_AT_ONCE, whole)
    }
  })
})
