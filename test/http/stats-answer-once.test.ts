/**
 * Identical questions asked while one is being answered wait for that answer (aggregator/routes/stats.ts,
 * `answerOnce`): a shared dashboard opened by many at once, or a flood through a shared link, is
 * worked out once (the main thread's work, where beacons wait; the store's reads of identical
 * SQL in flight were shared before), and each asker gets the answer the first one gets.
 */
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { answersWorkedOut } from '../../aggregator/routes/stats.ts'
import { ADMIN_TOKEN, beacon, settle, testApp, visitorIp } from '../helpers/app.ts'

const SITE = 'example.com'
let app: FastifyInstance
/** Store queries made since the count was last read. */
let queries = 0

beforeAll(async () => {
  app = await testApp({ statsRateLimit: 0 }, [SITE])
  for (let i = 0; i < 12; i++) {
    const res = await beacon(app, { name: 'pageview', url: `https://${SITE}/p${i % 3}`, domain: SITE }, { ip: visitorIp(i) })
    expect(res.statusCode).toBe(202)
  }
  await settle(app)
  const client = app.runtime.store.client
  const query = client.query.bind(client)
  client.query = ((params: Parameters<typeof query>[0]) => {
    queries++
    return query(params)
  }) as typeof client.query
})
afterAll(async () => {
  await app?.close()
})

const today = new Date().toISOString().slice(0, 10)
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10)
const ask = (from: string) =>
  app.inject({ url: `/api/v1/stats/breakdown?site=${SITE}&period=custom&from=${from}&to=${today}&property=page&metrics=visitors,pageviews`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })

it('asks the store once for identical questions asked at once, and gives each the same answer', async () => {
  // (what a first question reads once, as the days with events, read before)
  expect((await ask(daysAgo(7))).statusCode).toBe(200)
  // two questions over the same days with events (today), each asked for the first time
  queries = 0
  const alone = await ask(daysAgo(6))
  const once = queries
  expect(alone.statusCode, alone.body).toBe(200)
  expect(once, 'the question read the store').toBeGreaterThan(0)

  queries = 0
  const worked = answersWorkedOut.count
  const together = await Promise.all(Array.from({ length: 6 }, () => ask(daysAgo(5))))
  expect(answersWorkedOut.count - worked, 'answers worked out').toBe(1)
  expect(together.map((r) => r.statusCode)).toEqual(Array(6).fill(200))
  expect(new Set(together.map((r) => r.body)).size, 'one answer for all').toBe(1)
  expect(JSON.parse(together[0].body).results).toEqual(JSON.parse(alone.body).results)
  expect(queries, 'the store asked as for one question').toBe(once)
})

it('answers an unknown site and a bad parameter alike for every asker', async () => {
  const unknown = await Promise.all(Array.from({ length: 3 }, () => app.inject({ url: `/api/v1/stats/aggregate?site=unknown.example.com&period=7d`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })))
  expect(unknown.map((r) => r.statusCode)).toEqual([404, 404, 404])
  const bad = await Promise.all(Array.from({ length: 3 }, () => app.inject({ url: `/api/v1/stats/breakdown?site=${SITE}&period=7d&property=no_such_property`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })))
  expect(bad.map((r) => r.statusCode)).toEqual([400, 400, 400])
  expect(bad[0].json().error).toMatch(/property must be one of/)
})
