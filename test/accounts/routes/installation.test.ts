import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, beacon, flush, testApp, UA, visitorIp } from '../../helpers/app.ts'
import { eventRow, insertEvents } from '../../helpers/fixtures.ts'

/**
 * Verify installation: whether a site's beacons arrive, for a fresh tag before k visitors exist,
 * with no count. One beacon through the real pipeline is enough to say yes.
 */
const FRESH = 'fresh.example.com'
const QUIET = 'quiet.example.com'
const NEVER = 'never.example.com'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({}, [FRESH, QUIET, NEVER])
  await insertEvents(app.runtime.store.client, [eventRow(QUIET, 1, Date.now() - 2 * 3_600_000 - 30_000, '/')])
})
afterAll(async () => {
  await app?.close()
})

const installation = async (domain: string, token = ADMIN_TOKEN) => {
  const res = await app.inject({ url: `/api/v1/sites/${domain}/installation`, headers: { authorization: `Bearer ${token}` } })
  return { status: res.statusCode, body: res.json() }
}

describe('GET /api/v1/sites/:domain/installation', () => {
  it('says no, and never, for a site without beacons', async () => {
    expect(await installation(NEVER)).toEqual({ status: 200, body: { receiving: false, last_seen_ago_s: null } })
  })

  it('says yes as soon as one beacon is stored, in whole minutes and without a count', async () => {
    expect((await installation(FRESH)).body.receiving).toBe(false)
    const sent = await beacon(app, { name: 'pageview', url: `https://${FRESH}/`, domain: FRESH }, { ip: visitorIp(1), ua: UA.firefoxLinux })
    expect(sent.statusCode).toBe(202)
    await flush(app)
    const { body } = await installation(FRESH)
    expect(body).toEqual({ receiving: true, last_seen_ago_s: 0 })
  })

  it('says no, and how long ago, when the last beacon is older than half an hour', async () => {
    expect(await installation(QUIET)).toEqual({ status: 200, body: { receiving: false, last_seen_ago_s: 7200 } })
  })

  it('is for admins: a per-site token gets 403, an unknown site 404', async () => {
    const { token } = await app.tokens.create({ site: FRESH, scopes: ['stats'], name: 'not an admin' })
    expect((await installation(FRESH, token)).status).toBe(403)
    expect((await installation('nowhere.example.com')).status).toBe(404)
  })
})
