import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { renewRollupBuilds } from '../../../aggregator/rollup/job.ts'
import { PROPERTIES } from '../../../aggregator/stats/properties.ts'
import { funnel } from '../../../aggregator/stats/funnel.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import { querySums, type StatsQuestion } from '../../../aggregator/stats/query.ts'
import { eraseSiteData } from '../../../retention/erase.ts'
import { countingClient, DAY, HOUR, openFixture, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * The rollup rows a question read are kept while the builds they came from are current
 * (aggregator/stats/query.ts, `rollupRows`): asked again, the rollup is not read; a rebuild
 * (late events), a site's removal or a purge makes every process read it again.
 */

const SITE = 'example.com'
const OTHER = 'example.org'
const D1 = Date.UTC(2030, 9, 1)
const D2 = D1 + DAY
const RANGE = { from: D1, to: D2 + DAY }

let fx: StoreFixture
let asked: string[]
let counting: ClickHouseClient

const views = (site: string, day: number, visitors: number[], path = '/'): EventSpec[] => visitors.map((v, i) => ({ site, ts: day + 10 * HOUR + i * 60_000, visitor: v, path }))
const q = (site: string): StatsQuestion => ({ site, timezone: 'UTC', range: RANGE, filters: [], property: PROPERTIES.country })
const pageviews = async (site: string) => (await querySums(counting, q(site))).reduce((n, r) => n + r.pageviews, 0)
const rollupReads = () => asked.filter((sql) => sql.includes('FROM rollup_daily')).length

beforeAll(async () => {
  fx = await openFixture({ [SITE]: 'UTC', [OTHER]: 'UTC', 'example.net': 'UTC' }, D2 + 2 * DAY)
  await fx.insert([...views(SITE, D1, [1, 2, 3]), ...views(SITE, D2, [4, 5]), ...views(OTHER, D1, [6, 7])])
  await fx.job.run()
  asked = []
  counting = countingClient(fx.client, asked)
})
afterAll(async () => {
  await fx?.close()
})

describe('rollup rows kept while their builds are current', () => {
  it('are read once, then answered from what was kept, alike', async () => {
    expect(await pageviews(SITE)).toBe(5)
    expect(rollupReads(), asked.join('\n---\n')).toBe(1)
    expect(await pageviews(SITE)).toBe(5)
    expect(rollupReads()).toBe(1)
  })

  it('a late event makes its day live, and its rebuild is read again', async () => {
    await fx.insert(views(SITE, D1, [8]))
    expect(await pageviews(SITE)).toBe(6)
    await fx.job.run()
    const before = rollupReads()
    expect(await pageviews(SITE)).toBe(6)
    expect(rollupReads()).toBe(before + 1)
  })

  it("once a site's rows are erased and the builds renewed, nothing kept of them is answered", async () => {
    expect(await pageviews(OTHER)).toBe(2)
    await eraseSiteData(fx.client, OTHER)
    await renewRollupBuilds(fx.client)
    expect(await pageviews(OTHER)).toBe(0)
    // the other site's numbers are the same, read again
    expect(await pageviews(SITE)).toBe(6)
  })
})

/**
 * A funnel is worked out day by day, and the rows of a built day are kept like rollup rows
 * (`dayByDay` in query.ts): asked again, the built days are not read; a late event makes its
 * day read again, with it.
 */
describe('funnel rows of built days kept while their builds are current', () => {
  const F1 = D1 - 3 * DAY
  const F2 = F1 + DAY
  const steps = [parseGoalMatch({ page: '/' }), parseGoalMatch({ page: '/pricing' })]
  // visitor v views / and then /pricing, in one visit
  const through = (day: number, v: number): EventSpec[] => [
    { site: SITE, ts: day + 12 * HOUR + v * 600_000, visitor: v, path: '/' },
    { site: SITE, ts: day + 12 * HOUR + v * 600_000 + 60_000, visitor: v, path: '/pricing' },
  ]
  const reached = async () => {
    const scope = { site: SITE, timezone: 'UTC', filters: [], limits: { k: 1, kn: 1 } }
    const answer = await funnel(counting, scope, { from: F1, to: F2 + DAY, previous: { from: F1 - 2 * DAY, to: F1 }, label: '', period: 'custom' }, steps)
    return answer.steps.map((s) => s.visitors)
  }
  const funnelReads = () => asked.filter((sql) => sql.includes('uniqExactIf(visitor_id, level >= 1 AND')).length

  it('are read once for the days built, then answered from what was kept', async () => {
    await fx.insert([...through(F1, 11), ...through(F1, 12), ...views(SITE, F1, [13]), ...through(F2, 14)])
    await fx.job.run()
    // the builds of a day as merged (a background merge of rollup_builds would change how they read, and read the day again)
    await fx.client.command({ query: 'OPTIMIZE TABLE rollup_builds FINAL' })
    expect(await reached()).toEqual([4, 3])
    const before = funnelReads()
    expect(await reached()).toEqual([4, 3])
    expect(funnelReads(), 'no day read again').toBe(before)
  })

  it('a late event in a built day has that day read again, and counted', async () => {
    await fx.insert(through(F1, 15))
    const before = funnelReads()
    expect(await reached()).toEqual([5, 4])
    expect(funnelReads()).toBe(before + 1)
    await fx.job.run()
    expect(await reached()).toEqual([5, 4])
  })
})

/**
 * A day not built (today) is read from visits and events, and its rows are kept while its parts
 * are the same (`dayVersion` in query.ts): asked again with nothing inserted, the day is not
 * read; an insert, or a purge deleting its rows, has it read again, and counted as it is now.
 */
describe("a live day's rows kept while its parts are unchanged", () => {
  const TODAY = D2 + 2 * DAY
  const LIVE = 'example.net'
  const today = (site: string): StatsQuestion => ({ site, timezone: 'UTC', range: { from: TODAY, to: TODAY + DAY }, filters: [], property: PROPERTIES.country })
  const liveViews = async (site: string) => (await querySums(counting, today(site))).reduce((n, r) => n + r.pageviews, 0)
  const liveReads = () => asked.filter((sql) => sql.includes('FROM visits FINAL')).length

  it('are read once, then answered from what was kept until an insert', async () => {
    await fx.insert(views(LIVE, TODAY, [21, 22, 23]))
    const before = liveReads()
    expect(await liveViews(LIVE)).toBe(3)
    expect(liveReads()).toBe(before + 1)
    expect(await liveViews(LIVE)).toBe(3)
    expect(liveReads(), 'asked again with nothing inserted: not read').toBe(before + 1)
    // another site's insert on the same day changes the day's parts: read again
    await fx.insert(views(SITE, TODAY, [24]))
    expect(await liveViews(LIVE)).toBe(3)
    expect(liveReads()).toBe(before + 2)
    await fx.insert(views(LIVE, TODAY, [25]))
    expect(await liveViews(LIVE)).toBe(4)
    expect(liveReads()).toBe(before + 3)
  })

  it("a site's rows erased (a DELETE, no insert, no build) are never answered from what was kept", async () => {
    expect(await liveViews(LIVE)).toBe(4)
    const before = liveReads()
    await eraseSiteData(fx.client, LIVE)
    expect(await liveViews(LIVE)).toBe(0)
    expect(liveReads()).toBe(before + 1)
  })

  it('a merge of the day\'s parts reads it again, with the same answer', async () => {
    await fx.insert(views(LIVE, TODAY, [26, 27]))
    expect(await liveViews(LIVE)).toBe(2)
    const before = liveReads()
    await fx.client.command({ query: 'OPTIMIZE TABLE visits FINAL' })
    expect(await liveViews(LIVE)).toBe(2)
    expect(liveReads()).toBe(before + 1)
  })
})

/**
 * Goals no breakdown row counts (a pattern) are worked out day by day too (`goalSql` through
 * `dayByDay`): asked again with nothing inserted, no day is read; an event in a built day has
 * that day read again, and counted.
 */
describe('goal rows kept per day', () => {
  const G1 = D1 - 6 * DAY
  const goals = [{ id: 'g1', site: SITE, label: 'Docs', created_at: '', ...parseGoalMatch({ page: '/docs*' }) }]
  const converted = async () => {
    const scope = { site: SITE, timezone: 'UTC', filters: [], limits: { k: 1, kn: 1 } }
    const answer = await goalConversions(counting, scope, { from: G1, to: G1 + 2 * DAY, previous: { from: G1 - 2 * DAY, to: G1 }, label: '', period: 'custom' }, goals)
    return answer.results.map((r) => r.visitors)
  }
  const goalReads = () => asked.filter((sql) => sql.includes('uniqExactIf(visitor_id, g0 AND in_visits AND')).length

  it('are read once, then answered from what was kept until the day changes', async () => {
    await fx.insert([...views(SITE, G1, [31, 32], '/docs/a'), ...views(SITE, G1 + DAY, [33], '/docs/b'), ...views(SITE, G1, [34])])
    await fx.job.run()
    await fx.client.command({ query: 'OPTIMIZE TABLE rollup_builds FINAL' })
    expect(await converted()).toEqual([3])
    const before = goalReads()
    expect(await converted()).toEqual([3])
    expect(goalReads(), 'no day read again').toBe(before)
    await fx.insert(views(SITE, G1, [35], '/docs/c'))
    expect(await converted()).toEqual([4])
    expect(goalReads()).toBe(before + 1)
  })
})

/**
 * What is kept stays while it is used, however long, and goes once unused for ten minutes
 * (`keptRows` in query.ts). The clock is performance.now, moved ahead here.
 */
describe('kept rows in use', () => {
  it('stay kept while asked for, past ten minutes; unused for ten minutes, they are read again', async () => {
    const question: StatsQuestion = { site: SITE, timezone: 'UTC', range: { from: D2, to: D2 + DAY }, filters: [], property: PROPERTIES.source }
    const ask = async () => (await querySums(counting, question)).reduce((n, r) => n + r.pageviews, 0)
    const realNow = performance.now.bind(performance)
    let ahead = 0
    // the cache reads the clock at most once a millisecond: each move waits that out
    const moveAhead = async (minutes: number) => {
      ahead += minutes * 60_000
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => realNow() + ahead)
    try {
      const before = rollupReads()
      const pageviews = await ask()
      expect(pageviews).toBeGreaterThan(0)
      expect(rollupReads()).toBe(before + 1)
      for (let i = 0; i < 3; i++) {
        await moveAhead(6)
        expect(await ask()).toBe(pageviews)
        expect(rollupReads(), `asked again ${6 * (i + 1)} minutes after it was kept, 6 after its last use`).toBe(before + 1)
      }
      await moveAhead(11)
      expect(await ask()).toBe(pageviews)
      expect(rollupReads(), 'unused for 11 minutes: read again').toBe(before + 2)
    } finally {
      clock.mockRestore()
    }
  })
})
