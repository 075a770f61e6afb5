/**
 * Issue 16, point 3, in a real browser (Debian's headless Chromium through playwright-core): a
 * Plausible export's zip is uploaded in the site's settings ("Import from Plausible"), then the
 * dashboard of a period touching its days shows the "Imported from Plausible" section beside the
 * collected statistics, with its note, totals and top pages; a malformed file's error names the
 * file and line. Screenshot to test/artifacts/.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, tempDataDir, testApp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns as runs, closeAll, serveDashboards } from '../helpers/browser.ts'
import { plausibleCsvs, zipOf, type WorldDay } from '../aggregator/imports/plausible-export.ts'

const SITE = 'example.com'
const WORLD: WorldDay[] = [
  { date: '2024-03-01', visitors: 40, pages: { '/': 25, '/pricing': 15 }, sources: { Google: 30, '': 10 }, countries: { DE: 30, FR: 10 }, devices: { Desktop: 30, Mobile: 10 } },
  { date: '2024-03-02', visitors: 60, pages: { '/': 40, '/pricing': 20 }, sources: { Google: 45, '': 15 }, countries: { DE: 40, FR: 20 }, devices: { Desktop: 40, Mobile: 20 } },
]

let app: FastifyInstance
let browser: Browser
let origin = ''
let files = ''

async function signedIn(): Promise<Page & { problems: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 1300 } })
  await ctx.addInitScript((t) => sessionStorage.setItem('analytics.token', t), ADMIN_TOKEN)
  const page = (await ctx.newPage()) as Page & { problems: string[] }
  page.problems = []
  page.on('pageerror', (e) => page.problems.push(String(e)))
  return page
}

describe.skipIf(!runs)('importing from Plausible in a real browser', () => {
  beforeAll(async () => {
    app = await testApp({}, [SITE])
    ;({ origin, browser } = await serveDashboards(app))
    files = tempDataDir('plausible-upload-')
    fs.writeFileSync(path.join(files, 'example_com_20240302.zip'), zipOf(plausibleCsvs(WORLD)))
    const bad = plausibleCsvs([{ date: '2024-05-01', visitors: 9 }], ['visitors'])
    const [[name, text]] = bad
    fs.writeFileSync(path.join(files, name), text.replace('2024-05-01,9', '2024-05-01,nine'))
  }, 240_000)

  afterAll(() => closeAll(browser, app))

  it('uploads the zip in settings and shows the imported section on the dashboard', async () => {
    const page = await signedIn()
    await page.goto(`${origin}/sites/${SITE}/settings`)
    await page.locator('#import-file').setInputFiles(path.join(files, 'example_com_20240302.zip'))
    await page.getByRole('button', { name: 'Import from Plausible' }).click()
    await expect.poll(() => page.locator('#import-status').textContent(), { timeout: 20_000 }).toMatch(/Imported: 2024-03-01 to 2024-03-02/)
    await expect.poll(() => page.locator('#imports tr').count()).toBe(1)

    await page.goto(`${origin}/sites/${SITE}?range=custom&from=2024-02-28&to=2024-03-05`)
    const section = page.locator('#imported')
    await expect.poll(() => section.locator('#imported-title').textContent(), { timeout: 20_000 }).toBe('Imported from Plausible')
    expect(await section.locator('[data-imported-note]').textContent()).toMatch(/2024-03-01 to 2024-03-02.*summed per day, not distinct/)
    await expect.poll(() => section.locator('[data-imported-metric="visitors"] .card-value').textContent()).toBe('100')
    await expect.poll(() => section.locator('[data-imported="page"] tr').allTextContents()).toEqual(['/65', '/pricing35'])
    await expect.poll(() => section.locator('[data-imported="country"] tr').count()).toBe(2)
    await section.scrollIntoViewIfNeeded()
    await page.screenshot({ path: path.join(ARTIFACTS, 'imported-from-plausible.png'), fullPage: true })

    // a period without imported days shows no such section
    await page.goto(`${origin}/sites/${SITE}?range=custom&from=2024-06-01&to=2024-06-07`)
    await expect.poll(() => page.locator('.cards').first().count(), { timeout: 20_000 }).toBe(1)
    await page.waitForTimeout(500)
    expect(await page.locator('#imported').count()).toBe(0)
    expect(page.problems).toEqual([])
  })

  it('names the file and line of a malformed CSV and imports nothing', async () => {
    const page = await signedIn()
    await page.goto(`${origin}/sites/${SITE}/settings`)
    await page.locator('#import-file').setInputFiles(path.join(files, 'imported_visitors_20240501_20240501.csv'))
    await page.getByRole('button', { name: 'Import from Plausible' }).click()
    await expect.poll(() => page.locator('#import-error').textContent(), { timeout: 20_000 }).toMatch(/imported_visitors_20240501_20240501.csv line 2, column "visitors": "nine" is not a whole number/)
    await expect.poll(() => page.locator('#imports tr').count()).toBe(1)
  })
})
