import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { funnel } from '../../../aggregator/stats/funnel.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { pageFlow } from '../../../aggregator/stats/page-flow.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { aggregate, breakdown } from '../../../aggregator/stats/service.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import type { Scope } from '../../../aggregator/stats/service.ts'
import type { ClickHouseClient } from '@clickhouse/client'
import { countingClient, DAY, HOUR, openFixture, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * R3 settled before today is read (aggregator/stats/disclosure.ts settledApart): a funnel's
 * neighbour without one of its filters is not read when the days already kept set it k visitors
 * apart at every step that may be shown, or when a step is one the filter holds at. The claim is
 * that nothing published changes: here seeded worlds of a few visitors a day (so that some steps
 * are within k, some far apart, some empty) over three past days and today are asked every
 * question below twice after today has changed: through a client that kept every question's and
 * neighbour's days before the change (the neighbours may be settled), and through a fresh one
 * (nothing kept: every neighbour read). The answers must be the same, and the first must have
 * left reads out, some neighbours read still. `settledApartCases` is run twice: over days read
 * from events (settled-apart.test.ts) and over days built into the rollup, as on a
 * server, where goals, page flow and cube filters take their kept days from it
 * (settled-apart-built.test.ts: a build takes a second or so a site and day).
 */
const D = Date.UTC(2030, 2, 4)
const NOW = D + 14 * HOUR
const K = 3
const RANGE = { from: D - 3 * DAY, to: D + DAY, previous: { from: D - 7 * DAY, to: D - 3 * DAY }, label: '', period: 'custom' as const }
const STEPS = [parseGoalMatch({ page: '/' }), parseGoalMatch({ page: '/pricing' }), parseGoalMatch({ event: 'Signup' })]
const QUESTIONS = ['country==US', 'page==/pricing', 'event==Signup', 'page!=/pricing;event==Signup', 'page==/pricing;event==Signup', 'country==US;source==Google', 'page==/pricing;country==US', 'browser==Chrome;page!=/docs']

// sites of a few visitors a day (4 to 30): the steps' counts fall on both sides of k
export const SITES = Array.from({ length: 12 }, (_, i) => ({ site: `s${i}.example.com`, seed: 7001 + i * 97, size: [4, 8, 14, 30, 6, 20, 10, 12, 5, 16, 9, 24][i] }))
// and tiny ones, where a goal's visitors with a filter and without it are often 1..k-1 apart
export const TINY = Array.from({ length: 10 }, (_, i) => ({ site: `t${i}.example.com`, seed: 9103 + i * 89, size: [2, 3, 3, 4, 2, 5, 3, 4, 2, 3][i] }))

function world(site: string, seed: number, day: number, first: number, count: number): EventSpec[] {
  let x = seed + day * 31 + first
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const out: EventSpec[] = []
  for (let i = first; i < first + count; i++) {
    // a few of the pages in any order, the Signup anywhere among them: steps reached, skipped or out of order
    const pages = ['/', '/pricing', '/docs', '/'].filter(() => rand() < 0.6).sort(() => rand() - 0.5)
    if (pages.length === 0) pages.push('/docs')
    const signupAt = rand() < 0.5 ? Math.floor(rand() * (pages.length + 1)) : -1
    // a visitor is a visitor of one UTC day (the daily salt): its number says the day
    const visitor = 1 + (day + 10) * 1000 + i
    const carried = { country: rand() < 0.5 ? 'US' : 'DE', browser: rand() < 0.6 ? 'Chrome' : 'Firefox' }
    const t0 = D + day * DAY + HOUR + i * 60_000 + Math.floor(rand() * 30_000)
    pages.forEach((path, j) => out.push({ site, ts: t0 + j * 5_000, visitor, networkId: visitor, path, dims: j === 0 ? { ...carried, source: rand() < 0.5 ? 'Google' : '' } : carried }))
    if (signupAt >= 0) out.push({ site, ts: t0 + signupAt * 5_000 + 2_000, visitor, networkId: visitor, path: pages[Math.max(0, signupAt - 1)], name: 'Signup', dims: carried })
  }
  return out
}

const scope = (site: string, filters: string[]): Scope => ({ site, timezone: 'UTC', filters: parseFilters(filters.join(';') || undefined), limits: { k: K, kn: 1 }, now: NOW })
const family = (q: string) => {
  const fs = q.split(';')
  return [fs, ...fs.map((f) => fs.filter((x) => x !== f))]
}

/**
 * Whether the past days are built into the rollup, and the sites each part asks its questions of:
 * the funnel's, the totals and breakdown rows', the goals and page flow's. Each file names its own
 * (a few sites each, not every one: see the files).
 */
export interface SettledApartOptions {
  built: boolean
  funnelSites: typeof SITES
  totalSites: typeof SITES
  goalSites: typeof SITES
}

export function settledApartCases(options: SettledApartOptions): void {
  let fx: StoreFixture
  const every = [...new Map([...options.funnelSites, ...options.totalSites, ...options.goalSites].map((s) => [s.site, s])).values()]
  beforeAll(async () => {
    fx = await openFixture(Object.fromEntries(every.map((s) => [s.site, 'UTC'])), NOW)
    await fx.insert(every.flatMap((s) => [-3, -2, -1].flatMap((day) => world(s.site, s.seed, day, 0, s.size))))
    // as on a server, the past days built (the rollup then answers goals, page flow and cube filters for them)
    if (options.built) await fx.job.run()
    await fx.insert(every.flatMap((s) => world(s.site, s.seed, 0, 0, Math.ceil(s.size / 2))))
  }, 180_000)
  afterAll(async () => {
    await fx?.close()
  })

  describe('a funnel neighbour settled by the kept days', () => {
    it('leaves every answer as reading the neighbours gives it, and leaves reads out', async () => {
      const keptAsked: string[] = []
      const keeping = countingClient(fx.client, keptAsked)
      // every question and its neighbours asked once: their days kept (today's too, until the insert below)
      for (const s of options.funnelSites) for (const q of QUESTIONS) for (const fs of family(q)) await funnel(keeping, scope(s.site, fs), RANGE, STEPS)
      // today changes: more visitors, so today is read again, the other days kept
      await fx.insert(options.funnelSites.flatMap((s) => world(s.site, s.seed, 0, 500, Math.ceil(s.size / 2))))
      // what the kept client asked of today: each ask a question or neighbour (a read folding several names each one's columns)
      const asks = (sqls: string[]) => sqls.filter((sql) => sql.includes('AS s0_0')).reduce((n, sql) => n + (sql.match(/AS s\d+_0\b/g) ?? []).length, 0)
      let asked = 0
      let questions = 0
      let families = 0
      for (const s of options.funnelSites) {
        for (const q of QUESTIONS) {
          const before = keptAsked.length
          const settled = await funnel(keeping, scope(s.site, q.split(';')), RANGE, STEPS)
          asked += asks(keptAsked.slice(before))
          questions += 1
          families += family(q).length
          const fresh = await funnel(countingClient(fx.client, []), scope(s.site, q.split(';')), RANGE, STEPS)
          expect(settled, `${s.site} ${q}`).toEqual(fresh)
        }
      }
      // today read for every question, for some neighbours (not settled) and not for others (settled)
      expect(asked, 'some neighbours are read').toBeGreaterThan(questions)
      expect(asked, 'some neighbours are settled and not read').toBeLessThan(families)
    })
  })

  describe('the totals and breakdown rows of a neighbour settled by the kept days', () => {
    const GOALS = [
      { id: 'g1', site: '', label: 'Visit /pricing', created_at: '', ...parseGoalMatch({ page: '/pricing' }) },
      { id: 'g2', site: '', label: 'Signup', created_at: '', ...parseGoalMatch({ event: 'Signup' }) },
    ]
    // the panels whose neighbours may be settled: a total (R3 on it: publishable in service.ts), a breakdown's rows
    const PANELS: [string, (c: ClickHouseClient, s: Scope) => Promise<unknown>][] = [
      ['aggregate', (c, s) => aggregate(c, s, RANGE, ['visitors', 'visits', 'pageviews', 'bounce_rate'])],
      ...['country', 'source', 'page', 'entry_page', 'event'].map((name): [string, (c: ClickHouseClient, s: Scope) => Promise<unknown>] => [name, (c, s) => breakdown(c, s, RANGE, name, property(name)!, name === 'page' ? ['visitors', 'pageviews'] : ['visitors'], 10)]),
      ['goals', (c, s) => goalConversions(c, s, RANGE, GOALS.map((g) => ({ ...g, site: s.site })))],
      ['page flow', (c, s) => pageFlow(c, s, RANGE, '/pricing', 10)],
    ]
    // each part asked of its own sites after its own change to today: tiny sites too for the goals and page flow, whose R3 binds in fewer worlds
    const parts: [string, typeof PANELS, typeof SITES, number][] = [
      ['totals and breakdown rows', PANELS.filter(([name]) => name !== 'goals' && name !== 'page flow'), options.totalSites, 800],
      ['goals and page flow', PANELS.filter(([name]) => name === 'goals' || name === 'page flow'), options.goalSites, 900],
    ]
    for (const [what, panels, sites, first] of parts) {
      it(`leaves every answer as reading the neighbours gives it: ${what}`, async () => {
        const keeping = countingClient(fx.client, [])
        for (const s of sites) for (const q of QUESTIONS) for (const fs of family(q)) for (const [, ask] of panels) await ask(keeping, scope(s.site, fs))
        // today changes again
        await fx.insert(sites.flatMap((s) => world(s.site, s.seed, 0, first, Math.ceil(s.size / 2))))
        for (const s of sites) {
          for (const q of QUESTIONS) {
            for (const [name, ask] of panels) {
              const settled = await ask(keeping, scope(s.site, q.split(';')))
              const fresh = await ask(countingClient(fx.client, []), scope(s.site, q.split(';')))
              expect(settled, `${s.site} ${q} ${name}`).toEqual(fresh)
            }
          }
        }
      })
    }
  })
}
