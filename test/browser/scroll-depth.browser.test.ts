/**
 * Scroll depth through the real tracker (issue 14, point 4): Chromium (Debian's, driven by
 * playwright-core) scrolls real pages, the tracker reports the deepest scroll of each page view
 * in its engagement ping, the collector stores it, the stats API averages it on the page
 * breakdown, and the dashboards' pages panel shows it beside time on page (screenshot in
 * test/artifacts/pages-scroll-depth.png). The policy publishes single visitors (k = 1), so one
 * browser's numbers can be seen.
 */
import fs from 'node:fs'
import path from 'node:path'
import type http from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, UA, flush, rows, tempDataDir, testApp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns, closeAll, serveDashboards, servePages } from '../helpers/browser.ts'
import { utcDay } from '../helpers/fixtures.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let app: FastifyInstance
let browser: Browser
let pageServer: http.Server
let origin = ''
let site = ''
const pages = new Map<string, string>()

/** Each engagement ping's page and scroll depth, once `n` are stored. */
async function pings(n: number): Promise<{ pathname: string; scroll_depth: number; engagement_ms: number }[]> {
  for (let i = 0; i < 100; i++) {
    await flush(app)
    const r = await rows<{ pathname: string; scroll_depth: number; engagement_ms: number }>(
      app,
      "SELECT pathname, scroll_depth, engagement_ms FROM events WHERE site = 'example.com' AND name = 'engagement' ORDER BY ts",
    )
    if (r.length >= n) return r
    await sleep(100)
  }
  throw new Error('engagement pings did not arrive')
}

describe.skipIf(!browserRuns)('scroll depth through the real tracker', () => {
  beforeAll(async () => {
    const policy = path.join(tempDataDir(), 'policy.yaml')
    fs.writeFileSync(policy, 'version: 1\ndefaults:\n  min_visitors: { dashboard: 1, shared: 1, export: 1 }\n')
    app = await testApp({ policyFile: policy })
    ;({ origin, browser } = await serveDashboards(app))
    const tracker = `<script defer data-domain="example.com" src="${origin}/t.js"></script>`
    const doc = (body: string) => `<!doctype html><html><head><meta charset="utf-8"><title>Scroll</title>${tracker}</head><body style="margin:0">${body}</body></html>`
    pages.set('/long', doc('<h1>A long article</h1><div style="height:5000px">text</div>'))
    pages.set('/short', doc('<h1>A short note</h1>'))
    const served = await servePages(pages)
    pageServer = served.server
    site = `http://www.example.com:${served.port}`
  }, 240_000)

  afterAll(() => closeAll(browser, pageServer, app))

  it('reports the deepest scroll of each page view, stores it, and the API and the pages panel show it', async () => {
    // the days the page views may fall on: today, and the next when the test runs across midnight UTC
    const viewedOn = utcDay()
    const ctx = await browser.newContext({ userAgent: UA.chromeWindows, viewport: { width: 1280, height: 720 } })
    const page = await ctx.newPage()
    await page.goto(`${site}/long`)
    // down to 2000 px, then back to the top: the deepest point seen is what counts
    await page.evaluate(() => window.scrollTo(0, 2000))
    await page.waitForFunction(() => window.scrollY === 2000)
    const expected = await page.evaluate(() => Math.round(((window.scrollY + window.innerHeight) / document.documentElement.scrollHeight) * 100))
    await sleep(200)
    await page.evaluate(() => window.scrollTo(0, 0))
    await sleep(1200)
    await page.goto(`${site}/short`) // leaving /long sends its ping
    await sleep(1200)
    await page.goto('about:blank') // and leaving /short, seen whole
    const stored = await pings(2)
    expect(expected).toBeGreaterThan(40)
    expect(expected).toBeLessThan(60)
    expect(stored.map((p) => [p.pathname, p.scroll_depth])).toEqual([['/long', expected], ['/short', 100]])
    for (const p of stored) expect(p.engagement_ms).toBeGreaterThanOrEqual(1000)

    const days = `from=${viewedOn}&to=${utcDay()}`
    const res = await app.inject({
      url: `/api/v1/stats/breakdown?site=example.com&period=custom&${days}&property=page&metrics=visitors,time_on_page,scroll_depth`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().results).toEqual([
      { page: '/long', visitors: 1, time_on_page: expect.any(Number), scroll_depth: expected },
      { page: '/short', visitors: 1, time_on_page: expect.any(Number), scroll_depth: 100 },
    ])

    const dash: Page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    await dash.context().addInitScript((t) => sessionStorage.setItem('analytics.token', t), ADMIN_TOKEN)
    await dash.goto(`${origin}/sites/example.com?range=custom&${days}`)
    const panel = dash.locator('[data-panel=pages]')
    await panel.getByRole('tab', { name: 'Top pages' }).click()
    await expect.poll(() => panel.locator('thead th').allTextContents(), { timeout: 15_000 }).toEqual(['Page', 'Visitors', 'Pageviews', 'Time on page', 'Scroll depth'])
    await expect.poll(() => panel.locator('tr[data-value="/long"] td').last().textContent(), { timeout: 15_000 }).toBe(`${expected}%`)
    expect(await panel.locator('tr[data-value="/short"] td').last().textContent()).toBe('100%')
    await panel.scrollIntoViewIfNeeded()
    await panel.screenshot({ path: path.join(ARTIFACTS, 'pages-scroll-depth.png') })
    await ctx.close()
    await dash.context().close()
  })
})
