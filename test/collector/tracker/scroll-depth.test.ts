import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { buildTracker } from '../../../collector/routes/tracker.ts'

/**
 * The tracker's scroll depth and revenue (issue 14), on the very bytes /t.js serves, run in a
 * scripted page: a document of a given height, a viewport, a clock, and the events a browser
 * fires. What it sends is what the tracker hands to sendBeacon and fetch. (The same in Chromium,
 * through the collector into the store: test/browser/scroll-depth.browser.test.ts.)
 */
const { js } = await buildTracker()

type Listener = (e: { persisted?: boolean }) => void

function page(height: number, viewport = 800) {
  const listeners = new Map<string, Listener[]>()
  const on = (type: string, f: Listener) => listeners.set(type, [...(listeners.get(type) ?? []), f])
  const fire = (type: string, e = {}) => (listeners.get(type) ?? []).forEach((f) => f(e))
  const sent: Record<string, unknown>[] = []
  let clock = Date.UTC(2026, 10, 29, 12)
  const location = { href: 'https://www.example.com/article', pathname: '/article', hash: '', hostname: 'www.example.com', protocol: 'https:' }
  const document = {
    hidden: false,
    referrer: '',
    documentElement: { scrollHeight: height },
    currentScript: { src: 'https://collector.example.net/t.js', getAttribute: (a: string) => (a === 'data-domain' ? 'example.com' : null), hasAttribute: () => false },
    addEventListener: on,
  }
  class PageDate extends Date {
    static now() {
      return clock
    }
  }
  const window: Record<string, unknown> = {
    scrollY: 0,
    innerHeight: viewport,
    innerWidth: 1280,
    addEventListener: on,
    history: {
      pushState(_s: unknown, _t: string, url: string) {
        location.pathname = url
        location.href = `https://www.example.com${url}`
      },
      replaceState() {},
    },
  }
  Object.assign(window, {
    window,
    document,
    location,
    navigator: { sendBeacon: (_url: string, body: string) => sent.push(JSON.parse(body)) > 0 },
    localStorage: { getItem: () => null, setItem() {}, removeItem() {} },
    fetch: (_url: string, init: { body: string }) => {
      sent.push(JSON.parse(init.body))
      return Promise.resolve({ json: () => ({ ok: true }) })
    },
    Date: PageDate,
    URL,
    JSON,
    Math,
  })
  vm.runInNewContext(js.toString(), window)
  return {
    sent,
    window,
    /** Scrolls so that the viewport's top is at `y`. */
    scrollTo(y: number) {
      window.scrollY = y
      fire('scroll')
    },
    wait(ms: number) {
      clock += ms
    },
    resize(newHeight: number) {
      document.documentElement.scrollHeight = newHeight
    },
    hide() {
      document.hidden = true
      fire('visibilitychange')
    },
    show() {
      document.hidden = false
      fire('visibilitychange')
    },
    engagements: () => sent.filter((b) => b.n === 'engagement'),
  }
}

describe('scroll depth in the engagement ping', () => {
  it('is the deepest point seen, in percent of the page, kept when scrolling back up', () => {
    const p = page(5000)
    p.scrollTo(2000) // the viewport's bottom at 2800 of 5000
    p.scrollTo(0)
    p.wait(1500)
    p.hide()
    expect(p.engagements()).toEqual([expect.objectContaining({ n: 'engagement', u: 'https://www.example.com/article', e: 1500, sd: 56 })])
    expect(p.sent[0]).toMatchObject({ n: 'pageview' })
    expect(p.sent[0]).not.toHaveProperty('sd')
  })

  it('each ping carries the deepest so far; a page that grew is measured at its height then', () => {
    const p = page(5000)
    p.scrollTo(1200)
    p.wait(1200)
    p.hide() // 2000 of 5000
    p.show()
    p.scrollTo(4200) // the bottom: 5000 of 5000
    p.resize(10_000) // more content loaded below
    p.wait(1200)
    p.hide()
    expect(p.engagements().map((e) => e.sd)).toEqual([40, 50])
  })

  it('a page shorter than the viewport is seen whole', () => {
    const p = page(600)
    p.wait(1000)
    p.hide()
    expect(p.engagements()[0].sd).toBe(100)
  })

  it('starts again with each page of a single-page app', () => {
    const p = page(4000)
    p.scrollTo(3200)
    p.wait(2000)
    ;(p.window.history as { pushState: (s: unknown, t: string, u: string) => void }).pushState({}, '', '/next')
    p.scrollTo(0)
    p.wait(2000)
    p.hide()
    expect(p.engagements().map((e) => [e.u, e.sd])).toEqual([['https://www.example.com/article', 100], ['https://www.example.com/next', 20]])
  })
})

describe('revenue of a custom event', () => {
  it('goes out as Plausible\'s `$`, as given', () => {
    const p = page(1000)
    ;(p.window.analytics as (n: string, o: object) => void)('Purchase', { revenue: { amount: 10.5, currency: 'EUR' }, props: { plan: 'pro' } })
    expect(p.sent.at(-1)).toEqual({ n: 'Purchase', u: 'https://www.example.com/article', d: 'example.com', r: '', w: 1280, p: { plan: 'pro' }, $: { amount: 10.5, currency: 'EUR' } })
  })
})
