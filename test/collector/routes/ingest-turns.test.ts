import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DOC_IPS, flush, rows, testApp, UA, visitorIp } from '../../helpers/app.ts'

/**
 * Beacons read in one turn of the event loop go through the pipeline together at the turn's end
 * (`beaconsByTurn` in collector/routes/ingest.ts). Over a real port, many at once: each is still
 * answered for itself (its own status and reason), each stored one is stored once, its time is
 * when it arrived, and a beacon whose pipeline step fails is answered 500 alone.
 */
const SITE = 'turns.example.com'
const FAULT = 'fault.example.com'

let app: FastifyInstance
let url: string
beforeAll(async () => {
  app = await testApp({ ingestRateLimit: 0 }, [SITE, FAULT])
  await app.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/event`
})
afterAll(async () => {
  await app?.close()
})

interface Beacon {
  body: string
  ip: string
  ua?: string
}

interface Sent extends Beacon {
  /** What the answer must be. */
  status: number
  error?: string
  /** The page stored for it, if any. */
  stored?: string
}

async function send(s: Beacon): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': s.ua ?? UA.chromeWindows, 'x-forwarded-for': s.ip }, body: s.body })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

const page = (site: string, path: string) => JSON.stringify({ n: 'pageview', u: `https://${site}${path}`, d: site })

describe('beacons run through the pipeline a turn at a time', () => {
  it('answers each of many concurrent beacons for itself and stores each kept one once', async () => {
    const sent: Sent[] = []
    for (let i = 0; i < 60; i++) {
      const ip = visitorIp(i)
      switch (i % 5) {
        case 0:
        case 1:
          sent.push({ body: page(SITE, `/turn/${i}`), ip, status: 202, stored: `/turn/${i}` })
          break
        case 2: // no URL: the pipeline's own 400 and reason
          sent.push({ body: JSON.stringify({ n: 'pageview', d: SITE }), ip, status: 400, error: 'url is required' })
          break
        case 3: // a bot: dropped, answered as if stored
          sent.push({ body: page(SITE, `/bot/${i}`), ip, ua: UA.googlebot, status: 202 })
          break
        default: // not JSON: Fastify's parser answers before the turn
          sent.push({ body: `{"n":"pageview",${i}`, ip, status: 400, error: 'body is not valid JSON' })
      }
    }
    const before = Date.now()
    const answers = await Promise.all(sent.map(send))
    const after = Date.now()
    answers.forEach((a, i) => {
      const s = sent[i]
      expect(a.status, s.body).toBe(s.status)
      if (s.status === 202) expect(a.body.ok).toBe(true)
      if (s.error) expect(String(a.body.error)).toContain(s.error)
    })

    await flush(app)
    const stored = await rows<{ pathname: string; n: string; t: string }>(
      app,
      "SELECT pathname, toString(count()) AS n, toString(toUnixTimestamp64Milli(min(ts))) AS t FROM events WHERE site = {site:String} AND startsWith(pathname, '/turn/') GROUP BY pathname",
      { site: SITE },
    )
    const expected = sent.flatMap((s) => (s.stored ? [s.stored] : [])).sort()
    expect(stored.map((r) => r.pathname).sort()).toEqual(expected)
    for (const r of stored) {
      expect(r.n).toBe('1')
      // the event's time is when it arrived (the store keeps milliseconds)
      expect(Number(r.t)).toBeGreaterThanOrEqual(before)
      expect(Number(r.t)).toBeLessThanOrEqual(after)
    }
    expect(await rows(app, "SELECT 1 FROM events WHERE site = {site:String} AND startsWith(pathname, '/bot/')", { site: SITE })).toEqual([])
  })

  it('answers 500 to a beacon whose pipeline step fails, and the others of its turn and after it as usual', async () => {
    // a fault injected into the real pipeline's site lookup, for one domain only
    const ctx = app.runtime.pipeline
    const isKnownSite = ctx.isKnownSite
    ctx.isKnownSite = (domain) => {
      if (domain === FAULT) throw new Error('injected fault')
      return isKnownSite(domain)
    }
    try {
      const sent = [
        { body: page(SITE, '/around/a'), ip: DOC_IPS[0] },
        { body: page(FAULT, '/x'), ip: DOC_IPS[1] },
        { body: page(SITE, '/around/b'), ip: DOC_IPS[2] },
      ]
      const answers = await Promise.all(sent.map(send))
      expect(answers.map((a) => a.status)).toEqual([202, 500, 202])
      expect(answers[1].body).toEqual({ error: 'internal error' })
    } finally {
      ctx.isKnownSite = isKnownSite
    }
    expect((await send({ body: page(SITE, '/around/c'), ip: DOC_IPS[3] })).status).toBe(202)
    await flush(app)
    const stored = await rows<{ pathname: string }>(app, "SELECT pathname FROM events WHERE site = {site:String} AND startsWith(pathname, '/around/') ORDER BY pathname", { site: SITE })
    expect(stored.map((r) => r.pathname)).toEqual(['/around/a', '/around/b', '/around/c'])
  })
})
