/**
 * The tracker in a real browser (Debian's headless Chromium, driven by playwright-core)
 * against the real collector on the embedded store: what the page does ends up as rows.
 *
 * Test pages come from a tiny HTTP server on 127.0.0.1; Chromium resolves the
 * documentation names www.example.com, docs.example.org and collector.example.net to it,
 * so the pages have a real, non-local host name. The collector is loaded from
 * http://127.0.0.1:<port> (cross-origin, as on a real site).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UA, flush, rows, testApp } from '../helpers/app.ts'
import { browserRuns as runs, closeAll, launchChromium, listenLocally } from '../helpers/browser.ts'

interface TrackerWindow {
  analytics: ((name: string, opts?: { props?: Record<string, string>; callback?: () => void }) => void) & { q?: unknown[] }
  queuedBeforeLoad?: boolean
}

interface EventRow {
  name: string
  hostname: string
  pathname: string
  query: string
  engagement_ms: number
  props: Record<string, string>
  browser: string
  os: string
  screen: string
  source: string
}

let app: FastifyInstance
let pageServer: http.Server
let browser: Browser
let collector = '' // http://127.0.0.1:<port>
let site = '' // http://www.example.com:<port>
let pagesPort = 0
const pages = new Map<string, string>()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const QUEUE = '<script>window.analytics=window.analytics||function(){(window.analytics.q=window.analytics.q||[]).push(arguments)}</script>'

function tracker(attrs = ''): string {
  return `<script defer data-domain="example.com" ${attrs} src="${collector}/t.js"></script>`
}

function html(head: string, body = ''): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Test page</title>${head}</head><body><h1>Test page</h1>${body}</body></html>`
}

/** Events of one name on one path, once `n` of them are stored (or 10 s have passed). */
async function events(name: string, pathname: string, n = 1): Promise<EventRow[]> {
  const end = Date.now() + 10_000
  for (;;) {
    await flush(app)
    const found = await rows<EventRow>(
      app,
      `SELECT name, hostname, pathname, query, engagement_ms, props, browser, os, screen, source
         FROM events WHERE site = 'example.com' AND name = {name:String} AND pathname = {pathname:String} ORDER BY ts`,
      { name, pathname },
    )
    if (found.length >= n || Date.now() > end) return found
    await sleep(100)
  }
}

async function countOn(pathname: string): Promise<number> {
  await flush(app)
  const [r] = await rows<{ c: number }>(app, 'SELECT count() c FROM events WHERE pathname = {pathname:String}', { pathname })
  return Number(r.c)
}

function newContext(): Promise<BrowserContext> {
  // A normal desktop Chrome: the collector drops "HeadlessChrome" as a bot.
  return browser.newContext({ userAgent: UA.chromeWindows, viewport: { width: 1280, height: 720 } })
}

/** Every beacon request the page makes, as the browser reports it. */
function recordBeacons(page: Page): string[] {
  const sent: string[] = []
  page.on('request', (req) => {
    if (req.url().includes('/api/event')) sent.push(req.postData() ?? '')
  })
  return sent
}

describe.skipIf(!runs)('tracker in a real browser', () => {
  beforeAll(async () => {
    app = await testApp()
    collector = await listenLocally(app)

    pageServer = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      // A file download answers 204: the browser stays on the page, as after a real download.
      if (path.startsWith('/files/')) return void res.writeHead(204).end()
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(pages.get(path) ?? html(''))
    })
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve))
    pagesPort = (pageServer.address() as AddressInfo).port
    site = `http://www.example.com:${pagesPort}`

    const links = `
      <button id="cta" data-analytics-event="Signup CTA" data-analytics-prop-plan="pro" data-analytics-prop-position="hero"><span>Start now</span></button>
      <a id="report" href="/files/report.pdf?v=2">Annual report</a>
      <a id="sheet" href="/files/prices.csv">Price list</a>
      <a id="docs" href="http://docs.example.org:${pagesPort}/guide?ref=shop#install">Documentation</a>
      <p id="text">Plain text</p>`
    pages.set('/shop/', html(`${QUEUE}<script>window.analytics('Signup', {props: {plan: 'pro'}}); window.queuedBeforeLoad = window.analytics.q.length === 1</script>${tracker()}`, links))
    pages.set('/links', html(tracker(), links))
    pages.set('/article', html(tracker()))
    pages.set('/quick', html(tracker()))
    pages.set('/after-quick', html(tracker()))
    pages.set('/app', html(tracker(`data-hash data-api="http://collector.example.net:${collector.split(':')[2]}/api/event"`)))
    pages.set('/private', html(`<script>localStorage.setItem('analytics_ignore', 'true')</script>${QUEUE}<script>window.analytics('Signup')</script>${tracker()}`, links))
    pages.set('/public', html(`<script>localStorage.removeItem('analytics_ignore')</script>${tracker()}`))
    pages.set('/local', html(tracker()))
    pages.set('/local-included', html(tracker('data-include-localhost')))

    // documentation names for the test pages, all on this machine
    browser = await launchChromium()
  })

  afterAll(() => closeAll(browser, pageServer, app))

  it('counts the pageview, replays queued events, follows SPA navigation and keeps nothing on the device', async () => {
    const ctx = await newContext()
    const page = await ctx.newPage()
    await page.goto(`${site}/shop/`, { referer: 'https://www.google.com/' })

    const [view] = await events('pageview', '/shop/')
    expect(view).toMatchObject({ hostname: 'example.com', browser: 'Chrome', os: 'Windows', screen: 'Laptop', source: 'Google' })

    // queued by the page before t.js ran, replayed on load, then the queue is gone
    expect(await page.evaluate(() => (window as unknown as TrackerWindow).queuedBeforeLoad)).toBe(true)
    const signup = await events('Signup', '/shop/')
    expect(signup).toHaveLength(1)
    expect(signup[0].props).toEqual({ plan: 'pro' })
    expect(await page.evaluate(() => (window as unknown as TrackerWindow).analytics.q)).toBeUndefined()

    // pushState: a new pageview with the new path, and the time on the old one
    await sleep(1200)
    await page.evaluate(() => history.pushState({}, '', '/shop/cart'))
    expect(await events('pageview', '/shop/cart')).toHaveLength(1)
    const [engaged] = await events('engagement', '/shop/')
    expect(engaged.engagement_ms).toBeGreaterThanOrEqual(1200)
    expect(engaged.engagement_ms).toBeLessThan(60_000)

    // same path again (replaceState), and a fragment change outside hash mode: no new pageview
    await page.evaluate(() => history.replaceState({}, '', '/shop/cart?step=2'))
    await page.evaluate(() => {
      location.hash = '#reviews'
    })
    await page.evaluate(() => (window as unknown as TrackerWindow).analytics('Cart Viewed'))
    expect(await events('Cart Viewed', '/shop/cart')).toHaveLength(1) // sent after both
    await sleep(300)
    expect(await events('pageview', '/shop/cart')).toHaveLength(1)
    expect(await countOn('/shop/cart#reviews')).toBe(0)

    // back button (popstate): /shop/ is viewed a second time
    await page.evaluate(() => history.go(-2))
    expect(await events('pageview', '/shop/', 2)).toHaveLength(2)

    // nothing stored in the browser, by the page's origin or the collector's
    expect(await page.evaluate(() => document.cookie)).toBe('')
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length])).toEqual([0, 0])
    expect(await ctx.cookies()).toEqual([])
    await ctx.close()
  })

  it('sends tagged clicks, file downloads and outbound links before the browser leaves', async () => {
    const ctx = await newContext()
    const page = await ctx.newPage()
    const sent = recordBeacons(page)
    await page.goto(`${site}/links`)
    await events('pageview', '/links')

    await page.click('#text') // an ordinary click sends nothing
    await page.click('#cta span') // delegated: the click lands on the button's child
    const [cta] = await events('Signup CTA', '/links')
    expect(cta.props).toEqual({ plan: 'pro', position: 'hero' })

    await page.click('#report')
    await page.click('#sheet', { button: 'middle' }) // auxclick
    const downloads = await events('File Download', '/links', 2)
    expect(downloads.map((d) => d.props.url).sort()).toEqual(['www.example.com/files/prices.csv', 'www.example.com/files/report.pdf'])

    await Promise.all([page.waitForURL(/docs\.example\.org/), page.click('#docs')])
    const outbound = await events('Outbound Link: Click', '/links')
    expect(outbound).toHaveLength(1)
    expect(outbound[0].props).toEqual({ url: 'docs.example.org/guide' })
    expect(JSON.stringify(outbound)).not.toMatch(/ref=shop|install/)

    // exactly these beacons left the page (the click on plain text sent none)
    const names = sent.map((b) => JSON.parse(b).n as string).filter((n) => n !== 'engagement')
    expect(names.sort()).toEqual(['File Download', 'File Download', 'Outbound Link: Click', 'Signup CTA', 'pageview'])
    await ctx.close()
  })

  it('sends the engaged time when the page is hidden or left, and nothing under one second', async () => {
    const ctx = await newContext()
    const page = await ctx.newPage()
    await page.goto(`${site}/article`)
    await events('pageview', '/article')
    await sleep(1500)
    await page.goto(`${site}/quick`) // pagehide on /article
    const [engaged] = await events('engagement', '/article')
    expect(engaged.engagement_ms).toBeGreaterThanOrEqual(1500)
    expect(engaged.engagement_ms).toBeLessThan(60_000)

    await page.goto('about:blank') // /quick left at once
    await page.goto(`${site}/after-quick`)
    expect(await events('pageview', '/after-quick')).toHaveLength(1)
    expect(await events('pageview', '/quick')).toHaveLength(1)
    expect(await events('engagement', '/quick', 0)).toHaveLength(0)
    await ctx.close()
  })

  it('keeps the fragment in hash mode and posts to data-api', async () => {
    const ctx = await newContext()
    const page = await ctx.newPage()
    const sent: string[] = []
    page.on('request', (req) => {
      if (req.url().includes('/api/event')) sent.push(req.url())
    })
    await page.goto(`${site}/app#/inbox`)
    expect(await events('pageview', '/app#/inbox')).toHaveLength(1)
    await page.evaluate(() => {
      location.hash = '#/settings'
    })
    expect(await events('pageview', '/app#/settings')).toHaveLength(1)
    expect(sent.length).toBeGreaterThanOrEqual(2)
    for (const url of sent) expect(url).toMatch(/^http:\/\/collector\.example\.net:\d+\/api\/event$/)
    await ctx.close()
  })

  it('sends nothing when the site set the opt-out for this visitor', async () => {
    const ctx = await newContext()
    const page = await ctx.newPage()
    const sent = recordBeacons(page)
    await page.goto(`${site}/private`)
    await page.click('#cta')
    await page.click('#report')
    const called = await page.evaluate(
      () => new Promise((resolve) => (window as unknown as TrackerWindow).analytics('Signup', { callback: () => resolve(true) })),
    )
    expect(called).toBe(true) // the page's own code still carries on

    // the same browser once the flag is removed: the beacon is seen and stored
    await page.goto(`${site}/public`)
    expect(await events('pageview', '/public')).toHaveLength(1)
    expect(sent).toHaveLength(1)
    expect(JSON.parse(sent[0])).toMatchObject({ n: 'pageview', d: 'example.com', u: `${site}/public` })
    expect(await countOn('/private')).toBe(0)
    await ctx.close()
  })

  it('ignores localhost unless data-include-localhost is set', async () => {
    const ctx = await newContext()
    const page = await ctx.newPage()
    const sent = recordBeacons(page)
    await page.goto(`http://localhost:${pagesPort}/local`)
    await page.goto(`http://127.0.0.1:${pagesPort}/local`)
    await page.goto(`http://localhost:${pagesPort}/local-included`)
    const [included] = await events('pageview', '/local-included')
    expect(included.hostname).toBe('localhost')
    expect(sent).toHaveLength(1)
    expect(await countOn('/local')).toBe(0)
    await ctx.close()
  })
})
