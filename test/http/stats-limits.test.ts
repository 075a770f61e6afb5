/**
 * What a question to the stats API may cost (issue 13, point 2): each token (a per-site token,
 * a shared link, a session) may ask STATS_RATE_LIMIT questions a minute, then gets 429 with
 * Retry-After and a JSON reason; the admin token is not counted. Every question runs under the
 * store's QUESTION_LIMITS (time, rows read, memory, grouping on disk past half of it, one thread), and one past them is the
 * caller's 400, while no other query of the embedded engine inherits those limits; questions
 * run QUESTIONS_AT_ONCE at a time (every core while the beacons are few, all but one while they
 * arrive), and past QUESTION_QUEUE waiting one is refused with 503.
 */
import os from 'node:os'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError, Overloaded } from '../../http/errors.ts'
import { TokenBucket } from '../../http/rate-limit.ts'
import { QUESTION_HOLD_MS, STATS_BURST } from '../../accounts/access.ts'
import { loadConfig } from '../../server/config.ts'
import type { ClickHouseClient, QueryParams } from '@clickhouse/client'
import { QUESTION_LIMITS, QUESTION_QUEUE, questionClient, questionLimits, QuestionTooCostly, QUESTIONS_AT_ONCE, QUIET_BEACONS_PER_S, StoreBusy } from '../../store/client.ts'
import { ADMIN_TOKEN, rows, testApp } from '../helpers/app.ts'

const SITE = 'example.com'
/** Small, so that the test crosses it quickly; the default is 300. */
const LIMIT = 5
const PASSWORD = 'correct horse battery'

let app: FastifyInstance

beforeAll(async () => {
  app = await testApp({ statsRateLimit: LIMIT }, [SITE])
})
afterAll(async () => {
  await app?.close()
})

const ask = (token: string, headers: Record<string, string> = {}, path = '/api/v1/stats/aggregate') =>
  app.inject({ url: `${path}?site=${SITE}&period=30d`, headers: { authorization: `Bearer ${token}`, ...headers } })

async function token(scopes: ('stats' | 'export' | 'shared')[], password?: string): Promise<string> {
  return (await app.tokens.create({ site: SITE, scopes, name: 'limits test', password })).token
}

describe('STATS_RATE_LIMIT', () => {
  it('is 300 questions a minute per token by default; 0 turns it off', () => {
    expect(loadConfig({}).statsRateLimit).toBe(300)
    expect(loadConfig({ STATS_RATE_LIMIT: '0' }).statsRateLimit).toBe(0)
    expect(() => loadConfig({ STATS_RATE_LIMIT: 'many' })).toThrow(/STATS_RATE_LIMIT/)
  })

  it('counts in a token bucket: STATS_BURST questions at once (fewer when the limit is lower), then the limit\'s rate', () => {
    expect(app.statsQuestions).toBeInstanceOf(TokenBucket)
    expect((app.statsQuestions as TokenBucket).limit).toEqual({ max: LIMIT, windowMs: 60_000, burst: Math.min(STATS_BURST, LIMIT) })
    expect(STATS_BURST).toBe(30)
  })

  it('answers a token past it 429 with Retry-After and why; another token is not held back', async () => {
    const busy = await token(['stats'])
    for (let i = 0; i < LIMIT; i++) expect((await ask(busy)).statusCode, `question ${i + 1}`).toBe(200)
    const over = await ask(busy, {}, '/api/v1/stats/timeseries')
    expect(over.statusCode).toBe(429)
    expect(over.json()).toEqual({ error: expect.stringMatching(/too many questions/) })
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect((await ask(await token(['stats']))).statusCode).toBe(200)
  })

  it('holds a 429 back up to QUESTION_HOLD_MS before sending it, so that a client asking again at once asks at most once a second a connection', async () => {
    expect(QUESTION_HOLD_MS).toBe(1_000)
    const flooder = await token(['shared'])
    for (let i = 0; i < LIMIT; i++) expect((await ask(flooder)).statusCode).toBe(200)
    const sent = performance.now()
    const over = await ask(flooder)
    const waited = performance.now() - sent
    expect(over.statusCode).toBe(429)
    // a timer never fires early; the limit refills one question every 60 / LIMIT = 12 s, so the hold is the whole second
    expect(waited).toBeGreaterThanOrEqual(QUESTION_HOLD_MS - 5)
    // Retry-After counts from the answer: what was left of the wait once the hold was over
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60 / LIMIT - 1)
  })

  it('counts a shared link as one caller, whatever addresses its viewers have, a password-protected one too', async () => {
    for (const link of [await token(['shared']), await token(['shared'], PASSWORD)]) {
      const headers = (i: number) => ({ 'x-forwarded-for': `2001:db8:${(0x300 + i).toString(16)}::1`, 'x-share-password': PASSWORD })
      for (let i = 0; i < LIMIT; i++) expect((await ask(link, headers(i))).statusCode).toBe(200)
      expect((await ask(link, headers(LIMIT))).statusCode).toBe(429)
      // the link's own page asks through the same budget
      expect((await app.inject({ url: '/api/v1/shared-link', headers: { authorization: `Bearer ${link}`, ...headers(LIMIT + 1) } })).statusCode).toBe(429)
    }
  })

  it('counts exports, and a session on the stats routes but not on the admin routes; never the admin token', async () => {
    const exporter = await token(['export'])
    for (let i = 0; i < LIMIT; i++) expect((await ask(exporter, {}, '/api/v1/export')).statusCode).toBe(200)
    expect((await ask(exporter, {}, '/api/v1/export')).statusCode).toBe(429)

    await app.memberships.set('limits-test', '*', 'owner')
    const session = (await app.tokens.createSession('limits-test')).token
    for (let i = 0; i < LIMIT; i++) expect((await ask(session)).statusCode).toBe(200)
    expect((await ask(session)).statusCode).toBe(429)
    expect((await app.inject({ url: '/api/v1/sites', headers: { authorization: `Bearer ${session}` } })).statusCode).toBe(200)

    for (let i = 0; i < 3 * LIMIT; i++) expect((await ask(ADMIN_TOKEN)).statusCode).toBe(200)
  })

  it('keeps token ids as keys only: no secret in memory beyond the store', () => {
    const keys = app.statsQuestions!.keys()
    expect(keys.length).toBeGreaterThan(3)
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{12}$/)
  })
})

describe('the store limits of a question', () => {
  it('stop a question that would read more rows than QUESTION_LIMITS allow, as the caller’s 400', async () => {
    const limited = questionClient(app.runtime.store)
    // the engine estimates the rows before it reads any: with LIMIT 0 nothing is counted
    const tooMany = { query: 'SELECT count() FROM numbers({n:UInt64}) LIMIT 0', query_params: { n: Number(QUESTION_LIMITS.max_rows_to_read) + 1 }, format: 'JSONEachRow' as const }
    // a caller's own settings cannot loosen them
    for (const clickhouse_settings of [{}, { max_rows_to_read: '0' }]) {
      const err = await limited.query({ ...tooMany, clickhouse_settings }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(QuestionTooCostly)
      expect(err).toBeInstanceOf(InputError)
      expect((err as InputError).statusCode).toBe(400)
      expect((err as Error).message).toMatch(/rows read/)
    }
    // the store's own client is not limited
    expect(await (await app.runtime.store.client.query(tooMany)).json()).toEqual([])
  })

  it('go on grouping on disk past half their memory: a question the memory alone would refuse is answered, as without limits', async () => {
    expect(Number(QUESTION_LIMITS.max_bytes_before_external_group_by)).toBe(Number(QUESTION_LIMITS.max_memory_usage) / 2)
    // the same limits for 64 MiB of memory: 400,000 groups of distinct counts need more
    const small = questionLimits(64 * 1024 ** 2)
    const { max_bytes_before_external_group_by: spill, ...memoryAlone } = small
    expect(Number(spill)).toBe(32 * 1024 ** 2)
    const heavy = {
      query: 'SELECT count() AS groups, sum(n) AS total FROM (SELECT k, uniqExact(v) AS n FROM (SELECT number % 400000 AS k, number AS v FROM numbers(2000000)) GROUP BY k)',
      format: 'JSONEachRow' as const,
    }
    const truth = [{ groups: 400_000, total: 2_000_000 }]
    expect(await (await app.runtime.store.client.query(heavy)).json()).toEqual(truth)
    expect(await (await questionClient(app.runtime.store, {}, small).query(heavy)).json()).toEqual(truth)
    const refused = await questionClient(app.runtime.store, {}, memoryAlone).query(heavy).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(QuestionTooCostly)
    expect((refused as Error).message).toMatch(/memory/)
  })

  it(`are worked on ${QUESTIONS_AT_ONCE.embedded} at a time while beacons arrive; past ${QUESTION_QUEUE} waiting a question is refused with 503`, async () => {
    const limited = questionClient(app.runtime.store, { beaconsPerSecond: () => QUIET_BEACONS_PER_S })
    const asked = Array.from({ length: QUESTIONS_AT_ONCE.embedded + QUESTION_QUEUE + 3 }, (_, i) =>
      limited.query({ query: 'SELECT {i:UInt32} AS i', query_params: { i }, format: 'JSONEachRow' }).then((rs) => rs.json<{ i: number }>(), (e: unknown) => e))
    const answers = await Promise.all(asked)
    const refused = answers.filter((a) => a instanceof StoreBusy)
    expect(refused).toHaveLength(3)
    expect(refused[0]).toBeInstanceOf(Overloaded)
    expect((refused[0] as Overloaded).statusCode).toBe(503)
    expect(answers.filter((a) => Array.isArray(a))).toHaveLength(QUESTIONS_AT_ONCE.embedded + QUESTION_QUEUE)
  })

  it(`run ${QUESTIONS_AT_ONCE.embeddedQuiet} at a time (every core) while the beacons are fewer than ${QUIET_BEACONS_PER_S} a second, ${QUESTIONS_AT_ONCE.embedded} from there, looked at as each question comes`, async () => {
    let beacons = 0
    let running = 0
    let most = 0
    const store = app.runtime.store
    // the store's own client, counting the questions it works on at once
    const counting = new Proxy(store.client, {
      get(target, prop) {
        if (prop === 'query')
          return async (params: QueryParams) => {
            most = Math.max(most, ++running)
            try {
              return await target.query(params)
            } finally {
              running--
            }
          }
        const value = Reflect.get(target, prop) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    }) as ClickHouseClient
    const limited = questionClient({ client: counting, embedded: true }, { beaconsPerSecond: () => beacons })
    const askSix = async (client = limited) => {
      most = 0
      const asked = Array.from({ length: 6 }, () => client.query({ query: 'SELECT sleep(0.05) AS s', format: 'JSONEachRow' }).then((rs) => rs.json()))
      expect(await Promise.all(asked)).toHaveLength(6)
      return most
    }
    expect(await askSix()).toBe(QUESTIONS_AT_ONCE.embeddedQuiet)
    beacons = QUIET_BEACONS_PER_S
    expect(await askSix()).toBe(QUESTIONS_AT_ONCE.embedded)
    beacons = QUIET_BEACONS_PER_S - 1
    expect(await askSix()).toBe(QUESTIONS_AT_ONCE.embeddedQuiet)
    // a process without beacons (no collector here) is always quiet
    expect(await askSix(questionClient({ client: counting, embedded: true }))).toBe(QUESTIONS_AT_ONCE.embeddedQuiet)
    expect(QUESTIONS_AT_ONCE.embeddedQuiet).toBe(Math.max(QUESTIONS_AT_ONCE.embedded, os.availableParallelism()))
  })

  it(`give a question started with none waiting a thread for each turn no other holds: ${QUESTIONS_AT_ONCE.embeddedQuiet} alone while the beacons are few, 1 while they arrive or beside another`, async () => {
    let beacons = 0
    const limited = questionClient(app.runtime.store, { beaconsPerSecond: () => beacons })
    const threads = (sleep = 0) =>
      limited.query({ query: 'SELECT getSetting(\'max_threads\') AS t, sleepEachRow({s:Float64}) AS z FROM numbers(1)', query_params: { s: sleep }, format: 'JSONEachRow' }).then(async (rs) => String((await rs.json<{ t: string }>())[0].t))
    expect(await threads()).toBe(String(QUESTIONS_AT_ONCE.embeddedQuiet))
    // two at once: each one thread (the second finds the first running; the first, the second waiting or running)
    expect(await Promise.all([threads(0.05), threads(0.05)])).toEqual(['1', '1'])
    beacons = QUIET_BEACONS_PER_S
    expect(await threads()).toBe('1')
    beacons = 0
    expect(await threads()).toBe(String(QUESTIONS_AT_ONCE.embeddedQuiet))
    // a server's questions keep their limits as they are (its cores are not this machine's)
    const counted: unknown[] = []
    const server = questionClient({ client: new Proxy(app.runtime.store.client, { get: (t, p) => (p === 'query' ? (q: QueryParams) => (counted.push(q.clickhouse_settings?.max_threads), t.query(q)) : Reflect.get(t, p)) }) as ClickHouseClient, embedded: false })
    await (await server.query({ query: 'SELECT 1', format: 'JSONEachRow' })).json()
    expect(counted).toEqual([QUESTION_LIMITS.max_threads])
  })

  it('apply to questions only: the engine’s other queries run unlimited after one', async () => {
    const limited = questionClient(app.runtime.store)
    const names = Object.keys(QUESTION_LIMITS)
    const settingsQuery = { query: 'SELECT name, value FROM system.settings WHERE name IN {names:Array(String)} ORDER BY name', query_params: { names }, format: 'JSONEachRow' as const }
    const during = Object.fromEntries((await (await limited.query(settingsQuery)).json<{ name: string; value: string }>()).map((r) => [r.name, r.value]))
    // (a question asked alone takes every turn: its threads, below)
    expect(during).toEqual(Object.fromEntries(Object.entries({ ...QUESTION_LIMITS, max_threads: QUESTIONS_AT_ONCE.embeddedQuiet }).map(([k, v]) => [k, String(v)])))
    // chDB keeps a query's settings for the next query: the store's own client resets them
    const after = await rows<{ name: string; value: string }>(app, settingsQuery.query, settingsQuery.query_params)
    expect(Object.fromEntries(after.map((r) => [r.name, r.value]))).toEqual({
      max_bytes_before_external_group_by: '0',
      max_execution_time: '0',
      max_memory_usage: '0',
      max_rows_to_read: '0',
      max_threads: expect.stringMatching(/^auto/),
    })
  })
})
