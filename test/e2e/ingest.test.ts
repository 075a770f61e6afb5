import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, DOC_IPS, UA, beacon, flush, rows, settle, testApp } from '../helpers/app.ts'
import { utcDay } from '../helpers/fixtures.ts'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp()
})
afterAll(async () => {
  await app?.close()
})

describe('POST /api/event', () => {
  it('stores an enriched, scrubbed pageview and counts it', async () => {
    // the days the beacons may land on: today, and the next when the test runs across midnight UTC
    const sentOn = utcDay()
    const uas = [UA.chromeWindows, UA.safariMac, UA.firefoxLinux, UA.iphone, UA.android]
    for (let i = 0; i < 5; i++) {
      const res = await beacon(app, {
        name: 'pageview',
        url: 'https://www.example.com/pricing?utm_source=newsletter&utm_medium=email&email=jane@example.com&session=abc#frag',
        domain: 'example.com',
        referrer: 'https://www.google.com/search?q=secret',
        screen_width: 1280,
      }, { ip: DOC_IPS[i], ua: uas[i] })
      expect(res.statusCode).toBe(202)
    }
    await flush(app)
    const stored = await rows<Record<string, string>>(app, "SELECT * EXCEPT (ts, visitor_id) FROM events WHERE site = 'example.com' ORDER BY browser")
    expect(stored).toHaveLength(5)
    const chrome = stored.find((r) => r.browser === 'Chrome' && r.device === 'Desktop')!
    expect(chrome).toMatchObject({
      hostname: 'example.com', pathname: '/pricing', query: '', referrer_host: 'google.com', referrer_path: '/search',
      source: 'Google', channel: 'email', utm_source: 'newsletter', utm_medium: 'email', os: 'Windows', screen: 'Laptop',
    })
    expect(stored.map((r) => r.device).sort()).toEqual(['Desktop', 'Desktop', 'Desktop', 'Mobile', 'Mobile'])
    const everything = JSON.stringify(stored)
    expect(everything).not.toMatch(/jane|secret|abc|frag|192\.0\.2|Mozilla/)
    await settle(app)

    const res = await app.inject({ url: `/api/v1/stats/aggregate?site=example.com&period=custom&from=${sentOn}&to=${utcDay()}&metrics=visitors,pageviews,events`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(res.statusCode).toBe(200)
    expect(res.json().results.visitors.value).toBe(5)
    expect(res.json().results.pageviews.value).toBe(5)
  })

  it('answers 400 with a reason for malformed input and keeps serving', async () => {
    const bad = await beacon(app, '{"name":', { contentType: 'application/json' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toEqual({ error: 'body is not valid JSON' })
    const noUrl = await beacon(app, { name: 'pageview', domain: 'example.com' })
    expect(noUrl.statusCode).toBe(400)
    expect(noUrl.json().error).toMatch(/url/)
    const big = await beacon(app, { name: 'pageview', url: 'https://example.com/', props: { x: 'a'.repeat(10_000) } })
    expect(big.statusCode).toBe(413)
    expect(big.json().error).toMatch(/larger than/)
    const ok = await beacon(app, { n: 'pageview', u: 'https://example.com/short-keys', d: 'example.com' })
    expect(ok.statusCode).toBe(202)
    // an event named like an Object method is just a custom event
    const custom = await beacon(app, { n: 'constructor', u: 'https://example.com/', d: 'example.com' })
    expect(custom.statusCode).toBe(202)
    await flush(app)
    expect(await rows(app, "SELECT name FROM events WHERE name = 'constructor'")).toEqual([{ name: 'constructor' }])
  })

  it('drops unknown sites and bots with 202', async () => {
    // answered like a stored beacon (test/collector/routes/ingest-answer.test.ts), and not stored
    const unknown = await beacon(app, { name: 'pageview', url: 'https://other.example.net/', domain: 'other.example.net' })
    expect(unknown.statusCode).toBe(202)
    const bot = await beacon(app, { name: 'pageview', url: 'https://example.com/crawled', domain: 'example.com' }, { ua: UA.googlebot })
    expect(bot.statusCode).toBe(202)
    // a page on someone else's host does not count for the site; its subdomains and localhost do
    const foreign = await beacon(app, { name: 'pageview', url: 'https://elsewhere.example.net/', domain: 'example.com' })
    expect(foreign.statusCode).toBe(202)
    for (const url of ['https://shop.example.com/', 'https://www.example.com/', 'http://localhost:3000/', 'http://127.0.0.1/']) {
      const ok = await beacon(app, { name: 'pageview', url, domain: 'example.com' })
      expect(ok.statusCode, url).toBe(202)
    }
    await flush(app)
    expect(await rows(app, "SELECT site FROM events WHERE site = 'other.example.net' OR pathname = '/crawled'")).toEqual([])
    const hosts = await rows<{ hostname: string }>(app, "SELECT DISTINCT hostname FROM events WHERE site = 'example.com' ORDER BY hostname")
    expect(hosts.map((h) => h.hostname)).not.toContain('elsewhere.example.net')
    expect(hosts.map((h) => h.hostname)).toContain('shop.example.com')
    expect(hosts.map((h) => h.hostname)).not.toContain('127.0.0.1')
    expect(hosts.map((h) => h.hostname)).toContain('localhost')
  })

  it('answers the pixel with a GIF that is never cached', async () => {
    const res = await app.inject({ url: '/p.gif?d=example.com&u=/noscript', headers: { 'user-agent': UA.firefoxLinux, 'x-forwarded-for': DOC_IPS[3] } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('image/gif')
    expect(res.headers['cache-control']).toMatch(/no-store/)
    expect(res.rawPayload.subarray(0, 6).toString()).toBe('GIF89a')
    await flush(app)
    const [r] = await rows<{ c: number }>(app, "SELECT count() c FROM events WHERE pathname = '/noscript'")
    expect(r.c).toBe(1)
    // a malformed pixel still gets the image, with a status and a reason for the site owner
    const bad = await app.inject({ url: '/p.gif?d=example.com&u=relative-without-slash', headers: { 'user-agent': UA.firefoxLinux } })
    expect(bad.statusCode).toBe(400)
    expect(bad.headers['content-type']).toBe('image/gif')
    expect(bad.headers['x-analytics-error']).toMatch(/url/)
    // a dropped one is a plain 200: nothing to fix
    const dropped = await app.inject({ url: '/p.gif?d=unknown.example.net&u=/x', headers: { 'user-agent': UA.firefoxLinux } })
    expect(dropped.statusCode).toBe(200)
  })

  it('requires the admin token for stats', async () => {
    const res = await app.inject({ url: '/api/v1/stats/aggregate?site=example.com' })
    expect(res.statusCode).toBe(401)
    const wrong = await app.inject({ url: '/api/v1/stats/aggregate?site=example.com', headers: { authorization: 'Bearer nope' } })
    expect(wrong.statusCode).toBe(401)
  })
})
