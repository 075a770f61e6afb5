/**
 * The embedded store's client (EngineConnection in store/client.ts): queries with parameters
 * run side by side, each with its own parameters and settings. Its own file: chDB binds one
 * data directory per process.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { openStore, type Store } from '../../store/client.ts'
import { tempDataDir } from '../helpers/app.ts'

let store: Store
beforeAll(async () => {
  store = await openStore({ dataDir: tempDataDir(), clickhouseDatabase: 'analytics' })
})
afterAll(() => store.close())

const rows = async <T>(query: string, query_params: Record<string, unknown>, clickhouse_settings = {}) =>
  (await store.client.query({ query, query_params, clickhouse_settings, format: 'JSONEachRow' })).json<T>()

it('runs a query with parameters while another one runs (chdb/connection ran them one at a time)', async () => {
  // the long one sleeps in the engine; the other asks the engine what runs meanwhile
  const long = rows<{ n: number }>('SELECT count() AS n, {tag:String} AS long_running_marker FROM numbers(30) WHERE sleepEachRow(0.1) = 0', { tag: 'long' })
  let seen = 0
  for (let i = 0; i < 50 && seen === 0; i++) {
    await new Promise((r) => setTimeout(r, 20))
    const [{ n }] = await rows<{ n: number }>(
      "SELECT count() AS n FROM system.processes WHERE query LIKE concat('%', {marker:String}, '%') AND query NOT LIKE '%system.processes%'",
      { marker: 'long_running_marker' },
    )
    seen = Number(n)
  }
  expect(seen).toBe(1)
  expect(await long).toEqual([{ n: 30, long_running_marker: 'long' }])
})

it('gives each of many queries at once its own parameters and settings, and none of another’s', async () => {
  const asked = Array.from({ length: 24 }, (_, i) => i)
  const answers = await Promise.all(
    asked.map((i) =>
      rows<{ x: number; s: string; threads: string }>(
        "SELECT {x:UInt32} AS x, {s:String} AS s, getSetting('max_threads') AS threads",
        i % 3 === 0 ? { x: i, s: `it's ${i}\\` } : { x: i, s: String(i) },
        i % 2 === 0 ? { max_threads: 1 } : {},
      ),
    ),
  )
  answers.forEach(([row], i) => {
    expect(row.x).toBe(i)
    expect(row.s).toBe(i % 3 === 0 ? `it's ${i}\\` : String(i))
    expect(Number(row.threads) === 1).toBe(i % 2 === 0)
  })
  // a parameter an earlier query set is not there for a later one that does not pass it
  await expect(rows('SELECT {x:UInt32} AS x', {})).rejects.toThrow(/x/)
})
