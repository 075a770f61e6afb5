/**
 * The dashboards in a real browser (Debian's headless Chromium, driven by playwright-core)
 * against the real server on the embedded store, filled with synthetic events whose numbers
 * the test can predict: sign in, switch range, cards equal the API, filter by a click, see
 * (other) and withheld values as such, open a shared link in a fresh browser context,
 * realtime refresh. Prints the initial JavaScript size and the time to the first meaningful
 * render, and saves screenshots under test/artifacts/ for review.
 *
 * DASHBOARD_TIMING_EVENTS=1000000 adds that many generated events for a second site first, and
 * times the first render of that site's dashboard (not run by default: it takes a minute).
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIST } from '../../dashboards/build/build.ts'
import { ADMIN_TOKEN, settle, testApp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns as runs, closeAll, serveDashboards } from '../helpers/browser.ts'
import { insertEvents, utcDay } from '../helpers/fixtures.ts'

const SITE = 'dash.example.com'
/** The site of DASHBOARD_TIMING_EVENTS generated events, when asked for. */
const BIG = 'big.example.com'
const BIG_EVENTS = Number(process.env.DASHBOARD_TIMING_EVENTS ?? 0)
const DAY = 86_400_000
const today = Math.floor(Date.now() / DAY) * DAY // the site's time zone is UTC
const daysAgo = (n: number, h = 10, m = 0) => today - n * DAY + (h * 60 + m) * 60_000

interface Visitor { country: string; days: number; pages: string[]; browser: string; os: string; device: string; source?: string; channel?: string; extra?: { name: string; props: Record<string, string> } }

/**
 * Countries with at least k = 5 visitors each, and FR (3) + IT (2) that fold into one (other) row of 5.
 * Germans use two browsers, so that under a filter on Germany each browser leaves k visitors outside it.
 */
const PLAN: { country: string; n: number; days: number; pages: string[]; browser: string; os: string; device: string; source?: string; channel?: string }[] = [
  { country: 'DE', n: 6, days: 2, pages: ['/', '/pricing'], browser: 'Chrome', os: 'Windows', device: 'Desktop', source: 'Google', channel: 'search' },
  { country: 'DE', n: 6, days: 2, pages: ['/', '/pricing'], browser: 'Firefox', os: 'Windows', device: 'Desktop', source: 'Google', channel: 'search' },
  { country: 'US', n: 9, days: 3, pages: ['/', '/blog/launch', '/docs'], browser: 'Firefox', os: 'Linux', device: 'Desktop', source: 'Newsletter', channel: 'email' },
  { country: 'GB', n: 6, days: 1, pages: ['/'], browser: 'Safari', os: 'iOS', device: 'Mobile', source: 'Twitter', channel: 'social' },
  { country: 'BR', n: 5, days: 10, pages: ['/', '/pricing'], browser: 'Chrome', os: 'Android', device: 'Mobile' },
  { country: 'FR', n: 3, days: 2, pages: ['/blog/launch'], browser: 'Chrome', os: 'macOS', device: 'Desktop' },
  { country: 'IT', n: 2, days: 4, pages: ['/'], browser: 'Edge', os: 'Windows', device: 'Desktop' },
]

function syntheticEvents(): Record<string, unknown>[] {
  const visitors: Visitor[] = []
  for (const p of PLAN) for (let i = 0; i < p.n; i++) visitors.push({ ...p })
  // 5 German visitors sign up (a custom event with a prop), 5 Americans click an outbound link
  visitors.filter((v) => v.country === 'DE').slice(0, 5).forEach((v) => (v.extra = { name: 'Signup', props: { plan: 'pro' } }))
  visitors.filter((v) => v.country === 'US').slice(0, 5).forEach((v) => (v.extra = { name: 'Outbound Link: Click', props: { url: 'https://github.com/example/repo' } }))
  return visitors.flatMap((v, i) => {
    const base = { site: SITE, visitor_id: String(7000 + i), hostname: SITE, browser: v.browser, os: v.os, device: v.device, country: v.country, screen: v.device === 'Mobile' ? 'Mobile' : 'Desktop', props: {} }
    const start = daysAgo(v.days, 9 + (i % 8), i % 50)
    const views = v.pages.map((pathname, j) => ({
      ...base, ts: start + j * 45_000, name: 'pageview', pathname,
      ...(j === 0 && v.source ? { source: v.source, channel: v.channel, referrer_host: v.source === 'Google' ? 'google.com' : '' } : {}),
    }))
    const extra = v.extra ? [{ ...base, ts: start + v.pages.length * 45_000, name: v.extra.name, pathname: v.pages.at(-1), props: v.extra.props }] : []
    return [...views, ...extra]
  })
}

/** Visitors on the site right now (British), for the realtime view: a minute ago unless said. */
const nowEvents = (from: number, n: number, ts = Date.now() - 60_000) => Array.from({ length: n }, (_, i) => ({
  site: SITE, visitor_id: String(9000 + from + i), ts, name: 'pageview', hostname: SITE, pathname: i % 2 ? '/pricing' : '/', browser: 'Chrome', os: 'Windows', device: 'Desktop', country: 'GB', props: {},
}))

/** Many generated events (DASHBOARD_TIMING_EVENTS) spread over 30 days, for the render timing. */
async function insertMany(app: FastifyInstance, total: number) {
  const pages = ['/', '/pricing', '/blog/a', '/blog/b', '/docs', '/about', '/signup']
  const countries = ['DE', 'US', 'GB', 'FR', 'BR', 'IN', 'JP', 'CA', 'NL', 'SE']
  const browsers = ['Chrome', 'Firefox', 'Safari', 'Edge', 'Mobile Safari']
  for (let done = 0; done < total; done += 100_000) {
    const batch = Array.from({ length: Math.min(100_000, total - done) }, (_, j) => {
      const i = done + j
      const visitor = 100_000 + Math.floor(i / 3)
      return {
        site: BIG, visitor_id: String(visitor), ts: today - (visitor % 30) * DAY + ((visitor * 7919) % 80_000_000) + (i % 3) * 30_000,
        name: 'pageview', hostname: BIG, pathname: pages[(visitor + i) % pages.length], browser: browsers[visitor % browsers.length],
        os: 'Windows', device: 'Desktop', country: countries[visitor % countries.length], props: {},
      }
    })
    await insertEvents(app.runtime.store.client, batch)
  }
}

/** Bytes of the JavaScript index.html loads before anything else (entry + modulepreloads), raw and gzipped. */
function initialJs(): { files: string[]; raw: number; gzip: number } {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8')
  const files = [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="\/([^"]+\.js)"/g)].map((m) => m[1])
  const bodies = files.map((f) => fs.readFileSync(path.join(DIST, f)))
  return { files, raw: bodies.reduce((s, b) => s + b.length, 0), gzip: bodies.reduce((s, b) => s + zlib.gzipSync(b, { level: 9 }).length, 0) }
}

let app: FastifyInstance
let browser: Browser
let origin = ''
const contexts: BrowserContext[] = []

async function api<T = Record<string, unknown>>(endpoint: string, query: string, token = ADMIN_TOKEN, password?: string): Promise<T> {
  const headers = { authorization: `Bearer ${token}`, ...(password ? { 'x-share-password': password } : {}) }
  const res = await app.inject({ url: `/api/v1/stats/${endpoint}?site=${SITE}&${query}`, headers })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

async function newPage(opts: { token?: string; width?: number; height?: number } = {}): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 } })
  contexts.push(ctx)
  if (opts.token) await ctx.addInitScript((t) => sessionStorage.setItem('analytics.token', t), opts.token)
  const page = await ctx.newPage()
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('console', (m) => m.type() === 'error' && !/status of 40[134]/.test(m.text()) && problems.push(m.text()))
  ;(page as Page & { problems: string[] }).problems = problems
  return page
}

const cardValue = (page: Page, metric: string) => page.locator(`[data-metric=${metric}] .card-value`).getAttribute('data-value')

const METRICS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration']

/** What the metric cards show: each number, or "withheld". */
async function cards(page: Page): Promise<Record<string, string>> {
  await page.waitForFunction(() => document.querySelectorAll('[data-metric] .card-value[data-value]').length === 6)
  const out: Record<string, string> = {}
  for (const m of METRICS) out[m] = (await cardValue(page, m))!
  return out
}

/** The API's aggregate as the cards show it: the number, or "withheld". */
async function apiCards(query: string, token?: string, password?: string): Promise<Record<string, string>> {
  const agg = await api<{ results: Record<string, { value: number | null }> }>('aggregate', `${query}&metrics=${METRICS.join(',')}`, token, password)
  return Object.fromEntries(METRICS.map((m) => [m, agg.results[m].value === null ? 'withheld' : String(agg.results[m].value)]))
}

/** The cards come to equal the API's answer (the previous answer stays on screen while the next one loads). */
async function cardsEqualApi(page: Page, query: string, token?: string, password?: string): Promise<Record<string, string>> {
  const expected = await apiCards(query, token, password)
  await expect.poll(() => cards(page), { timeout: 10_000 }).toEqual(expected)
  return expected
}

describe.skipIf(!runs)('dashboards in a real browser', () => {
  beforeAll(async () => {
    app = await testApp({}, BIG_EVENTS ? [SITE, BIG] : [SITE])
    // the six on the site now, on `today` whatever the clock says: in its first minute, a minute
    // ago is yesterday (the British visitors' day); past its end, the setup ran across midnight
    const onToday = Math.min(Math.max(Date.now() - 60_000, today), today + DAY - 1)
    await insertEvents(app.runtime.store.client, [...syntheticEvents(), ...nowEvents(0, 6, onToday)])
    if (BIG_EVENTS > 0) await insertMany(app, BIG_EVENTS)
    await settle(app)
    ;({ origin, browser } = await serveDashboards(app))
  }, 240_000)

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {})
    await closeAll(browser, app)
  })

  it('keeps the initial JavaScript under 150 KB gzipped', () => {
    const js = initialJs()
    console.log(`[dashboards] initial JavaScript: ${js.files.join(', ')}: ${(js.raw / 1024).toFixed(1)} KB raw, ${(js.gzip / 1024).toFixed(1)} KB gzipped`)
    expect(js.files.length).toBeGreaterThan(0)
    expect(js.gzip).toBeLessThan(150 * 1024)
  })

  it('serves the app at client routes, and never in place of a server route', async () => {
    for (const p of ['/', `/sites/${SITE}`, '/share/shr_x_y']) {
      const res = await fetch(origin + p)
      expect(res.status, p).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/text\/html/)
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    }
    expect((await fetch(`${origin}/sites/x`)).headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect((await fetch(`${origin}/share/shr_x_y`)).headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect((await fetch(`${origin}/share/shr_x_y?embed=1`)).headers.get('content-security-policy')).toContain('frame-ancestors *')
    const unknownApi = await fetch(`${origin}/api/v1/nothing-here`)
    expect(unknownApi.status).toBe(404)
    expect(await unknownApi.json()).toEqual({ error: 'not found' })
    expect((await fetch(`${origin}/privacy/unknown`)).status).toBe(404)
    expect((await fetch(`${origin}/healthz`)).headers.get('content-type')).toMatch(/json/)
    expect((await fetch(`${origin}/t.js`)).headers.get('content-type')).toMatch(/javascript/)
  })

  it('signs in with the admin token, picks the site, switches range: the cards equal the API', async () => {
    const page = await newPage()
    await page.goto(`${origin}/`)
    await page.getByLabel('Admin token').fill('wrong-token')
    await page.getByRole('button', { name: 'Sign in with the admin token' }).click()
    await expect.poll(() => page.locator('#token-error').textContent()).toMatch(/not accepted/)
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN)
    await page.getByRole('button', { name: 'Sign in with the admin token' }).click()
    await page.getByRole('link', { name: new RegExp(SITE) }).click()
    await page.waitForURL(`**/sites/${SITE}`)
    // the token is in this tab's sessionStorage only: no cookie, nothing in localStorage
    expect(await page.context().cookies()).toEqual([])
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(ADMIN_TOKEN)

    await cardsEqualApi(page, 'period=30d')
    await page.getByLabel('Date range').selectOption('7d')
    await page.waitForURL(/range=7d/)
    // the week: every planned visitor but the Brazilians (10 days ago), and the six on the site right now
    expect((await cardsEqualApi(page, 'period=7d')).visitors).toBe(String(12 + 9 + 6 + 3 + 2 + 6))

    // yesterday is a custom day in the site's time zone: only the British visitors (after a
    // midnight since the setup, yesterday is the day of the six British on the site "now")
    await page.getByLabel('Date range').selectOption('yesterday')
    await page.waitForURL(/range=yesterday/)
    // the day the page asked for (its answer's period), the day before today as the page saw it
    const shownDay = async () => /^Yesterday · (\d{4}-\d{2}-\d{2})(?: ·|$)/.exec(((await page.locator('[data-periods]').textContent()) ?? '').trim())?.[1] ?? ''
    await expect.poll(shownDay, { timeout: 10_000 }).toMatch(new RegExp(`^(${utcDay(today - DAY)}|${utcDay(today)})$`))
    const yesterday = await shownDay()
    expect((await cardsEqualApi(page, `period=custom&from=${yesterday}&to=${yesterday}`)).visitors).toBe('6')
    expect((page as Page & { problems: string[] }).problems).toEqual([])
  })

  it('signs in with a user name and password, and signs out: the session ends on the server', async () => {
    const made = await app.inject({ method: 'POST', url: '/api/v1/users', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'mia', password: 'lemon tree 42' } })
    expect(made.statusCode, made.body).toBe(201)
    const page = await newPage()
    await page.goto(`${origin}/`)
    expect(await page.getByLabel('User name').getAttribute('autocomplete')).toBe('username')
    expect(await page.getByLabel('Password', { exact: true }).getAttribute('autocomplete')).toBe('current-password')
    await page.getByLabel('User name').fill('mia')
    await page.getByLabel('Password', { exact: true }).fill('not her password')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await expect.poll(() => page.locator('#user-error').textContent()).toMatch(/Wrong user name or password/)
    await page.screenshot({ path: path.join(ARTIFACTS, 'sign-in.png') })
    await page.getByLabel('Password', { exact: true }).fill('lemon tree 42')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByRole('link', { name: new RegExp(SITE) }).click()
    await page.waitForURL(`**/sites/${SITE}`)
    await cardsEqualApi(page, 'period=30d')
    const token = (await page.evaluate(() => sessionStorage.getItem('analytics.token')))!
    expect(token).toMatch(/^ses_/)
    expect(await page.context().cookies()).toEqual([])
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('User name').waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('analytics.token'))).toBeNull()
    await expect.poll(async () => (await app.inject({ url: '/api/v1/sites', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401)
    expect((page as Page & { problems: string[] }).problems).toEqual([])
  })

  it('filters the whole view by a click on a country; the filter lives in the URL', async () => {
    const page = await newPage({ token: ADMIN_TOKEN })
    await page.goto(`${origin}/sites/${SITE}?range=7d`)
    await page.getByRole('tab', { name: 'Countries' }).click()
    const germany = page.getByRole('link', { name: 'Filter by country: Germany' })
    await germany.click()
    await page.waitForURL(/filters=country==DE/)
    expect((await cardsEqualApi(page, 'period=7d&filters=country==DE')).visitors).toBe('12')
    await expect.poll(() => page.getByRole('list', { name: 'Filters' }).textContent()).toMatch(/Country\s*is\s*Germany/)
    // the other panels follow the filter: only German visitors' browsers
    await page.getByRole('tab', { name: 'Browser' }).click()
    await expect.poll(() => page.locator('[data-panel=technology] tbody tr').allTextContents()).toEqual([expect.stringMatching(/^Chrome\s*6$/), expect.stringMatching(/^Firefox\s*6$/)])
    // a bookmark of the URL opens the same view
    const again = await newPage({ token: ADMIN_TOKEN })
    await again.goto(page.url())
    await cardsEqualApi(again, 'period=7d&filters=country==DE')
    // removing the chip removes the filter
    await page.getByRole('link', { name: /Remove filter: Country is Germany/ }).click()
    await page.waitForURL((u) => !u.search.includes('filters'))
    await cardsEqualApi(page, 'period=7d')
  })

  it('shows (other) and withheld numbers as such, never as zero', async () => {
    const page = await newPage({ token: ADMIN_TOKEN })
    await page.goto(`${origin}/sites/${SITE}?range=7d`)
    await page.getByRole('tab', { name: 'Countries' }).click()
    const other = page.locator('[data-panel=locations] tr[data-value="(other)"]')
    // FR (3) and IT (2) counted again as one group: 5 distinct visitors, not how many groups
    await expect.poll(() => other.textContent()).toMatch(/\(other\)\s*small groups combined\s*5$/)
    const countries = await page.locator('[data-panel=locations] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-value')))
    expect(countries).toEqual(['DE', 'GB', 'US', '(other)'])
    const apiRows = (await api<{ results: { country: string }[] }>('breakdown', 'period=7d&property=country')).results.map((r) => r.country)
    expect(countries).toEqual(apiRows)

    // France alone is 3 visitors: under k = 5 every number is withheld, with the reason
    await page.goto(`${origin}/sites/${SITE}?range=7d&filters=country==FR`)
    const shown = await cardsEqualApi(page, 'period=7d&filters=country==FR')
    expect(Object.values(shown).every((v) => v === 'withheld')).toBe(true)
    await expect.poll(() => page.locator('[data-metric=visitors]').textContent()).toMatch(/Withheld\s*fewer than 5 visitors/)
    await expect.poll(() => page.locator('[data-panel=pages] [data-withheld]').textContent()).toMatch(/fewer than 5 visitors/)
    expect(await page.locator('.cards').textContent()).not.toMatch(/\b0\b/)
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-withheld.png') })
  })

  it('opens a shared link read-only in a fresh browser, with its password when it has one', async () => {
    const open = await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'partner' })
    const page = await newPage()
    // the token rides in the fragment: no request the browser makes carries it in its URL
    const requested: string[] = []
    page.on('request', (r) => requested.push(r.url()))
    await page.goto(`${origin}/share?range=7d#${open.token}`)
    await expect.poll(() => page.locator('.shared-badge').textContent()).toMatch(/read-only/)
    await cardsEqualApi(page, 'period=7d', open.token)
    expect(await page.getByRole('link', { name: 'Settings' }).count()).toBe(0)
    expect(await page.locator('.export-menu').count()).toBe(0)
    expect(await page.evaluate(() => sessionStorage.getItem('analytics.token'))).toBeNull()
    // filters work in a shared view too, and stay on the shared link
    await page.getByRole('tab', { name: 'Countries' }).click()
    await page.getByRole('link', { name: 'Filter by country: United States' }).click()
    await page.waitForURL(new RegExp(`/share\\?range=7d&filters=country==US#${open.token}$`))
    // a shared link's numbers carry consistent noise: equal to what the API answers the link, not the exact 9
    await cardsEqualApi(page, 'period=7d&filters=country==US', open.token)
    expect(requested.length).toBeGreaterThan(5)
    // the secret is everything after the public id, `_` included (base64url): its piece before a first `_` may be empty
    expect(requested.filter((u) => u.includes(open.token.split('_').slice(2).join('_')))).toEqual([])

    // embed mode: no header, for an iframe; a link made before the token moved to the fragment still opens
    await page.goto(`${origin}/share/${open.token}?range=7d&embed=1`)
    expect(page.url()).toBe(`${origin}/share?range=7d&embed=1#${open.token}`)
    await cards(page)
    expect(await page.locator('.topbar').count()).toBe(0)

    const locked = await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'locked', password: 'correct horse battery' })
    const guarded = await newPage()
    await guarded.goto(`${origin}/share#${locked.token}`)
    await guarded.getByLabel('Password').fill('not the password')
    await guarded.getByRole('button', { name: 'Open dashboard' }).click()
    await expect.poll(() => guarded.getByRole('alert').textContent()).toMatch(/not right/)
    await guarded.getByLabel('Password').fill('correct horse battery')
    await guarded.getByRole('button', { name: 'Open dashboard' }).click()
    await cardsEqualApi(guarded, 'period=30d', locked.token, 'correct horse battery')

    const revoked = await newPage()
    await app.tokens.revoke(open.info.id)
    await revoked.goto(`${origin}/share/${open.token}`)
    await expect.poll(() => revoked.locator('h1').textContent()).toMatch(/does not open a dashboard/)
  })

  it('refreshes the realtime view every 10 seconds', async () => {
    // visitors of the last five minutes, sent now: those of the setup may have left the window on a slow machine
    await insertEvents(app.runtime.store.client, nowEvents(200, 6))
    const now = async () => String((await api<{ visitors: number }>('realtime', '')).visitors)
    const before = await now()
    const page = await newPage({ token: ADMIN_TOKEN })
    await page.clock.install()
    await page.goto(`${origin}/sites/${SITE}/realtime`)
    // a loaded machine answers slower than expect.poll's default second
    await expect.poll(() => page.locator('[data-realtime-visitors]').textContent(), { timeout: 15_000 }).toBe(before)
    await expect.poll(() => page.locator('[aria-labelledby=current-pages] tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(0)
    await insertEvents(app.runtime.store.client, nowEvents(100, 3))
    await page.clock.fastForward(10_500)
    await expect.poll(() => page.locator('[data-realtime-visitors]').textContent(), { timeout: 15_000 }).toBe(String(Number(before) + 3))
  })

  it('times the first meaningful render and saves screenshots at desktop and phone width', async () => {
    const page = await newPage({ token: ADMIN_TOKEN })
    await page.goto(`${origin}/sites/${BIG_EVENTS ? BIG : SITE}?range=30d`)
    const ms = await page.waitForFunction(() => {
      const v = document.querySelector('[data-metric=visitors] .card-value')?.getAttribute('data-value')
      return v ? performance.now() : null
    }).then((h) => h.jsonValue() as Promise<number>)
    const steps = await page.evaluate(() => {
      const at = (re: RegExp) => performance.getEntriesByType('resource').find((e) => re.test(e.name)) as PerformanceResourceTiming | undefined
      const span = (e?: PerformanceResourceTiming) => (e ? `${Math.round(e.startTime)}–${Math.round(e.responseEnd)} ms` : '?')
      return `script ${span(at(/\/assets\/index-.*\.js/))}, sites ${span(at(/\/api\/v1\/sites/))}, aggregate ${span(at(/\/stats\/aggregate/))}`
    })
    console.log(`[dashboards] first meaningful render (visitor count on screen, from navigation start): ${Math.round(ms)} ms on a store of ${BIG_EVENTS ? `${BIG_EVENTS} generated events (30 days)` : 'a few hundred synthetic events'} (${steps})`)
    await page.locator('.world-map svg').waitFor()
    await page.waitForFunction(() => !document.querySelector('[aria-busy=true]'))
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true })

    const phone = await newPage({ token: ADMIN_TOKEN, width: 390, height: 844 })
    await phone.goto(`${origin}/sites/${SITE}?range=7d`)
    await cards(phone)
    await phone.waitForFunction(() => !document.querySelector('[aria-busy=true]'))
    await phone.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true })
    // nothing wider than the phone's screen
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    // every form control has a name a screen reader can say
    const unnamed = await phone.locator('input, select, button').evaluateAll((els) =>
      els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label') && !e.textContent?.trim()).map((e) => e.outerHTML.slice(0, 80)))
    expect(unnamed).toEqual([])
  })
})
