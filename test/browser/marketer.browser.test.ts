/**
 * Issue 14's dashboard controls in a real browser (Debian's headless Chromium through
 * playwright-core) against the real server on the embedded store, with traffic sent through the
 * collector's pipeline (the seed route, past times, one documentation /48 per visitor): a goal
 * row filters the whole view and turns every panel to conversions, the comparison selector moves
 * the cards' change and the chart's dashed line, the chart's axis names each day once and draws
 * no bucket still to come, the Flow tab opens on the top page, hostnames filter in one click,
 * and campaign rows show their bounce rate and conversion rate. Each compares the screen with
 * the API's own answer and leaves a screenshot in test/artifacts/.
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, settle, testApp, UA, visitorIp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns as runs, closeAll, serveDashboards } from '../helpers/browser.ts'
import { seedPast, type PastBeacon } from '../helpers/seed.ts'
import { utcDay } from '../helpers/fixtures.ts'

const SITE = 'marketer.example.com'
const DOCS = `docs.${SITE}`
const DAY = 86_400_000
const TODAY0 = Math.floor(Date.now() / DAY) * DAY // the site's time zone is UTC
const at = (daysAgo: number, h: number, m = 0, s = 0) => TODAY0 - daysAgo * DAY + ((h * 60 + m) * 60 + s) * 1000
const dayIso = (daysAgo: number) => utcDay(TODAY0 - daysAgo * DAY)
const D2 = dayIso(2)
const D3 = dayIso(3)
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i)

/**
 * Two days ago (D2): 12 visitors from Google read / then /blog/a, 5 of them sign up; 12 come
 * from the "spring" newsletter campaign to /pricing, 6 leave at once (bounce) and 6 go on to
 * /signup and sign up; 7 read /guide on the docs subdomain. 31 visitors, 11 converting.
 * D3: 10 from Google see / only. D10 and D9: 6 and 8 direct visitors on /, to compare with.
 */
function traffic(): PastBeacon[] {
  const hit = (visitor: number, ts: number, name: string, url: string, referrer = ''): PastBeacon => ({
    body: { name, url, domain: SITE, referrer }, ip: visitorIp(visitor), ua: visitor % 2 ? UA.firefoxLinux : UA.chromeWindows, ts,
  })
  const home = `https://${SITE}`
  const beacons = [
    ...range(12).flatMap((i) => [
      hit(i, at(2, 9, i), 'pageview', `${home}/`, 'https://www.google.com/'),
      hit(i, at(2, 9, i, 30), 'pageview', `${home}/blog/a`),
      ...(i < 5 ? [hit(i, at(2, 9, i, 50), 'Signup', `${home}/blog/a`)] : []),
    ]),
    ...range(12, 20).flatMap((i) => [
      hit(i, at(2, 11, i), 'pageview', `${home}/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring`),
      ...(i < 26 ? [hit(i, at(2, 11, i, 30), 'pageview', `${home}/signup`), hit(i, at(2, 11, i, 40), 'Signup', `${home}/signup`)] : []),
    ]),
    ...range(7, 40).map((i) => hit(i, at(2, 13, i), 'pageview', `https://${DOCS}/guide`)),
    ...range(10, 50).map((i) => hit(i, at(3, 9, i), 'pageview', `${home}/`, 'https://www.google.com/')),
    ...range(6, 60).map((i) => hit(i, at(10, 10, i), 'pageview', `${home}/`)),
    ...range(8, 70).map((i) => hit(i, at(9, 10, i), 'pageview', `${home}/`)),
  ]
  return beacons.sort((a, b) => a.ts - b.ts)
}

let app: FastifyInstance
let browser: Browser
let origin = ''
const contexts: BrowserContext[] = []

async function api<T = any>(endpoint: string, query: string): Promise<T> {
  const res = await app.inject({ url: `/api/v1/stats/${endpoint}?site=${SITE}&${query}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

async function newPage(width = 1280): Promise<Page & { problems: string[] }> {
  const ctx = await browser.newContext({ viewport: { width, height: 1000 } })
  contexts.push(ctx)
  await ctx.addInitScript((t) => sessionStorage.setItem('analytics.token', t), ADMIN_TOKEN)
  const page = (await ctx.newPage()) as Page & { problems: string[] }
  page.problems = []
  page.on('pageerror', (e) => page.problems.push(String(e)))
  page.on('console', (m) => m.type() === 'error' && !/status of 40[134]/.test(m.text()) && page.problems.push(m.text()))
  return page
}

/**
 * The first answers of a fresh store take seconds, and on two cores shared with other test
 * processes a dashboard's dozen requests take many: wait for what the page shows that long.
 */
const slow = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 60_000 })
const card = (page: Page, metric: string) => page.locator(`[data-metric=${metric}] .card-value`).getAttribute('data-value')
const change = (page: Page, metric: string) => page.locator(`[data-metric=${metric}] .card-change`).getAttribute('data-change')

/** A panel's rows as shown: each row's value, then its number cells. */
const panelRows = (page: Page, panel: string) =>
  page.locator(`[data-panel=${panel}] .breakdown tbody tr`).evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-value'), ...[...r.querySelectorAll('td.num')].map((td) => td.textContent)]))
/** The same rows from the API: the value, then each metric as the dashboards print it. */
const asShown = (rows: Record<string, unknown>[], property: string, metrics: string[]) =>
  rows.map((r) => [String(r[property]), ...metrics.map((m) => (r[m] === null ? '–' : m.endsWith('_rate') ? `${r[m]}%` : String(r[m])))])

/**
 * The last day of the period the page shows (its answer's, beside the range: `… · A to B`), to ask
 * the API about the very days the page asked about: across midnight UTC, a "7d" the page asked
 * and one the test asks a moment later are a day apart.
 */
async function shownLastDay(page: Page): Promise<string> {
  const last = async () => /· (?:\d{4}-\d{2}-\d{2} to )?(\d{4}-\d{2}-\d{2})(?: ·|$)/.exec(((await page.locator('[data-periods]').textContent()) ?? '').trim())?.[1] ?? ''
  await slow(last).toMatch(/^\d{4}-\d{2}-\d{2}$/)
  return last()
}

/** The chart's screen-reader table: period, value, and the compared period and value when comparing. */
const chartTable = (page: Page) =>
  page.locator('.chart-wrap table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent ?? '')))

describe.skipIf(!runs)("a marketer's questions in a real browser", { timeout: 240_000 }, () => {
  beforeAll(async () => {
    app = await testApp({}, [SITE])
    await seedPast(app, traffic())
    await settle(app)
    const goal = await app.inject({ method: 'POST', url: '/api/v1/goals', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { site: SITE, event: 'Signup' } })
    expect(goal.statusCode, goal.body).toBe(201)
    ;({ origin, browser } = await serveDashboards(app))
  }, 240_000)

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {})
    await closeAll(browser, app)
  })

  it('a click on a goal filters the whole view by it: the cards and every panel show conversions', async () => {
    const day = `period=custom&from=${D2}&to=${D2}`
    const page = await newPage()
    await page.goto(`${origin}/sites/${SITE}?range=custom&from=${D2}&to=${D2}`)
    const signup = page.getByRole('link', { name: 'Filter by goal: Signup' })
    await slow(() => signup.count()).toBe(1)
    await signup.click()
    await page.waitForURL(/filters=goal==Signup/)
    await slow(() => page.getByRole('list', { name: 'Filters' }).textContent()).toMatch(/Goal\s*is\s*Signup/)

    // the cards: converting visitors and their conversion rate, as the API counts them
    const agg = await api('aggregate', `${day}&metrics=visitors,conversion_rate&filters=goal==Signup`)
    expect([agg.results.visitors.value, agg.results.conversion_rate.value]).toEqual([11, 35.5])
    await slow(() => card(page, 'visitors')).toBe('11')
    await slow(() => card(page, 'conversion_rate')).toBe('35.5')
    expect(await page.locator('[data-metric=visitors] .card-label').textContent()).toBe('Conversions')
    expect(await page.locator('[data-metric=bounce_rate]').count()).toBe(0)

    // every breakdown: converting visitors and the API's conversion rate of each row
    await page.getByRole('tab', { name: 'Sources' }).click()
    const sources = await api('breakdown', `${day}&property=source&metrics=visitors,conversion_rate&filters=goal==Signup`)
    await slow(() => panelRows(page, 'sources')).toEqual(asShown(sources.results, 'source', ['visitors', 'conversion_rate']))
    expect(await page.locator('[data-panel=sources] thead').textContent()).toMatch(/Conversions\s*CR/)
    const browsers = await api('breakdown', `${day}&property=browser&metrics=visitors,conversion_rate&filters=goal==Signup`)
    // Chrome: 6 of 16 visitors converted, Firefox 5 of 15
    expect(browsers.results).toEqual([{ browser: 'Chrome', visitors: 6, conversion_rate: 37.5 }, { browser: 'Firefox', visitors: 5, conversion_rate: 33.3 }])
    await slow(() => panelRows(page, 'technology')).toEqual(asShown(browsers.results, 'browser', ['visitors', 'conversion_rate']))
    // the chart follows the conversion rate card
    await page.locator('[data-metric=conversion_rate]').click()
    await page.waitForURL(/metric=conversion_rate/)
    await slow(() => page.locator('.chart-wrap caption').textContent()).toMatch(/^Conversion rate by hour/)
    const hourly = await api('timeseries', `${day}&metrics=conversion_rate&filters=goal==Signup&interval=hour&comparison=previous_period`)
    const rates = hourly.results.filter((r: { conversion_rate: number | null }) => r.conversion_rate !== null).map((r: { conversion_rate: number }) => `${r.conversion_rate}%`)
    expect(rates).toEqual(['41.7%', '50%'])
    await slow(() => chartTable(page).then((rows) => rows.map((r) => r[1]).filter((v) => v.endsWith('%')))).toEqual(rates)
    await page.screenshot({ path: path.join(ARTIFACTS, 'marketer-goal-filter.png'), fullPage: true })
    expect(page.problems).toEqual([])
  })

  it('campaign rows show their bounce rate, and with a goal filter their conversions and conversion rate', async () => {
    const day = `period=custom&from=${D2}&to=${D2}`
    const page = await newPage()
    await page.goto(`${origin}/sites/${SITE}?range=custom&from=${D2}&to=${D2}`)
    await page.getByRole('tab', { name: 'Campaigns' }).click()
    // half the spring visits left at once: 50 %, as the API answers per row
    const bounce = await api('breakdown', `${day}&property=utm_campaign&metrics=visitors,bounce_rate`)
    expect(bounce.results.find((r: { utm_campaign: string }) => r.utm_campaign === 'spring')).toEqual({ utm_campaign: 'spring', visitors: 12, bounce_rate: 50 })
    await slow(() => panelRows(page, 'sources')).toEqual(asShown(bounce.results, 'utm_campaign', ['visitors', 'bounce_rate']))

    // "Bounce 0 %" was true, of the visits an event filter keeps: every one sent that event, so
    // none bounced. The goal filter asks the question meant: conversions and conversion rate.
    const byEvent = await api('breakdown', `${day}&property=utm_campaign&metrics=visitors,bounce_rate&filters=event==Signup`)
    expect(byEvent.results.every((r: { bounce_rate: number }) => r.bounce_rate === 0)).toBe(true)
    await page.goto(`${origin}/sites/${SITE}?range=custom&from=${D2}&to=${D2}&filters=goal==Signup`)
    await page.getByRole('tab', { name: 'Campaigns' }).click()
    const converted = await api('breakdown', `${day}&property=utm_campaign&metrics=visitors,conversion_rate&filters=goal==Signup`)
    expect(converted.results.find((r: { utm_campaign: string }) => r.utm_campaign === 'spring')).toEqual({ utm_campaign: 'spring', visitors: 6, conversion_rate: 50 })
    await slow(() => panelRows(page, 'sources')).toEqual(asShown(converted.results, 'utm_campaign', ['visitors', 'conversion_rate']))

    // a custom event's rate is out of every visitor the filters other than goal and event keep, as
    // the goals panel counts it (out of the filtered total, filtering by events inflated it)
    await page.goto(`${origin}/sites/${SITE}?range=custom&from=${D2}&to=${D2}`)
    await page.getByRole('tab', { name: 'Custom events' }).click()
    await slow(() => panelRows(page, 'events')).toEqual([['Signup', '11', '11', '35.5%']])
    expect(page.problems).toEqual([])
  })

  it('the comparison selector moves the cards’ change and the chart’s dashed line', async () => {
    const page = await newPage()
    await page.goto(`${origin}/sites/${SITE}?range=7d`)
    // by default, the previous period of the same length
    const previous = await api('aggregate', `period=7d&date=${await shownLastDay(page)}&metrics=visitors&comparison=previous_period`)
    expect(previous.results.visitors.change).not.toBeNull()
    await slow(() => change(page, 'visitors')).toBe(String(previous.results.visitors.change))
    await slow(() => page.locator('[data-periods]').textContent()).toContain(`compared with ${previous.comparison.period.replace('..', ' to ')}`)

    // a year before holds nobody: no change rather than a fall of 100 %
    await page.getByLabel('Compare with').selectOption('year_over_year')
    await page.waitForURL(/comparison=year_over_year/)
    await slow(() => change(page, 'visitors')).toBe('none')
    const yoy = await api('aggregate', `period=7d&date=${await shownLastDay(page)}&metrics=visitors&comparison=year_over_year`)
    expect(yoy.results.visitors.change).toBeNull()
    await slow(() => page.locator('[data-periods]').textContent()).toContain(yoy.comparison.period.replace('..', ' to '))

    // off: no change on any card, no compared line
    await page.getByLabel('Compare with').selectOption('off')
    await page.waitForURL(/comparison=off/)
    await slow(() => page.locator('.card-change').count()).toBe(0)
    await slow(() => page.locator('.chart-wrap thead th').count()).toBe(2)

    // custom dates: D3..D2 against D10..D9, bucket by bucket
    await page.goto(`${origin}/sites/${SITE}?range=custom&from=${D3}&to=${D2}`)
    await page.getByLabel('Compare with').selectOption('custom')
    await page.getByLabel('Compare from').fill(dayIso(10))
    await page.getByLabel('Compare to').fill(dayIso(9))
    await page.getByRole('button', { name: 'Compare', exact: true }).click()
    await page.waitForURL(new RegExp(`comparison=custom&compare_from=${dayIso(10)}&compare_to=${dayIso(9)}`))
    const q = `period=custom&from=${D3}&to=${D2}&comparison=custom&compare_from=${dayIso(10)}&compare_to=${dayIso(9)}`
    const custom = await api('aggregate', `${q}&metrics=visitors`)
    expect(custom.results.visitors).toEqual({ value: 41, change: 192.9 }) // 10 + 31 against 6 + 8
    await slow(() => change(page, 'visitors')).toBe('192.9')
    const series = await api('timeseries', `${q}&metrics=visitors&interval=day`)
    expect(series.results.map((r: { visitors: number }) => r.visitors)).toEqual([10, 31])
    expect(series.comparison.results.map((r: { visitors: number }) => r.visitors)).toEqual([6, 8])
    await slow(() => chartTable(page).then((rows) => rows.map((r) => [r[1], r[3]]))).toEqual([['10', '6'], ['31', '8']])
    await page.locator('.overview').screenshot({ path: path.join(ARTIFACTS, 'marketer-comparison.png') })
    expect(page.problems).toEqual([])
  })

  it('never draws a bucket still to come: today’s later hours are not drawn, not 0, not hatched', async () => {
    const page = await newPage()
    // the server's answer to the page itself: the hours still to come are those of the moment the
    // page asked (an hour, or a day, may have begun before the test could ask again)
    const answered = page.waitForResponse((r) => r.url().includes('/api/v1/stats/timeseries?') && r.url().includes('period=day'))
    await page.goto(`${origin}/sites/${SITE}?range=day`)
    const response = await answered
    expect(response.status()).toBe(200)
    const today = await response.json()
    const future = today.results.filter((r: Record<string, unknown>) => r.visitors === null && !r.withheld).length
    const withheld = today.results.filter((r: Record<string, unknown>) => r.withheld).length
    expect(future + withheld).toBe(24)
    await slow(() => chartTable(page).then((rows) => rows.filter((r) => r[1] === 'no data yet').length)).toBe(future)
    expect((await chartTable(page)).filter((r) => r[1] === '0')).toEqual([])
    // the hatched periods are the withheld ones, never the hours to come
    expect(await page.locator('.chart-note').textContent()).toContain(`${withheld} ${withheld === 1 ? 'period is' : 'periods are'} withheld`)
    expect(page.problems).toEqual([])
  })

  it('labels each day of the chart once, at even intervals, on 7-day and custom ranges', async () => {
    const label = (date: string) => new Date(`${date}T00:00:00Z`).toLocaleDateString('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short' })
    const axis = async (page: Page) => (await page.locator('.chart').getAttribute('data-x-labels'))?.split('|') ?? []
    // the API's question, or how to make it from the last day the page shows
    const check = async (page: Page, query: string, apiQuery: string | ((last: string) => string)) => {
      await page.goto(`${origin}/sites/${SITE}?${query}`)
      const asked = typeof apiQuery === 'string' ? apiQuery : apiQuery(await shownLastDay(page))
      const days: string[] = (await api('timeseries', `${asked}&metrics=visitors&interval=day`)).results.map((r: { date: string }) => label(r.date))
      await slow(() => axis(page).then((l) => l.length)).toBeGreaterThan(1)
      const shown = await axis(page)
      expect(new Set(shown).size, shown.join(' ')).toBe(shown.length)
      // each label names a bucket, every `stride` buckets from the first
      const at = shown.map((l) => days.indexOf(l))
      const stride = at[1] - at[0]
      expect(at).toEqual(at.map((_, i) => i * stride))
      return { shown, days }
    }
    const page = await newPage()
    const week = await check(page, 'range=7d', (last) => `period=7d&date=${last}`)
    expect(week.shown).toEqual(week.days)
    const month = await check(page, `range=custom&from=${dayIso(29)}&to=${dayIso(0)}`, `period=custom&from=${dayIso(29)}&to=${dayIso(0)}`)
    expect(month.shown.length).toBeGreaterThanOrEqual(8)
    await page.locator('.overview').screenshot({ path: path.join(ARTIFACTS, 'marketer-axis.png') })
    // on a phone, fewer labels, still each once
    const phone = await newPage(390)
    const narrow = await check(phone, `range=custom&from=${dayIso(29)}&to=${dayIso(0)}`, `period=custom&from=${dayIso(29)}&to=${dayIso(0)}`)
    expect(narrow.shown.length).toBeLessThan(month.shown.length)
    expect([...page.problems, ...phone.problems]).toEqual([])
  })

  it('the Flow tab opens on the top page, and moves to another page on a pick', async () => {
    const page = await newPage()
    await page.goto(`${origin}/sites/${SITE}?range=7d`)
    await page.getByRole('tab', { name: 'Flow' }).click()
    const top = (await api('breakdown', 'period=7d&property=page&metrics=visitors&limit=10')).results[0].page
    expect(top).toBe('/')
    const flowRows = (side: number) => page.locator('.flow-col').nth(side).locator('tbody tr').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-value'), r.querySelector('td.num')?.textContent]))
    const apiRows = (rows: { page: string; visitors: number }[]) => rows.map((r) => [r.page, String(r.visitors)])
    const flow = await api('page-flow', `period=7d&page=${encodeURIComponent(top)}&limit=8`)
    await slow(() => page.locator('[data-panel=pages] .flow select').inputValue()).toBe(top)
    await slow(() => flowRows(1)).toEqual(apiRows(flow.next))
    expect(flow.next.length).toBeGreaterThan(0)
    expect(await flowRows(0)).toEqual(apiRows(flow.previous))
    await page.screenshot({ path: path.join(ARTIFACTS, 'marketer-flow.png'), fullPage: true })

    // another page: the flow moves, the rest of the view keeps its filters (none)
    await page.locator('[data-panel=pages] .flow select').selectOption('/pricing')
    await page.waitForURL(/flow=\/pricing/)
    const pricing = await api('page-flow', 'period=7d&page=/pricing&limit=8')
    await slow(() => flowRows(1)).toEqual(apiRows(pricing.next))
    expect(page.url()).not.toContain('filters=')
    expect(page.problems).toEqual([])
  })

  it('lists the hostnames beside the pages, and filters by one in one click', async () => {
    const day = `period=custom&from=${D2}&to=${D2}`
    const page = await newPage()
    await page.goto(`${origin}/sites/${SITE}?range=custom&from=${D2}&to=${D2}`)
    const hosts = page.getByRole('list', { name: 'Hostnames' })
    await slow(() => hosts.getByRole('link').allTextContents()).toEqual(['All hosts', SITE, DOCS])
    await hosts.getByRole('link', { name: DOCS }).click()
    await page.waitForURL(new RegExp(`filters=hostname==${DOCS.replace(/\./g, '\\.')}`))
    const docs = await api('aggregate', `${day}&metrics=visitors&filters=hostname==${DOCS}`)
    expect(docs.results.visitors.value).toBe(7)
    await slow(() => card(page, 'visitors')).toBe('7')
    // the docs host's pages only (their visitors and pageviews: the columns the tab starts with)
    const docsPages = await api('breakdown', `${day}&property=page&metrics=visitors,pageviews&filters=hostname==${DOCS}`)
    await slow(() => panelRows(page, 'pages').then((rows) => rows.map((r) => r.slice(0, 3)))).toEqual(asShown(docsPages.results, 'page', ['visitors', 'pageviews']))
    expect(await hosts.getByRole('link', { name: DOCS }).getAttribute('aria-current')).toBe('true')

    // the Hostnames tab: every host with its visitors, as the API counts them
    await page.getByRole('link', { name: 'All hosts' }).click()
    await page.waitForURL((u) => !u.search.includes('filters'))
    await page.getByRole('tab', { name: 'Hostnames' }).click()
    const byHost = await api('breakdown', `${day}&property=hostname&metrics=visitors,pageviews`)
    expect(byHost.results.map((r: { hostname: string }) => r.hostname)).toEqual([SITE, DOCS])
    await slow(() => panelRows(page, 'pages')).toEqual(asShown(byHost.results, 'hostname', ['visitors', 'pageviews']))
    await page.locator('[data-panel=pages]').screenshot({ path: path.join(ARTIFACTS, 'marketer-hostname.png') })
    expect(page.problems).toEqual([])
  })
})
