/**
 * A page panel over a day of very many pages (a site whose paths carry ids): 150,000 pages in
 * one day, more rows than a JavaScript call takes as arguments, read live from the day's visits
 * and events. The question is answered, and its rows are those the events say: the one page
 * most visitors viewed, one a few viewed, and the others folded into "(other)" (each has one visitor, under k).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { property } from '../../../aggregator/stats/properties.ts'
import { breakdown, type Scope } from '../../../aggregator/stats/service.ts'
import { resolvePeriod } from '../../../aggregator/stats/period.ts'
import { dayStart, insertEvents, eventRow, utcDay } from '../../helpers/fixtures.ts'
import { DAY, openFixture, type StoreFixture } from '../store-fixture.ts'

const SITE = 'pages.example.com'
const PAGES = 150_000
const ALONE = 20

let fx: StoreFixture
beforeAll(async () => {
  // "now" the next day: the day is over but not built (the rollup job is not run), so it is read live
  fx = await openFixture({ [SITE]: 'UTC' }, dayStart + DAY + 3_600_000)
  // each visitor views the home page, then a page of its own a second later (one visit each)
  const rows = Array.from({ length: PAGES }, (_, i) => {
    const ts = dayStart + 3_600_000 + Math.floor((i * 20 * 3_600_000) / PAGES)
    return [eventRow(SITE, 1_000_000 + i, ts, '/'), eventRow(SITE, 1_000_000 + i, ts + 1000, `/item/${i}`)]
  }).flat()
  // and a few view another page alone: neither the home page nor "(other)" is then the whole (R4)
  for (let i = 0; i < ALONE; i++) rows.push(eventRow(SITE, 1 + i, dayStart + 2 * 3_600_000 + i * 1000, '/about'))
  for (let i = 0; i < rows.length; i += 50_000) await insertEvents(fx.client, rows.slice(i, i + 50_000))
}, 120_000)
afterAll(async () => {
  await fx?.close()
})

it(`answers a page panel over a day of ${PAGES.toLocaleString('en')} pages, read live`, async () => {
  const p = fx.policy.forSite(SITE)
  const scope: Scope = { site: SITE, timezone: 'UTC', filters: [], limits: { k: p.minVisitors.dashboard, kn: p.minNetworks.dashboard } }
  const answer = await breakdown(fx.client, scope, resolvePeriod({ period: 'day', date: utcDay(dayStart) }, 'UTC', dayStart + DAY + 3_600_000), 'page', property('page')!, ['visitors', 'pageviews'], 10)
  const byPage = new Map(answer.results.map((r) => [r.page, r]))
  expect(byPage.get('/')).toMatchObject({ visitors: PAGES, pageviews: PAGES })
  expect(byPage.get('/about')).toMatchObject({ visitors: ALONE, pageviews: ALONE })
  // the pages of one visitor each are under k: none is shown alone
  expect(answer.results.filter((r) => String(r.page).startsWith('/item/'))).toEqual([])
  expect(byPage.get('(other)')).toMatchObject({ visitors: PAGES, pageviews: PAGES })
}, 120_000)
