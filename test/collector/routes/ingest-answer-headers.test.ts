import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../../server/app.ts'
import { beacon, DOC_IPS, testConfig } from '../../helpers/app.ts'

/**
 * A 202 is written straight to the response (`answer` in collector/routes/ingest.ts), its usual
 * headers as a list made once when the only one set before it is CORS. Any other header set
 * before it must still be sent: here a route hook adds one to half of the beacons.
 */
const SITE = 'example.com'

let app: FastifyInstance
beforeAll(async () => {
  const extra: onRequestHookHandler = (req, reply, done) => {
    if (req.headers['x-test-extra']) reply.header('x-extra', 'kept')
    done()
  }
  app = await buildApp(testConfig(), {
    logger: false,
    onRoute: (route) => {
      if (route.url === '/api/event' && route.method === 'POST') route.onRequest = [...[route.onRequest ?? []].flat(), extra]
    },
  })
  await app.runtime.sites.add(SITE)
})
afterAll(async () => {
  await app?.close()
})

const pageview = (page: string) => ({ n: 'pageview', u: `https://${SITE}${page}`, d: SITE })
/** The headers a client reads, but the date and the connection's. */
const headersOf = (res: { headers: Record<string, unknown> }) => {
  const { date: _date, connection: _connection, ...rest } = res.headers
  return rest
}

describe('POST /api/event: the headers of a 202', () => {
  it('are CORS, nosniff, a JSON type and its length when nothing else was set', async () => {
    const res = await beacon(app, pageview('/plain'), { ip: DOC_IPS[1] })
    expect(res.statusCode).toBe(202)
    expect(headersOf(res)).toEqual({
      'access-control-allow-origin': '*',
      'x-content-type-options': 'nosniff',
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(res.body)),
    })
  })

  it('keep every header set before the answer', async () => {
    const res = await beacon(app, pageview('/extra'), { ip: DOC_IPS[2], headers: { 'x-test-extra': '1' } })
    expect(res.statusCode).toBe(202)
    expect(headersOf(res)).toEqual({
      'access-control-allow-origin': '*',
      'x-extra': 'kept',
      'x-content-type-options': 'nosniff',
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(res.body)),
    })
    expect(JSON.parse(res.body).ok).toBe(true)
  })
})
