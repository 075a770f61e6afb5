import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { beacon, DOC_IPS, flush, rows, tempDataDir, testApp, UA } from '../../helpers/app.ts'

/**
 * A beacon's answer names no site state: for a registered site or not, kept or dropped for any
 * reason, the collector answers the same status, headers and body, so the beacon endpoint cannot
 * be used to find out which sites are registered here. The policy lets the tracker keep a
 * last-visit day everywhere (the `lv` of the answer), so a difference there would show too.
 */
const SITE = 'known.example.com'
const UNKNOWN = 'unknown.example.com'

let app: FastifyInstance
beforeAll(async () => {
  const file = path.join(tempDataDir(), 'policy.yaml')
  fs.writeFileSync(file, 'version: 1\ndefaults:\n  last_visit_day: true\n  exclude_paths: ["/private/*"]\n')
  app = await testApp({ policyFile: file }, [SITE])
})
afterAll(async () => {
  await app?.close()
})

/** What a client can read of an answer: status, headers (but the date) and body. */
function seen(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const { date: _date, ...headers } = res.headers
  return { status: res.statusCode, headers, body: res.body }
}

const pageview = (site: string, page = '/') => ({ n: 'pageview', u: `https://${site}${page}`, d: site })

describe('POST /api/event', () => {
  it('answers 202 with the headers every answer of the server has: CORS for any origin, nosniff, a JSON type and its length', async () => {
    const res = await beacon(app, pageview(UNKNOWN, '/headers'), { ip: DOC_IPS[1] }) // dropped, answered as if stored
    expect(res.statusCode).toBe(202)
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body))
    expect(JSON.parse(res.body)).toEqual({ ok: true, lv: true })
  })

  it('answers a dropped beacon exactly as a stored one: no reason, no sign of whether the site exists', async () => {
    const stored = seen(await beacon(app, pageview(SITE), { ip: DOC_IPS[2] }))
    expect(stored.status).toBe(202)
    expect(JSON.parse(stored.body)).toEqual({ ok: true, lv: true })

    const dropped = {
      'an unknown site': await beacon(app, pageview(UNKNOWN), { ip: DOC_IPS[3] }),
      'a bot': await beacon(app, pageview(SITE), { ip: DOC_IPS[3], ua: UA.googlebot }),
      'a bot on an unknown site': await beacon(app, pageview(UNKNOWN), { ip: DOC_IPS[3], ua: UA.googlebot }),
      'an excluded page': await beacon(app, pageview(SITE, '/private/a'), { ip: DOC_IPS[3] }),
      "another host's page": await beacon(app, { n: 'pageview', u: 'https://elsewhere.example.net/', d: SITE }, { ip: DOC_IPS[3] }),
    }
    for (const [what, res] of Object.entries(dropped)) expect(seen(res), what).toEqual(stored)
    expect(Object.keys(stored.headers).filter((h) => /dropped|reason/i.test(h))).toEqual([])

    await flush(app)
    const kept = await rows<{ pathname: string; site: string }>(app, 'SELECT site, pathname FROM events ORDER BY ts')
    expect(kept).toEqual([{ site: SITE, pathname: '/' }])
  })

  it('answers a Do Not Track beacon alike for a registered site and an unknown one (no last-visit day for either)', async () => {
    const dnt = { headers: { dnt: '1' }, ip: DOC_IPS[4] }
    const known = seen(await beacon(app, pageview(SITE), dnt))
    const unknown = seen(await beacon(app, pageview(UNKNOWN), dnt))
    expect(JSON.parse(known.body)).toEqual({ ok: true })
    expect(unknown).toEqual(known)
  })

  it('answers the pixel alike too', async () => {
    const pixel = (d: string) => app.inject({ url: `/p.gif?d=${d}&u=/`, headers: { 'user-agent': UA.firefoxLinux, 'x-forwarded-for': DOC_IPS[5] } })
    const known = seen(await pixel(SITE))
    expect(known.status).toBe(200)
    expect(seen(await pixel(UNKNOWN))).toEqual(known)
  })
})
