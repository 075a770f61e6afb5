import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { funnel } from '../../../aggregator/stats/funnel.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import { pageFlow } from '../../../aggregator/stats/page-flow.ts'
import type { Scope } from '../../../aggregator/stats/service.ts'
import { countingClient, DAY, HOUR, openFixture, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * Goals, funnel steps and page flow under filters are compared with the same without each filter
 * (R3); those neighbours are read with the question in one read (aggregator/stats/together.ts; a
 * funnel under one filter apart from its neighbour without it),
 * each told apart by flags on the rows. Here the numbers of every question and neighbour are
 * checked against the truth worked out from the events sent (k = 1: nothing withheld but
 * nothing at all), and the reads are counted: one read of the day for a question and its
 * neighbours, where each was a read of its own.
 */
const SITE = 'example.com'
const D = Date.UTC(2030, 2, 4)
const RANGE = { from: D, to: D + DAY, previous: { from: D - DAY, to: D }, label: '', period: 'custom' as const }

interface Visit {
  v: number
  country: string
  browser: string
  source: string
  /** Pageviews in order, then a Signup event when `signup`. */
  pages: string[]
  signup: boolean
}

// a seeded world: 90 visitors, one visit each
let seed = 20301
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
const world: Visit[] = Array.from({ length: 90 }, (_, i) => {
  const pages = ['/']
  if (rand() < 0.55) pages.push('/pricing')
  if (rand() < 0.45) pages.push('/signup')
  if (rand() < 0.2) pages.push('/docs')
  return { v: i + 1, country: rand() < 0.5 ? 'US' : 'DE', browser: rand() < 0.6 ? 'Chrome' : 'Firefox', source: rand() < 0.4 ? 'Google' : '', pages, signup: rand() < 0.35 }
})

const events: EventSpec[] = world.flatMap((w) => {
  const t0 = D + 10 * HOUR + w.v * 120_000
  const carried = { country: w.country, browser: w.browser }
  const views = w.pages.map((path, j): EventSpec => ({ ts: t0 + j * 10_000, visitor: w.v, path, dims: j === 0 ? { ...carried, source: w.source } : carried }))
  return w.signup ? [...views, { ts: t0 + w.pages.length * 10_000, visitor: w.v, path: w.pages.at(-1), name: 'Signup', dims: carried }] : views
})

/** Whether a visit meets a filter of the questions below. */
const meets = (w: Visit, f: string): boolean => {
  const [name, value] = f.split(/==|!=/)
  const is = f.includes('!=') ? (x: boolean) => !x : (x: boolean) => x
  if (name === 'country') return is(w.country === value)
  if (name === 'browser') return is(w.browser === value)
  if (name === 'source') return is(w.source === value)
  if (name === 'page') return is(w.pages.includes(value))
  if (name === 'event') return is(value === 'Signup' && w.signup)
  throw new Error(f)
}
const kept = (filters: string[]) => world.filter((w) => filters.every((f) => meets(w, f)))
const shownCount = (n: number) => (n > 0 ? n : null)

const QUESTIONS = ['country==US;source==Google', 'page==/pricing;event==Signup', 'page!=/pricing;browser==Chrome', 'country==US;page==/pricing;event==Signup', 'browser==Firefox']
/** A question and its neighbours without each of its filters. */
const family = (q: string) => {
  const fs = q.split(';')
  return [fs, ...fs.map((f) => fs.filter((x) => x !== f))]
}

let fx: StoreFixture
let asked: string[]
let client: ClickHouseClient
const scope = (filters: string[]): Scope => ({ site: SITE, timezone: 'UTC', filters: parseFilters(filters.join(';') || undefined), limits: { k: 1, kn: 1 }, now: D + 3 * DAY })

beforeAll(async () => {
  fx = await openFixture({ [SITE]: 'UTC' }, D + 3 * DAY)
  // no rollup built: every day is read from the events and visits, as today is
  await fx.insert(events)
  asked = []
  client = countingClient(fx.client, asked)
})
afterAll(async () => {
  await fx?.close()
})

describe('goals, funnel steps and page flow read with their neighbours', () => {
  const goals = [
    { id: 'g1', site: SITE, label: 'Visit /signup', created_at: '', ...parseGoalMatch({ page: '/signup' }) },
    { id: 'g2', site: SITE, label: 'Signup', created_at: '', ...parseGoalMatch({ event: 'Signup' }) },
  ]
  const steps = [parseGoalMatch({ page: '/' }), parseGoalMatch({ page: '/pricing' }), parseGoalMatch({ event: 'Signup' })]

  it('count each goal as the truth says, for the question and each neighbour, the family in one read', async () => {
    for (const [i, q] of QUESTIONS.entries()) {
      const before = asked.length
      const answer = await goalConversions(client, scope(q.split(';')), RANGE, goals)
      const reads = asked.slice(before).filter((sql) => sql.includes('AS v0_0'))
      // the first question's whole family is read at once; later ones share neighbours kept from earlier reads
      expect(reads.length, q).toBeLessThanOrEqual(1)
      if (i === 0) expect(reads[0], 'the question and its two neighbours in one read').toContain('AS v2_0')
      const truth = (fs: string[]) => [kept(fs).filter((w) => w.pages.includes('/signup')).length, kept(fs).filter((w) => w.signup).length].map(shownCount)
      expect(answer.results.map((r) => r.visitors), q).toEqual(truth(q.split(';')))
      // each neighbour asked as a question of its own answers its truth too (read with its own neighbours)
      for (const fs of family(q).slice(1)) expect((await goalConversions(client, scope(fs), RANGE, goals)).results.map((r) => r.visitors), fs.join(';')).toEqual(truth(fs))
    }
  })

  it('count each funnel step as the truth says, the family in one read', async () => {
    for (const [i, q] of QUESTIONS.entries()) {
      const before = asked.length
      const answer = await funnel(client, scope(q.split(';')), RANGE, steps)
      const reads = asked.slice(before).filter((sql) => sql.includes('AS s0_0'))
      // (under one filter the question and its neighbour without it are read apart: funnel.ts stepDays)
      expect(reads.length, q).toBeLessThanOrEqual(q.includes(';') ? 1 : 2)
      if (i === 0) expect(reads[0]).toContain('AS s2_0')
      const truth = (fs: string[]) => {
        const ws = kept(fs)
        const n = [ws.length, ws.filter((w) => w.pages.includes('/pricing')).length, ws.filter((w) => w.pages.includes('/pricing') && w.signup).length]
        // a step after one withheld is withheld (R7)
        return n.map((x, j) => (n.slice(0, j + 1).every((y) => y > 0) ? x : null))
      }
      for (const fs of family(q)) {
        const got = fs === family(q)[0] ? answer : await funnel(client, scope(fs), RANGE, steps)
        expect(got.steps.map((s) => s.visitors), fs.join(';')).toEqual(truth(fs))
      }
    }
  })

  it('count page flow as the truth says, the family in one read', async () => {
    for (const [i, q] of QUESTIONS.entries()) {
      const before = asked.length
      const answer = await pageFlow(client, scope(q.split(';')), RANGE, '/pricing', 10)
      const reads = asked.slice(before).filter((sql) => sql.includes('FROM visits FINAL') && sql.includes('views'))
      expect(reads.length, q).toBeLessThanOrEqual(1)
      if (i === 0) expect(reads[0]).toContain('AS n2')
      const truth = (fs: string[]) => {
        const ws = kept(fs).filter((w) => w.pages.includes('/pricing'))
        const count = (pick: (w: Visit) => string) => {
          const by = new Map<string, number>()
          for (const w of ws) by.set(pick(w), (by.get(pick(w)) ?? 0) + 1)
          return [...by].map(([page, visitors]) => ({ page, visitors })).sort((a, b) => a.page.localeCompare(b.page))
        }
        const at = (w: Visit) => w.pages.indexOf('/pricing')
        return { visitors: shownCount(ws.length), previous: count((w) => w.pages[at(w) - 1] ?? '(entrance)'), next: count((w) => w.pages[at(w) + 1] ?? '(exit)') }
      }
      const sorted = (rows: { page: string; visitors: number }[]) => [...rows].sort((a, b) => a.page.localeCompare(b.page))
      for (const fs of family(q)) {
        const got = fs === family(q)[0] ? answer : await pageFlow(client, scope(fs), RANGE, '/pricing', 10)
        const want = truth(fs)
        expect(got.visitors, fs.join(';')).toBe(want.visitors)
        if (want.visitors !== null) {
          expect(sorted(got.previous), fs.join(';')).toEqual(want.previous)
          expect(sorted(got.next), fs.join(';')).toEqual(want.next)
        }
      }
    }
  })
})
