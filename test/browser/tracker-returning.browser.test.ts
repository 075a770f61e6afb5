/**
 * New and returning visits in a real browser: the tracker keeps a last-visit day (a date,
 * never an id) only where the site's policy allows it, and removes it where it does not.
 */
import fs from 'node:fs'
import path from 'node:path'
import type http from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UA, flush, rows, tempDataDir, testApp } from '../helpers/app.ts'
import { browserRuns, closeAll, launchChromium, listenLocally, servePages } from '../helpers/browser.ts'
import { utcDay } from '../helpers/fixtures.ts'

let app: FastifyInstance
let browser: Browser
let pageServer: http.Server
let port = 0
const pages = new Map<string, string>()

async function returningOf(site: string, n: number): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    await flush(app)
    const r = await rows<{ returning: number }>(app, "SELECT returning FROM events WHERE site = {site:String} AND name = 'pageview' ORDER BY ts", { site })
    if (r.length >= n) return r.map((x) => x.returning)
    await new Promise((res) => setTimeout(res, 100))
  }
  throw new Error('pageviews did not arrive')
}

describe.skipIf(!browserRuns)('last-visit day', () => {
  beforeAll(async () => {
    const policy = path.join(tempDataDir(), 'policy.yaml')
    fs.writeFileSync(policy, 'version: 1\nsites:\n  example.com:\n    last_visit_day: true\n')
    app = await testApp({ policyFile: policy }, ['example.com', 'example.org'])
    const collector = await listenLocally(app)
    pages.set('/com', `<!doctype html><script defer data-domain="example.com" src="${collector}/t.js"></script>`)
    pages.set('/org', `<!doctype html><script defer data-domain="example.org" src="${collector}/t.js"></script>`)
    ;({ server: pageServer, port } = await servePages(pages))
    browser = await launchChromium(['www.example.com', 'www.example.org'])
  })

  afterAll(() => closeAll(browser, pageServer, app))

  it('is kept where the policy allows it, and makes the next day\'s visit returning', async () => {
    const ctx = await browser.newContext({ userAgent: UA.chromeWindows })
    const page = await ctx.newPage()
    // the day of the page's load (UTC), as the tracker names it: the one the test started on, or
    // the next when the test runs across midnight
    const started = utcDay()
    const lastVisitDay = async () => {
      const kept = await page.evaluate(() => localStorage.getItem('analytics_lv'))
      return kept !== null && [started, utcDay()].includes(kept) ? 'today' : kept
    }
    await page.goto(`http://www.example.com:${port}/com`)
    expect(await returningOf('example.com', 1)).toEqual([0])
    await expect.poll(lastVisitDay).toBe('today')
    expect(await page.evaluate(() => Object.keys(localStorage))).toEqual(['analytics_lv'])

    // the same browser comes back on a later day
    await page.evaluate(() => localStorage.setItem('analytics_lv', '2020-01-01'))
    await page.goto(`http://www.example.com:${port}/com?again`)
    expect(await returningOf('example.com', 2)).toEqual([0, 1])
    await expect.poll(lastVisitDay).toBe('today')
    expect(await page.evaluate(() => document.cookie)).toBe('')
    await ctx.close()
  })

  it('is removed, and never stored, where the policy does not allow it', async () => {
    const ctx = await browser.newContext({ userAgent: UA.chromeWindows })
    const page = await ctx.newPage()
    await page.goto(`http://www.example.org:${port}/org`)
    await page.evaluate(() => localStorage.setItem('analytics_lv', '2020-01-01'))
    await page.goto(`http://www.example.org:${port}/org?again`)
    await expect.poll(() => page.evaluate(() => localStorage.getItem('analytics_lv'))).toBeNull()
    expect(await returningOf('example.org', 2)).toEqual([2, 2])
    await ctx.close()
  })
})
