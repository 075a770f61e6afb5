/**
 * Saved segments, saved funnels and annotations in a real browser (Debian's headless Chromium
 * through playwright-core) against the real server on the embedded store: a saved segment is
 * applied with one click, a saved funnel runs from the funnel panel's list, an annotation made
 * under the chart is marked on it with its note, and a shared link shows all three read-only.
 * Screenshots go to test/artifacts/.
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, settle, testApp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns as runs, closeAll, serveDashboards } from '../helpers/browser.ts'
import { at, day, eventRow, insertEvents, utcDay } from '../helpers/fixtures.ts'

const SITE = 'saved.example.com'
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const view = (visitor: number, ts: number, pathname: string, country: string) => eventRow(SITE, visitor, ts, pathname, { country })

/**
 * Two days ago (UTC): 10 Germans go from /pricing to /signup within a minute, 6 Americans in 20
 * minutes, 5 French see /pricing only; the day before, 5 British see / only. A funnel /pricing →
 * /signup has 21 and 16 visitors; within 5 minutes 21 and 10.
 */
const EVENTS = [
  ...range(10).flatMap((i) => [view(100 + i, at(8, 2 * i), '/pricing', 'DE'), view(100 + i, at(8, 2 * i + 1), '/signup', 'DE')]),
  ...range(6).flatMap((i) => [view(200 + i, at(10, 2 * i), '/pricing', 'US'), view(200 + i, at(10, 2 * i + 20), '/signup', 'US')]),
  ...range(5).map((i) => view(300 + i, at(12, 2 * i), '/pricing', 'FR')),
  ...range(5).map((i) => view(400 + i, at(14, 2 * i) - 86_400_000, '/', 'GB')),
]

let app: FastifyInstance
let browser: Browser
let origin = ''
const contexts: BrowserContext[] = []

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
async function post<T = Record<string, unknown>>(url: string, payload: object): Promise<T> {
  const res = await app.inject({ method: 'POST', url, headers: admin, payload })
  expect(res.statusCode, res.body).toBe(201)
  return res.json() as T
}
async function get<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await app.inject({ url, headers: admin })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

async function newPage(token?: string): Promise<Page & { problems: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
  contexts.push(ctx)
  if (token) await ctx.addInitScript((t) => sessionStorage.setItem('analytics.token', t), token)
  const page = (await ctx.newPage()) as Page & { problems: string[] }
  page.problems = []
  page.on('pageerror', (e) => page.problems.push(String(e)))
  page.on('console', (m) => m.type() === 'error' && !/status of 40[134]/.test(m.text()) && page.problems.push(m.text()))
  return page
}

/** The first answers of a fresh store take seconds: wait for what the page shows that long. */
const slow = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 30_000 })
const visitorsCard = (page: Page) => page.locator('[data-metric=visitors] .card-value').getAttribute('data-value')

describe.skipIf(!runs)('saved segments, funnels and annotations in a real browser', () => {
  beforeAll(async () => {
    app = await testApp({}, [SITE])
    await insertEvents(app.runtime.store.client, EVENTS)
    await settle(app)
    ;({ origin, browser } = await serveDashboards(app))
  }, 240_000)

  afterAll(async () => {
    for (const c of contexts) await c.close()
    await closeAll(browser, app)
  })

  it('applies a saved segment with one click, and saves the filters on screen as another', async () => {
    await post('/api/v1/segments', { site: SITE, name: 'Germany', filters: 'country==DE' })
    const page = await newPage(ADMIN_TOKEN)
    await page.goto(`${origin}/sites/${SITE}?range=7d`)
    await slow(() => visitorsCard(page)).toBe('26')

    await page.getByText('Segments', { exact: true }).click()
    await page.getByRole('link', { name: /Germany/ }).click()
    await page.waitForURL(/filters=country==DE/)
    const expected = (await get<{ results: { visitors: { value: number } } }>(`/api/v1/stats/aggregate?site=${SITE}&period=7d&filters=country==DE`)).results.visitors.value
    expect(expected).toBe(10)
    await slow(() => visitorsCard(page)).toBe('10')
    expect(await page.locator('.chip').textContent()).toMatch(/Country\s*is\s*Germany/)
    // the menu names the segment in force
    expect(await page.locator('.segment-menu > summary').textContent()).toBe('Segment: Germany')

    // another view's filters, saved from the menu
    await page.goto(`${origin}/sites/${SITE}?range=7d&filters=country!=GB`)
    await page.getByText('Segments', { exact: true }).click()
    await page.getByLabel('Save these filters as a segment').fill('Not British')
    await page.getByRole('button', { name: 'Save segment' }).click()
    await slow(() => page.getByRole('link', { name: /Not British/ }).count()).toBe(1)
    const saved = await get<{ segments: { name: string; filters: string }[] }>(`/api/v1/segments?site=${SITE}`)
    expect(saved.segments.map((s) => [s.name, s.filters])).toEqual([['Germany', 'country==DE'], ['Not British', 'country!=GB']])
    await page.screenshot({ path: path.join(ARTIFACTS, 'saved-segments.png') })
    expect(page.problems).toEqual([])
  }, 90_000)

  it('runs a saved funnel from the list in the funnel panel', async () => {
    const steps = [{ page: '/pricing' }, { page: '/signup' }]
    const quick = await post<{ id: string }>('/api/v1/funnels', { site: SITE, name: 'Quick signup', steps, window_minutes: 5 })
    await post('/api/v1/funnels', { site: SITE, name: 'Any signup', steps })
    const page = await newPage(ADMIN_TOKEN)
    await page.goto(`${origin}/sites/${SITE}?range=7d`)
    const panel = page.locator('[data-panel=funnels]')
    await panel.getByRole('link', { name: /Quick signup/ }).click()
    await page.waitForURL(new RegExp(`saved_funnel=${quick.id}`))
    await slow(() => panel.locator('.funnel-step .num').allTextContents()).toEqual(['21 visitors', '10 visitors'])
    expect(await panel.getByRole('link', { name: /Quick signup/ }).textContent()).toMatch(/Visit \/pricing → Visit \/signup · within 5 min/)
    await panel.scrollIntoViewIfNeeded()
    await panel.screenshot({ path: path.join(ARTIFACTS, 'saved-funnel.png') })

    await panel.getByRole('link', { name: /Any signup/ }).click()
    await slow(() => panel.locator('.funnel-step .num').allTextContents()).toEqual(['21 visitors', '16 visitors'])
    expect(page.problems).toEqual([])
  }, 90_000)

  it('adds an annotation under the chart and marks it on the chart, its note in a tooltip', async () => {
    const page = await newPage(ADMIN_TOKEN)
    await page.goto(`${origin}/sites/${SITE}?range=7d`)
    await slow(() => visitorsCard(page)).toBe('26')
    // a click on the chart picks the day of the bucket under the cursor (the first: six days ago)
    const over = page.locator('.chart .u-over')
    await over.click({ position: { x: 2, y: 60 } })
    // six days before today, as the page saw today (a run across midnight UTC sees the next day)
    const sixDaysAgo = () => utcDay(Date.now() - 6 * 86_400_000)
    const before = sixDaysAgo()
    await slow(async () => [before, sixDaysAgo()].includes(await page.getByLabel('Add a note on').inputValue())).toBe(true)
    const first = await page.getByLabel('Add a note on').inputValue()

    await page.getByLabel('Add a note on').fill(day)
    await page.getByLabel('Note', { exact: true }).fill('Pricing page relaunch')
    await page.getByRole('button', { name: 'Add note' }).click()
    const pin = page.locator(`.annotation-pin[data-date="${day}"]`)
    await pin.waitFor()
    expect(await page.locator('.annotation-list').textContent()).toMatch(/Pricing page relaunch/)
    await pin.hover()
    const tip = page.locator('.annotation-mark .annotation-tip')
    await slow(() => tip.isVisible()).toBe(true)
    expect(await tip.textContent()).toMatch(/Pricing page relaunch/)
    expect(await pin.getAttribute('aria-label')).toMatch(/^Note on .*: Pricing page relaunch$/)
    // the marker stands over its own day: between the chart's left and right edges, at that day's share
    const box = (await over.boundingBox())!
    const mark = (await pin.boundingBox())!
    const share = (mark.x + mark.width / 2 - box.x) / box.width
    const index = (Date.parse(day) - Date.parse(first)) / 86_400_000
    expect(index).toBeGreaterThan(0)
    expect(share).toBeCloseTo(index / 6, 1)
    await page.locator('.chart-panel').screenshot({ path: path.join(ARTIFACTS, 'annotation-on-chart.png') })

    const listed = await get<{ annotations: { date: string; note: string }[] }>(`/api/v1/annotations?site=${SITE}&period=7d`)
    expect(listed.annotations.map((a) => [a.date, a.note])).toEqual([[day, 'Pricing page relaunch']])
    expect(page.problems).toEqual([])
  }, 90_000)

  it('shows segments, saved funnels and annotations to a shared link, read-only', async () => {
    const link = await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'partner' })
    const page = await newPage()
    await page.goto(`${origin}/share?range=7d#${link.token}`)
    await slow(() => page.locator('.shared-badge').textContent()).toMatch(/read-only/)
    await page.locator(`.annotation-pin[data-date="${day}"]`).waitFor()
    expect(await page.getByRole('button', { name: 'Add note' }).count()).toBe(0)
    expect(await page.getByRole('button', { name: /Delete note/ }).count()).toBe(0)

    const panel = page.locator('[data-panel=funnels]')
    await panel.getByRole('link', { name: /Quick signup/ }).click()
    await slow(() => panel.locator('.funnel-step').count()).toBe(2)
    expect(await panel.getByRole('button', { name: /Delete funnel/ }).count()).toBe(0)
    expect(await panel.locator('#funnel-name').count()).toBe(0)

    await page.getByText('Segments', { exact: true }).click()
    expect(await page.getByRole('button', { name: /Rename segment|Delete segment/ }).count()).toBe(0)
    await page.getByRole('link', { name: /Germany/ }).click()
    await page.waitForURL(/\/share\?.*filters=country==DE/)
    expect(page.url()).toContain(`#${link.token}`)
    await slow(() => page.locator('.chip').count()).toBe(1)
    // the segment filters every panel: the Germans alone all converted, so the funnel is withheld (R7)
    await panel.locator('.withheld').waitFor({ timeout: 30_000 })
    await page.waitForLoadState('networkidle')
    await page.screenshot({ path: path.join(ARTIFACTS, 'shared-saved-views.png'), fullPage: true })
    expect(page.problems).toEqual([])
  }, 90_000)
})
