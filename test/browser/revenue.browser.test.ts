/**
 * Revenue goals in a real browser (issue 14, point 3): a revenue goal made in the dashboards'
 * Settings, a purchase sent with its amount by the real tracker (`analytics('Purchase', {revenue})`),
 * and the goals panel showing the revenue in its currency (screenshot in
 * test/artifacts/goals-revenue.png). The policy publishes single visitors (k = 1), so one
 * browser's numbers can be seen.
 */
import fs from 'node:fs'
import path from 'node:path'
import type http from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, UA, flush, rows, tempDataDir, testApp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns, closeAll, serveDashboards, servePages } from '../helpers/browser.ts'
import { utcDay } from '../helpers/fixtures.ts'


let app: FastifyInstance
let browser: Browser
let pageServer: http.Server
let origin = ''
let site = ''

describe.skipIf(!browserRuns)('revenue goals in the dashboards', () => {
  beforeAll(async () => {
    const policy = path.join(tempDataDir(), 'policy.yaml')
    fs.writeFileSync(policy, 'version: 1\ndefaults:\n  min_visitors: { dashboard: 1, shared: 1, export: 1 }\n')
    app = await testApp({ policyFile: policy })
    ;({ origin, browser } = await serveDashboards(app))
    const shop = `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
      <script defer data-domain="example.com" src="${origin}/t.js"></script></head>
      <body><button id="buy" onclick="analytics('Purchase', { revenue: { amount: '49.90', currency: 'EUR' } })">Buy</button></body></html>`
    const served = await servePages(new Map([['/shop', shop]]))
    pageServer = served.server
    site = `http://www.example.com:${served.port}`
  }, 240_000)

  afterAll(() => closeAll(browser, pageServer, app))

  it('makes a revenue goal in Settings, counts a purchase sent by the tracker, and shows its revenue', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await ctx.addInitScript((t) => sessionStorage.setItem('analytics.token', t), ADMIN_TOKEN)
    const dash = await ctx.newPage()
    await dash.goto(`${origin}/sites/example.com/settings`)
    await dash.getByLabel('Goal type').selectOption('event')
    await dash.getByLabel('Event name').fill('Purchase')
    await dash.getByLabel('Revenue currency (optional)').fill('eur')
    await dash.getByRole('button', { name: 'Add goal' }).click()
    await expect.poll(() => dash.locator('.goal-list li span').first().textContent(), { timeout: 10_000 }).toBe('Purchase · revenue in EUR')

    // the days the purchase may fall on: today, and the next when the test runs across midnight UTC
    const boughtOn = utcDay()
    const shopper = await (await browser.newContext({ userAgent: UA.chromeWindows })).newPage()
    await shopper.goto(`${site}/shop`)
    await shopper.waitForFunction(() => typeof (window as unknown as { analytics?: unknown }).analytics === 'function')
    await shopper.click('#buy')
    await expect.poll(async () => {
      await flush(app)
      return rows(app, "SELECT toString(revenue_amount) AS amount, toString(revenue_currency) AS currency FROM events WHERE name = 'Purchase'")
    }, { timeout: 10_000 }).toEqual([{ amount: '499000', currency: 'EUR' }])

    await dash.goto(`${origin}/sites/example.com?range=custom&from=${boughtOn}&to=${utcDay()}`)
    const panel = dash.locator('[data-panel=events]')
    await panel.getByRole('tab', { name: 'Goals' }).click()
    await expect.poll(() => panel.locator('thead th').allTextContents(), { timeout: 15_000 }).toEqual(['Goal', 'Visitors', 'Events', 'CR', 'Revenue'])
    await expect.poll(() => panel.locator('tr[data-value="Purchase"] td').last().textContent(), { timeout: 15_000 }).toBe('€49.90')
    await panel.scrollIntoViewIfNeeded()
    await panel.screenshot({ path: path.join(ARTIFACTS, 'goals-revenue.png') })
    await shopper.context().close()
    await ctx.close()
  })
})
