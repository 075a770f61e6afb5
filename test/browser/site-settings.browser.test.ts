/**
 * A site's settings in a real browser (Debian's headless Chromium through playwright-core):
 * its time zone is changed from the zones the store knows, and the site is removed with its
 * data only once its domain is typed again. Screenshots go to test/artifacts/.
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, rows, settle, testApp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns as runs, closeAll, serveDashboards } from '../helpers/browser.ts'
import { at, eventRow, insertEvents } from '../helpers/fixtures.ts'

const MOVED = 'moved.example.com'
const GONE = 'gone.example.com'
const KEPT = 'kept.example.com'

let app: FastifyInstance
let browser: Browser
let origin = ''

const sites = async () => (await app.inject({ url: '/api/v1/sites', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json().sites as { domain: string; timezone: string }[]

async function signedIn(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 1300 } })
  await ctx.addInitScript((t) => sessionStorage.setItem('analytics.token', t), ADMIN_TOKEN)
  const page = await ctx.newPage()
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(String(e)))
  ;(page as Page & { problems: string[] }).problems = problems
  return page
}

describe.skipIf(!runs)('site settings in a real browser', () => {
  beforeAll(async () => {
    app = await testApp({}, [MOVED, GONE, KEPT])
    await insertEvents(app.runtime.store.client, [GONE, KEPT].flatMap((site) => Array.from({ length: 5 }, (_, i) => eventRow(site, 100 + i, at(10, i), '/'))))
    await settle(app)
    ;({ origin, browser } = await serveDashboards(app))
  }, 240_000)

  afterAll(() => closeAll(browser, app))

  it("changes a site's time zone to one the store knows", async () => {
    const page = await signedIn()
    await page.goto(`${origin}/sites/${MOVED}/settings`)
    const select = page.getByLabel('Reporting time zone')
    // the store's own list, not every zone the browser knows
    await expect.poll(() => select.locator('option').count()).toBeGreaterThan(100)
    expect(await select.locator('option[value="US/Pacific-New"]').count()).toBe(0)
    const save = page.getByRole('button', { name: 'Save time zone' })
    expect(await save.isDisabled()).toBe(true)
    await select.selectOption('Europe/Berlin')
    await save.click()
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Reports now use' }).textContent()).toMatch(/Europe\/Berlin/)
    expect((await sites()).find((s) => s.domain === MOVED)?.timezone).toBe('Europe/Berlin')
    // the page follows: the snippet card names the new zone
    await expect.poll(() => page.getByText(/Time zone: Europe\/Berlin/).count()).toBe(1)
    await page.screenshot({ path: path.join(ARTIFACTS, 'site-settings-timezone.png'), fullPage: true })
    expect((page as Page & { problems: string[] }).problems).toEqual([])
  })

  it('removes a site and its data only once its domain is typed again', async () => {
    const page = await signedIn()
    await page.goto(`${origin}/sites/${GONE}/settings`)
    const confirm = page.getByLabel(`Type ${GONE} to confirm`)
    const remove = page.getByRole('button', { name: 'Remove this site and its data' })
    await confirm.waitFor()
    expect(await remove.isDisabled()).toBe(true)
    await confirm.fill(KEPT)
    expect(await remove.isDisabled()).toBe(true)
    await confirm.fill(GONE)
    expect(await remove.isDisabled()).toBe(false)
    await page.getByRole('heading', { name: 'Remove this site' }).scrollIntoViewIfNeeded()
    await page.screenshot({ path: path.join(ARTIFACTS, 'site-settings-remove.png'), fullPage: true })

    await remove.click()
    await page.waitForURL(`${origin}/`)
    await expect.poll(async () => (await page.locator('.site-card strong').allTextContents()).sort()).toEqual([KEPT, MOVED].sort())
    expect((await sites()).map((s) => s.domain)).not.toContain(GONE)
    const left = await rows<{ site: string; c: number }>(app, 'SELECT site, count() AS c FROM events GROUP BY site ORDER BY site')
    expect(left).toEqual([{ site: KEPT, c: 5 }])
    expect((page as Page & { problems: string[] }).problems).toEqual([])
  })
})
