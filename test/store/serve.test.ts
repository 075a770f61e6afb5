import path from 'node:path'
import zlib from 'node:zlib'
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventBlock } from '../../collector/spool/event-block.ts'
import type { EventRow } from '../../collector/pipeline/types.ts'
import { ENGINE_ARGS, openStore, type Store } from '../../store/client.ts'
import { Engine } from '../../store/engine.ts'
import { migrate } from '../../store/migrate.ts'
import { buildStoreServer } from '../../store/serve.ts'
import { tempDataDir } from '../helpers/app.ts'

const PASSWORD = 'store-test-password'
let engine: Engine
let server: FastifyInstance
let url: string
let store: Store

beforeAll(async () => {
  engine = await Engine.open(path.join(tempDataDir(), 'clickhouse'), ENGINE_ARGS)
  server = await buildStoreServer({ engine, user: 'default', password: PASSWORD, logLevel: 'silent' })
  await server.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`
  // the program's own store client, as collectors and aggregators open it with CLICKHOUSE_URL
  store = await openStore({ dataDir: tempDataDir(), clickhouseUrl: url, clickhousePassword: PASSWORD, clickhouseDatabase: 'analytics' })
  await migrate(store.client)
})
afterAll(async () => {
  await store?.close()
  await server?.close()
  await engine?.close()
})

const one = async <T>(client: ClickHouseClient, query: string, query_params: Record<string, unknown> = {}, clickhouse_settings = {}) =>
  (await (await client.query({ query, query_params, clickhouse_settings, format: 'JSONEachRow' })).json<T>())[0]

function event(i: number, fields: Partial<EventRow> = {}): EventRow {
  return {
    site: 'serve.example.com', ts: Date.UTC(2026, 10, 29, 12, 0, i), name: 'pageview', visitor_id: String(1000 + i), network_id: String(i + 1), visit_id: String(i + 1), visit_flags: 3,
    hostname: 'serve.example.com', pathname: `/p/${i}`, query: '', referrer_host: '', referrer_path: '', source: '', channel: '',
    utm_source: '', utm_medium: '', utm_campaign: '', utm_content: '', utm_term: '', browser: 'Firefox', browser_version: '132',
    os: 'Linux', os_version: '', device: 'Desktop', screen: '', country: 'DE', region: '', city: '', network: '', returning: 2,
    engagement_ms: 0, props: { plan: 'pro\0\ttab' }, revenue_amount: '0', revenue_currency: '', scroll_depth: 255,
    ...fields,
  }
}

describe('analytics store serve: ClickHouse over HTTP for @clickhouse/client', () => {
  it('asks for the password: none is 401 REQUIRED_PASSWORD, a wrong one AUTHENTICATION_FAILED', async () => {
    const none = await fetch(`${url}/?query=SELECT%201`)
    expect(none.status).toBe(401)
    expect(none.headers.get('x-clickhouse-exception-code')).toBe('194')
    const wrong = createClient({ url, password: 'not-it', log: { level: ClickHouseLogLevel.OFF } })
    await expect(wrong.query({ query: 'SELECT 1', format: 'JSONEachRow' })).rejects.toMatchObject({ code: '516', type: 'AUTHENTICATION_FAILED' })
    await wrong.close()
    // the header form (the client's over TLS, or set as http_headers)
    const headers = createClient({ url, set_basic_auth_header: false, http_headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': PASSWORD } })
    expect(await one(headers, 'SELECT 1 AS n')).toEqual({ n: 1 })
    await headers.close()
    expect(await (await fetch(`${url}/ping`)).text()).toBe('Ok.\n')
  })

  it('creates the database and runs every migration, as against a server', async () => {
    const tables = await (await store.client.query({ query: "SELECT name FROM system.tables WHERE database = 'analytics'", format: 'JSONEachRow' })).json<{ name: string }>()
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['events', 'visits', 'rollup_daily', 'salts', 'leases', 'schema_migrations']))
    expect(await migrate(store.client)).toEqual([])
  })

  it('binds parameters as the server does: escapes, arrays, dates, 64-bit numbers (as numbers)', async () => {
    const s = "tab\there 'quoted' back\\slash\nnewline ключ"
    const row = await one<Record<string, unknown>>(
      store.client,
      'SELECT {s:String} AS s, {a:Array(String)} AS a, {d:Date} AS d, {n:UInt64} AS n, toUInt64(18446744073709551615) AS big, {t:DateTime64(3, \'UTC\')} AS t',
      { s, a: ["it's", 'b\\c'], d: '2026-11-29', n: 9007199254740991, t: '2026-11-29 12:00:00.125' },
    )
    expect(row).toEqual({ s, a: ["it's", 'b\\c'], d: '2026-11-29', n: 9007199254740991, big: 18446744073709551615, t: '2026-11-29 12:00:00.125' })
  })

  it("gives each request its own parameters, however many run at once, and none of another's", async () => {
    const echo = (i: number) => one<{ s: string; n: number }>(store.client, 'SELECT {s:String} AS s, {n:UInt32} AS n, count() AS c FROM numbers(200000) WHERE number % 7 = {n:UInt32} % 7', { s: `site-${i}.example.com`, n: i })
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => echo(i)))
    expect(answers.map((a) => [a.s, a.n])).toEqual(Array.from({ length: 40 }, (_, i) => [`site-${i}.example.com`, i]))
    // a parameter an earlier request set is not there for a later one that does not pass it
    await one(store.client, 'SELECT {secret:String} AS s', { secret: 'earlier request' })
    const later = await Promise.all(Array.from({ length: 8 }, () => one<{ s: string }>(store.client, 'SELECT {secret:String} AS s').then((r) => r.s, () => 'refused')))
    expect(later).not.toContain('earlier request')
  })

  it("applies a request's settings to that request alone, however many run at once", async () => {
    const threads = (limit: boolean) => one<{ v: string }>(store.client, "SELECT getSetting('max_threads') AS v", {}, limit ? { max_threads: 1 } : {})
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => threads(i % 2 === 0).then((r) => ({ limit: i % 2 === 0, v: String(r.v) }))))
    const unlimited = answers.filter((a) => !a.limit).map((a) => a.v)
    expect(answers.filter((a) => a.limit).every((a) => a.v === '1')).toBe(true)
    expect(unlimited.some((v) => v === '1')).toBe(false)
    // an unknown setting is the engine's error, and leaves the connection as it was
    await expect(threads(false).then(() => store.client.query({ query: 'SELECT 1', clickhouse_settings: { no_such_setting: 1 } as Record<string, number> }))).rejects.toMatchObject({ code: '115', type: 'UNKNOWN_SETTING' })
  })

  it("inserts the spool writer's Native blocks whole, once per deduplication token", async () => {
    // a segment's worth: megabytes, where chDB's inline insert data stops at 128 KiB
    const block = eventBlock()
    for (let i = 0; i < 5000; i++) block.append(event(i))
    const finished = block.finish()
    await store.insertBlock('events', finished, 'segment-1')
    await store.insertBlock('events', finished, 'segment-1') // a replay
    const stored = await one<{ n: number; props: string }>(store.client, "SELECT count() AS n, any(props['plan']) AS props FROM events WHERE site = 'serve.example.com'")
    expect(stored).toEqual({ n: 5000, props: 'pro\0\ttab' })
    // the token stayed with its request: the same rows under no token are stored again
    const r = await store.client.insert({ table: 'events', values: [{ site: 'serve.example.com', ts: Date.UTC(2026, 10, 29, 13), name: 'pageview', visitor_id: '1', pathname: '/json' }], format: 'JSONEachRow' })
    expect(r.summary?.written_rows).toBe('1')
    expect(await one(store.client, "SELECT count() AS n FROM events WHERE site = 'serve.example.com'")).toEqual({ n: 5001 })
  })

  it("answers errors in ClickHouse's words, with its code in X-ClickHouse-Exception-Code", async () => {
    await expect(store.client.query({ query: 'SELECT * FROM no_such_table', format: 'JSONEachRow' })).rejects.toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' })
    await expect(store.client.command({ query: 'SELEKT 1' })).rejects.toMatchObject({ code: '62', type: 'SYNTAX_ERROR' })
    await expect(store.client.insert({ table: 'events', values: [{ site: 1, ts: 'not a time' }], format: 'JSONEachRow' })).rejects.toMatchObject({ type: expect.stringMatching(/^CANNOT_PARSE/) })
    const auth = `Basic ${Buffer.from(`default:${PASSWORD}`).toString('base64')}`
    const res = await fetch(`${url}/?database=analytics`, { method: 'POST', body: 'SELECT nope FROM events', headers: { authorization: auth } })
    expect(res.status).toBe(400)
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('47')
    expect(await res.text()).toMatch(/^Code: 47\. DB::Exception: .*\(UNKNOWN_IDENTIFIER\)/s)
    // a GET is read-only, as on a server
    const get = await fetch(`${url}/?query=${encodeURIComponent('CREATE TABLE x (a UInt8) ENGINE = Memory')}`, { headers: { authorization: auth } })
    expect(get.headers.get('x-clickhouse-exception-code')).toBe('164')
    // a compressed body is read; the summary says what was read
    const gz = await fetch(`${url}/?database=analytics`, { method: 'POST', body: zlib.gzipSync('SELECT count() AS n FROM events FORMAT JSONEachRow'), headers: { authorization: auth, 'content-encoding': 'gzip' } })
    expect(await gz.json()).toEqual({ n: 5001 })
    expect(JSON.parse(gz.headers.get('x-clickhouse-summary')!)).toMatchObject({ result_rows: '1' })
  })
})
