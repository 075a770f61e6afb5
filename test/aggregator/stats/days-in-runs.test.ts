import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { funnel } from '../../../aggregator/stats/funnel.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import { pageFlow } from '../../../aggregator/stats/page-flow.ts'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { breakdown, type Scope } from '../../../aggregator/stats/service.ts'
import { DAYS_READ_AT_ONCE } from '../../../aggregator/stats/query.ts'
import { countingClient, DAY, HOUR, MINUTE, openFixture, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * The days a question has not read yet are read in runs of up to DAYS_READ_AT_ONCE events
 * (`dayByDay` in query.ts), so that a month's first read at a hundred million events stays within
 * a question's memory. Asked in runs, every kind of question read day by day (funnel, goals, page
 * flow, a breakdown under filters the rollup does not answer) answers what it answers in one read,
 * and the days are read in as many reads as the runs say.
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
})
