/**
 * The dashboards' API client past a token's burst (STATS_RATE_LIMIT is a token bucket) or a
 * store busy with other questions (503, store/client.ts StoreBusy): a question so answered is
 * asked again after its Retry-After, at most RETRIES_WHEN_LIMITED times and never past
 * LONGEST_WAIT_S, so a panel loads a second late instead of failing. Against a real HTTP server
 * on 127.0.0.1.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError, apiGet, LONGEST_WAIT_S, RETRIES_WHEN_LIMITED } from '../../dashboards/src/lib/api.ts'

let server: FastifyInstance
let base = ''
/** Per path: how many times it was asked, and how many 429s it answers first (with which Retry-After). */
const asked = new Map<string, number>()
const plan = new Map<string, { limited: number; retryAfterS: number; status?: number }>()

beforeAll(async () => {
  server = Fastify({ logger: false })
  server.get('/api/v1/stats/:what', async (req, reply) => {
    const what = (req.params as { what: string }).what
    const n = (asked.get(what) ?? 0) + 1
    asked.set(what, n)
    const p = plan.get(what) ?? { limited: 0, retryAfterS: 1 }
    const status = p.status ?? 429
    const error = status === 503 ? 'the store is busy with other questions: try again in a few seconds' : 'too many questions from this token: retry later'
    if (n <= p.limited) return reply.code(status).header('retry-after', String(p.retryAfterS)).send({ error })
    return { results: { visitors: { value: 7, change: null } }, asked: n }
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`
})
afterAll(async () => {
  await server?.close()
})

const cred = { token: 'shr_example' }

describe('apiGet past the burst', () => {
  it('asks again after Retry-After and answers what the server then says', async () => {
    plan.set('aggregate', { limited: 1, retryAfterS: 1 })
    const t0 = Date.now()
    const answer = await apiGet<{ asked: number }>(cred, `${base}/api/v1/stats/aggregate`, { site: 'example.com' })
    expect(answer.asked).toBe(2)
    expect(asked.get('aggregate')).toBe(2)
    // it waited for the second the server asked, not less
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950)
  })

  it(`gives up after ${RETRIES_WHEN_LIMITED} tries more, with the API's error`, async () => {
    plan.set('breakdown', { limited: 10, retryAfterS: 1 })
    const err = await apiGet(cred, `${base}/api/v1/stats/breakdown`).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(429)
    expect((err as ApiError).message).toMatch(/too many questions/)
    expect(asked.get('breakdown')).toBe(1 + RETRIES_WHEN_LIMITED)
  })

  it(`does not wait past ${LONGEST_WAIT_S} s: a longer Retry-After is the error at once`, async () => {
    plan.set('timeseries', { limited: 1, retryAfterS: LONGEST_WAIT_S + 1 })
    const err = await apiGet(cred, `${base}/api/v1/stats/timeseries`).catch((e: unknown) => e)
    expect((err as ApiError).status).toBe(429)
    expect(asked.get('timeseries')).toBe(1)
  })

  it('asks a store busy with other questions (503) again after its Retry-After; a store out of reach (503, 30 s) is the error at once', async () => {
    plan.set('conversions', { limited: 1, retryAfterS: 1, status: 503 })
    const answer = await apiGet<{ asked: number }>(cred, `${base}/api/v1/stats/conversions`)
    expect(answer.asked).toBe(2)
    plan.set('funnel', { limited: 1, retryAfterS: 30, status: 503 })
    const err = await apiGet(cred, `${base}/api/v1/stats/funnel`).catch((e: unknown) => e)
    expect((err as ApiError).status).toBe(503)
    expect(asked.get('funnel')).toBe(1)
  })

  it('stops waiting when the panel no longer wants the answer (its signal aborts)', async () => {
    plan.set('realtime', { limited: 1, retryAfterS: 5 })
    const abort = new AbortController()
    const pending = apiGet(cred, `${base}/api/v1/stats/realtime`, {}, abort.signal).catch((e: unknown) => e)
    // the first answer (429) is in once the server counted it
    while (!asked.get('realtime')) await new Promise((r) => setTimeout(r, 10))
    abort.abort(new Error('panel closed'))
    expect(((await pending) as Error).message).toBe('panel closed')
    expect(asked.get('realtime')).toBe(1)
  })
})
