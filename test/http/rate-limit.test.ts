/**
 * Access and abuse (issue 6, point 4; issue 13, point 1): each client may send
 * INGEST_RATE_LIMIT beacons a minute and 10 wrong passwords a minute to one shared link, and all
 * clients together 30 wrong passwords in 10 minutes to one link; over that they get 429 with
 * Retry-After, and nothing over the limit is stored. A client is the first address no trusted
 * proxy wrote (TRUST_PROXY: a hop count or addresses, never `true`), an IPv6 client its /48.
 * Clients are counted in memory by a keyed hash of their address, never by the address, and no
 * address reaches a log line.
 */
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SHARE_LINK_PASSWORD_LIMIT, SHARE_PASSWORD_LIMIT } from '../../accounts/access.ts'
import Fastify from 'fastify'
import { fastifyTrustProxy, loadConfig, type Config } from '../../server/config.ts'
import { beaconLimiter } from '../../collector/routes/ingest.ts'
import { clientKey, clientPrefix, nameKey, RateLimiter, TokenBucket } from '../../http/rate-limit.ts'
import { beacon, captureLogs, flush, rows, testApp, UA } from '../helpers/app.ts'

const SITE = 'example.com'
/** Small, so that the test crosses it quickly; the default is 1200. */
const LIMIT = 20
const PASSWORD = 'correct horse battery'

let app: FastifyInstance
let logLines: string[] = []
/** Every address this file sends from: none may appear in a key or a log line. */
const used = new Set<string>()

function from(ip: string) {
  used.add(ip)
  return ip
}

const pageview = (path: string) => ({ n: 'pageview', u: `https://${SITE}${path}`, d: SITE })
const pixel = (ip: string, path: string) =>
  app.inject({ url: `/p.gif?d=${SITE}&u=${encodeURIComponent(path)}`, headers: { 'x-forwarded-for': from(ip), 'user-agent': UA.firefoxLinux } })

beforeAll(async () => {
  app = await testApp({ ingestRateLimit: LIMIT }, [SITE])
  logLines = captureLogs(app)
})
afterAll(async () => {
  await app?.close()
})

describe('INGEST_RATE_LIMIT', () => {
  it('is 1200 beacons a minute per client by default; 0 turns it off', () => {
    expect(loadConfig({}).ingestRateLimit).toBe(1200)
    expect(loadConfig({ INGEST_RATE_LIMIT: '0' }).ingestRateLimit).toBe(0)
    expect(loadConfig({ INGEST_RATE_LIMIT: '50' }).ingestRateLimit).toBe(50)
    expect(() => loadConfig({ INGEST_RATE_LIMIT: '-1' })).toThrow(/INGEST_RATE_LIMIT/)
  })
})

describe('TRUST_PROXY', () => {
  it('is a hop count or proxy addresses; `true` (the leftmost address, which the client writes) is refused', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY=true .*TRUST_PROXY=1/)
    expect(loadConfig({}).trustProxy).toBe(false)
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false)
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2)
    expect(loadConfig({ TRUST_PROXY: '10.0.0.5, 10.1.0.0/16,2001:db8::/32,loopback' }).trustProxy).toEqual(['10.0.0.5', '10.1.0.0/16', '2001:db8::/32', 'loopback'])
    for (const bad of ['10.0.0.0/33', 'proxy.example.com', '10.0.0.1/8/9', '2001:db8::/129', 'yes', '10.0.0.5,nginx']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY must be a hop count/)
    }
  })

  it('believes as many hops as it is told, or the proxies it is given, and no further', async () => {
    const ipWith = async (trust: Config['trustProxy'], xff: string) => {
      const probe = Fastify({ trustProxy: fastifyTrustProxy(trust) })
      probe.get('/ip', async (req) => ({ ip: req.ip }))
      const res = await probe.inject({ url: '/ip', headers: { 'x-forwarded-for': xff } })
      await probe.close()
      return (res.json() as { ip: string }).ip
    }
    // the client wrote 203.0.113.1 itself; the proxies appended what they saw (inject's socket is 127.0.0.1)
    expect(await ipWith(1, '203.0.113.1, 192.0.2.5')).toBe('192.0.2.5')
    expect(await ipWith(2, '203.0.113.1, 192.0.2.5, 198.51.100.9')).toBe('192.0.2.5')
    expect(await ipWith(['127.0.0.1'], '203.0.113.1, 192.0.2.5')).toBe('192.0.2.5')
    expect(await ipWith(['loopback', '198.51.100.0/24'], '203.0.113.1, 192.0.2.5, 198.51.100.9')).toBe('192.0.2.5')
    expect(await ipWith(false, '203.0.113.1')).toBe('127.0.0.1')
  })

  it('keys the limits on that address: a forged X-Forwarded-For in front of it changes nothing', async () => {
    // the test app trusts one proxy, which appends the address it saw to what the client sent
    const real = from('192.0.2.88')
    for (let i = 0; i < LIMIT; i++) {
      expect((await beacon(app, pageview(`/forged-${i}`), { ip: `${from(`198.51.100.${100 + i}`)}, ${real}` })).statusCode, `beacon ${i + 1}`).toBe(202)
    }
    expect((await beacon(app, pageview('/forged-over'), { ip: `${from('203.0.113.101')}, ${real}` })).statusCode).toBe(429)
  })
})

describe('beacons over the per-client limit', () => {
  const busy = '192.0.2.77'

  it('are accepted under the limit, then answered 429 with Retry-After and a reason, and not stored', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await beacon(app, pageview(`/under-limit-${i}`), { ip: from(busy) })
      expect(res.statusCode, `beacon ${i + 1}`).toBe(202)
    }
    const over = await beacon(app, pageview('/over-limit-post'), { ip: busy, headers: { origin: 'https://www.example.com' } })
    expect(over.statusCode).toBe(429)
    const wait = Number(over.headers['retry-after'])
    expect(wait).toBeGreaterThanOrEqual(1)
    expect(wait).toBeLessThanOrEqual(60)
    expect(over.json()).toEqual({ error: expect.stringMatching(/too many events/) })
    // the page that sent it may read the answer
    expect(over.headers['access-control-allow-origin']).toBe('*')

    // the pixel is still an image, with the status, Retry-After and the reason in a header
    const gif = await pixel(busy, '/over-limit-gif')
    expect(gif.statusCode).toBe(429)
    expect(gif.headers['content-type']).toBe('image/gif')
    expect(gif.rawPayload.subarray(0, 4).toString()).toBe('GIF8')
    expect(Number(gif.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(gif.headers['x-analytics-error']).toMatch(/too many events/)
    expect(gif.headers['cache-control']).toContain('no-store')

    // a malformed beacon over the limit is refused before it is read
    expect((await beacon(app, '{"n":', { ip: busy, contentType: 'application/json' })).statusCode).toBe(429)

    await flush(app)
    const [under] = await rows<{ c: number }>(app, "SELECT count() AS c FROM events WHERE startsWith(pathname, '/under-limit-')")
    const [stored] = await rows<{ c: number }>(app, "SELECT count() AS c FROM events WHERE startsWith(pathname, '/over-limit')")
    expect(Number(under.c)).toBe(LIMIT)
    expect(Number(stored.c)).toBe(0)
  })

  it('do not limit another client', async () => {
    expect((await beacon(app, pageview('/other-client'), { ip: from('198.51.100.77') })).statusCode).toBe(202)
    expect((await pixel('203.0.113.77', '/other-client-gif')).statusCode).toBe(200)
    expect((await beacon(app, pageview('/still-over'), { ip: busy })).statusCode).toBe(429)
  })

  it('count an IPv6 client by its /48: the 65,536 /64s of one subscriber are one client', async () => {
    const [a, b, other] = ['2001:db8:1:1::a', '2001:db8:1:ffff::b', '2001:db8:2::a'].map(from)
    for (let i = 0; i < LIMIT; i++) {
      expect((await beacon(app, pageview(`/v6-${i}`), { ip: i % 2 ? a : b })).statusCode).toBe(202)
    }
    expect((await beacon(app, pageview('/v6-over'), { ip: a })).statusCode).toBe(429)
    expect((await beacon(app, pageview('/v6-over'), { ip: b })).statusCode).toBe(429)
    expect((await beacon(app, pageview('/v6-next-block'), { ip: other })).statusCode).toBe(202)
  })

  it('are not counted by a CORS preflight', async () => {
    const fresh = from('192.0.2.78')
    for (let i = 0; i < LIMIT + 5; i++) {
      const pre = await app.inject({ method: 'OPTIONS', url: '/api/event', headers: { 'x-forwarded-for': fresh, origin: 'https://www.example.com', 'access-control-request-method': 'POST' } })
      expect(pre.statusCode).toBe(204)
    }
    expect((await beacon(app, pageview('/after-preflights'), { ip: fresh })).statusCode).toBe(202)
  })
})

describe('wrong shared-link passwords', () => {
  let link = ''
  let otherLink = ''
  const stats = (token: string, ip: string, password?: string) =>
    app.inject({
      url: `/api/v1/stats/aggregate?site=${SITE}&period=day&metrics=visitors`,
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': from(ip), ...(password === undefined ? {} : { 'x-share-password': password }) },
    })

  beforeAll(async () => {
    link = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'abuse test', password: PASSWORD })).token
    otherLink = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'abuse test 2', password: PASSWORD })).token
  })

  it(`allow ${SHARE_PASSWORD_LIMIT.max} a minute per client and link, then 429 even for the right one`, async () => {
    const guesser = '203.0.113.90'
    for (let i = 0; i < SHARE_PASSWORD_LIMIT.max; i++) {
      const res = await stats(link, guesser, `guess number ${i}`)
      expect(res.statusCode, `guess ${i + 1}`).toBe(401)
      expect(res.json()).toEqual({ error: 'wrong password' })
    }
    for (const password of ['one more guess', PASSWORD]) {
      const res = await stats(link, guesser, password)
      expect(res.statusCode).toBe(429)
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60)
      expect(res.json()).toEqual({ error: expect.stringMatching(/too many wrong passwords/) })
    }
    // without a password nothing is checked: still 401
    expect((await stats(link, guesser)).statusCode).toBe(401)
    // another client, and another link for the same client, are not limited
    expect((await stats(link, '203.0.113.91', PASSWORD)).statusCode).toBe(200)
    expect((await stats(link, '203.0.113.91', 'a wrong one')).statusCode).toBe(401)
    expect((await stats(otherLink, guesser, PASSWORD)).statusCode).toBe(200)
  })

  it('count guesses sent all at once before any is checked', async () => {
    const answers = await Promise.all(Array.from({ length: 15 }, (_, i) => stats(otherLink, '203.0.113.92', `parallel guess ${i}`)))
    const statuses = answers.map((r) => r.statusCode).sort()
    expect(statuses.filter((s) => s === 401)).toHaveLength(SHARE_PASSWORD_LIMIT.max)
    expect(statuses.filter((s) => s === 429)).toHaveLength(15 - SHARE_PASSWORD_LIMIT.max)
  })

  it(`allow ${SHARE_LINK_PASSWORD_LIMIT.max} in 10 minutes to one link from all clients together, then 429 for every client`, async () => {
    const fourth = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'abuse test 4', password: PASSWORD })).token
    // one guess from each of many /48s: no client comes near its own limit
    for (let i = 0; i < SHARE_LINK_PASSWORD_LIMIT.max; i++) expect((await stats(fourth, `2001:db8:${(200 + i).toString(16)}::1`, `spread guess ${i}`)).statusCode).toBe(401)
    // a client never seen before is held back too, with the right password: no answer tells a guess apart
    const held = await stats(fourth, '2001:db8:999::1', PASSWORD)
    expect(held.statusCode).toBe(429)
    expect(held.json()).toEqual({ error: expect.stringMatching(/too many wrong passwords for this link/) })
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(60)
    expect(Number(held.headers['retry-after'])).toBeLessThanOrEqual(600)
    // another link is not
    expect((await stats(otherLink, '2001:db8:998::1', PASSWORD)).statusCode).toBe(200)
  }, 30_000)

  it('do not count the right password: a dashboard asking many questions at once is let through', async () => {
    const viewer = '203.0.113.93'
    const third = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'abuse test 3', password: PASSWORD })).token
    const answers = await Promise.all(Array.from({ length: 3 * SHARE_PASSWORD_LIMIT.max }, () => stats(third, viewer, PASSWORD)))
    expect(answers.map((r) => r.statusCode)).toEqual(answers.map(() => 200))
    // the one wrong guess after them is the first that counts
    expect((await stats(third, viewer, 'a typo')).statusCode).toBe(401)
  })
})

describe('what the limits keep', () => {
  it('keys each client by a keyed hash, never by its address', () => {
    const keys = [...beaconLimiter(app.runtime.spool)!.keys(), ...app.wrongSharePasswords.keys()]
    expect(keys.length).toBeGreaterThan(5)
    const addresses = [...used, ...[...used].map(clientPrefix)]
    for (const key of keys) {
      for (const ip of addresses) expect(key).not.toContain(ip)
      expect(key).not.toMatch(/\d+\.\d+\.\d+|2001:db8/i)
    }
    // the same client (IPv6: the same /48) has one key, another client another
    expect(clientKey('192.0.2.1')).toBe(clientKey('192.0.2.1'))
    expect(clientKey('192.0.2.1')).not.toBe(clientKey('192.0.2.2'))
    expect(clientKey('2001:db8:1:1::1')).toBe(clientKey('2001:db8:1:abcd::2'))
    expect(clientKey('::ffff:192.0.2.1')).toBe(clientKey('192.0.2.1'))
    expect(clientKey('2001:db8:1::1')).not.toBe(clientKey('2001:db8:2::1'))
    expect(clientKey('192.0.2.1')).toMatch(/^[\w-]{22}$/)
    // a user name is keyed the same way, never kept, and never meets an address's key
    expect(nameKey('anna@example.com')).toMatch(/^[\w-]{22}$/)
    expect(nameKey('anna@example.com')).not.toBe(nameKey('ben@example.com'))
    expect(nameKey('192.0.2.1')).not.toBe(clientKey('192.0.2.1'))
  })

  it('writes no address to the log', () => {
    const logs = logLines.join('\n')
    for (const ip of used) expect(logs).not.toContain(ip)
  })
})

describe('RateLimiter', () => {
  it('counts in fixed windows and answers the seconds left', () => {
    const limiter = new RateLimiter({ max: 3, windowMs: 60_000 })
    const t0 = 1_000_000
    expect([1, 2, 3].map(() => limiter.hit('k', t0))).toEqual([0, 0, 0])
    expect(limiter.blocked('k', t0)).toBe(60)
    expect(limiter.hit('k', t0 + 15_500)).toBe(45)
    expect(limiter.hit('other', t0)).toBe(0)
    // a new window starts afresh
    expect(limiter.blocked('k', t0 + 60_000)).toBe(0)
    expect(limiter.hit('k', t0 + 60_000)).toBe(0)
  })

  it('takes back a hit with undo, and forgets the oldest keys past its bound', () => {
    const limiter = new RateLimiter({ max: 1, windowMs: 60_000 }, 3)
    expect(limiter.hit('a', 0)).toBe(0)
    expect(limiter.blocked('a', 0)).toBe(60)
    limiter.undo('a', 0)
    expect(limiter.blocked('a', 0)).toBe(0)
    for (const k of ['b', 'c', 'd']) limiter.hit(k, 0)
    expect(limiter.keys().sort()).toEqual(['b', 'c', 'd'])
  })

  it('lets a token bucket spend its burst at once, then refills it at the limit\'s rate', () => {
    // 300 a minute: a token every 200 ms; 30 at once
    const bucket = new TokenBucket({ max: 300, windowMs: 60_000, burst: 30 })
    const t0 = 1_000_000
    expect(Array.from({ length: 30 }, () => bucket.hit('k', t0))).toEqual(Array<number>(30).fill(0))
    // past the burst: refused, and told to wait the one second a token takes at least
    expect(bucket.hit('k', t0)).toBe(1)
    expect(bucket.blocked('k', t0)).toBe(1)
    // a refusal takes nothing: the token 200 ms later is there
    expect(bucket.hit('k', t0 + 199)).toBe(1)
    expect(bucket.hit('k', t0 + 200)).toBe(0)
    expect(bucket.hit('k', t0 + 200)).toBe(1)
    // ten seconds refill 50 tokens, but the bucket holds 30
    expect(Array.from({ length: 31 }, () => bucket.hit('k', t0 + 10_200)).filter((w) => w === 0)).toHaveLength(30)
    // another key has its own bucket, full
    expect(bucket.hit('other', t0)).toBe(0)
    expect(bucket.blocked('fresh', t0)).toBe(0)
  })

  it('answers a slow bucket\'s Retry-After in whole seconds, takes back with undo, and forgets the oldest keys past its bound', () => {
    // 5 a minute: a token every 12 s
    const bucket = new TokenBucket({ max: 5, windowMs: 60_000, burst: 2 }, 3)
    expect([bucket.hit('a', 0), bucket.hit('a', 0), bucket.hit('a', 0)]).toEqual([0, 0, 12])
    expect(bucket.blocked('a', 6_000)).toBe(6)
    bucket.undo('a', 6_000)
    expect(bucket.blocked('a', 6_000)).toBe(0)
    // undo never fills a bucket past its burst
    bucket.undo('a', 6_000)
    bucket.undo('a', 6_000)
    expect([bucket.hit('a', 6_000), bucket.hit('a', 6_000), bucket.hit('a', 6_000)]).toEqual([0, 0, 12])
    for (const k of ['b', 'c', 'd']) bucket.hit(k, 0)
    expect(bucket.keys().sort()).toEqual(['b', 'c', 'd'])
  })

  it('finds the client prefix of each kind of address', () => {
    expect(clientPrefix('192.0.2.10')).toBe('192.0.2.10')
    expect(clientPrefix('::ffff:192.0.2.10')).toBe('192.0.2.10')
    expect(clientPrefix('2001:db8::1')).toBe('2001:db8:0::/48')
    expect(clientPrefix('2001:0db8:0001:0002:0003:0004:0005:0006')).toBe('2001:db8:1::/48')
    expect(clientPrefix('2001:db8:1:2:3::')).toBe('2001:db8:1::/48')
    expect(clientPrefix('2001:db8:1:ffff:ffff:ffff:ffff:ffff')).toBe('2001:db8:1::/48')
    expect(clientPrefix('::1')).toBe('0:0:0::/48')
    expect(clientPrefix('2001:db8::192.0.2.1')).toBe('2001:db8:0::/48')
    expect(clientPrefix('not an address')).toBe('not an address')
  })
})
