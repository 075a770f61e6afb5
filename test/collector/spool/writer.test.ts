import fs from 'node:fs'
import path from 'node:path'
import { createClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Spool, SpoolFullError } from '../../../collector/spool/spool.ts'
import { SpoolWriter } from '../../../collector/spool/writer.ts'
import { insertOverHttp } from '../../../store/insert-block.ts'
import { beacon, flush, rows, tempDataDir, testApp } from '../../helpers/app.ts'

const quiet = { warn() {}, error() {}, info() {} } as never

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp()
})
afterAll(async () => {
  await app?.close()
})

const count = async (site: string) => (await rows<{ c: number }>(app, 'SELECT count() c FROM events WHERE site = {site:String}', { site }))[0].c

function row(site: string, i: number) {
  return { site, ts: Date.now(), name: 'pageview', visitor_id: String(i + 1), hostname: site, pathname: `/p${i}`, props: {} }
}

describe('spool and writer', () => {
  it('a segment replayed after a crash is stored exactly once', async () => {
    const dir = tempDataDir()
    const spool = new Spool({ dir, fsync: true, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    await Promise.all(Array.from({ length: 10 }, (_, i) => spool.append(row('replay.example.com', i))))
    spool.seal()
    const seg = spool.peek()!
    const copy = fs.readFileSync(seg.file)
    const writer = new SpoolWriter(spool, app.runtime.store.insertBlock, quiet)
    writer.start()
    expect(await writer.flush(5000)).toBe(true)
    await writer.stop()
    expect(await count('replay.example.com')).toBe(10)
    // The process died after the insert but before the segment was deleted: it comes back.
    fs.writeFileSync(seg.file, copy)
    const again = new Spool({ dir, fsync: true, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    expect(again.peek()?.name).toBe(seg.name)
    const writer2 = new SpoolWriter(again, app.runtime.store.insertBlock, quiet)
    writer2.start()
    expect(await writer2.flush(5000)).toBe(true)
    await writer2.stop()
    expect(await count('replay.example.com')).toBe(10)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('a segment read back after a restart is the very Native block the process built while writing it', async () => {
    const dir = tempDataDir()
    const spool = new Spool({ dir, fsync: true, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    const rows = Array.from({ length: 50 }, (_, i) => ({ ...row('block.example.com', i), city: i % 2 ? 'Zürich' : '', props: i % 3 ? {} : { plan: `p${i}` } }))
    await Promise.all(rows.map((r) => spool.append(r)))
    spool.seal()
    const built = spool.peek()!.block!
    expect(built.rows).toBe(50)
    const replayed = new Spool({ dir, fsync: true, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    const seg = replayed.peek()!
    expect(seg.block).toBeUndefined()
    expect(replayed.toBlock(seg).bytes.equals(built.bytes)).toBe(true)
  })

  it('a torn last record is reported and skipped, the intact ones replayed', async () => {
    const dir = tempDataDir()
    const name = '000000000000001-000000-aaaaaaaaaaaa.ndjson'
    const good = [row('torn.example.com', 1), row('torn.example.com', 2)].map((r) => JSON.stringify(r) + '\n').join('')
    fs.writeFileSync(path.join(dir, name), good + JSON.stringify(row('torn.example.com', 3)).slice(0, 40))
    const torn: string[] = []
    const spool = new Spool({ dir, fsync: false, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9, onTorn: (s) => torn.push(s) })
    const writer = new SpoolWriter(spool, app.runtime.store.insertBlock, quiet)
    writer.start()
    expect(await writer.flush(5000)).toBe(true)
    await writer.stop()
    expect(torn).toEqual([name])
    expect(await count('torn.example.com')).toBe(2)
  })

  it('a segment the store cannot parse is set aside (kept on disk, reported), and the segments after it go on', async () => {
    const dir = tempDataDir()
    const spool = new Spool({ dir, fsync: false, segmentRows: 3, segmentMs: 60_000, capBytes: 1e9 })
    const errors: string[] = []
    const log = { warn() {}, info() {}, error: (o: { segment: string }, msg: string) => errors.push(`${o.segment}: ${msg}`) } as never
    // a row the events table cannot take (a time with a fraction of a millisecond)
    await Promise.all([0, 1, 2].map((i) => spool.append({ ...row('poison.example.com', i), ts: 1795978048455.4731 })))
    await Promise.all([3, 4, 5].map((i) => spool.append(row('poison.example.com', i))))
    const bad = spool.peek()!
    const writer = new SpoolWriter(spool, app.runtime.store.insertBlock, log)
    writer.start()
    expect(await writer.flush(10_000)).toBe(true)
    await writer.stop()
    expect(await count('poison.example.com')).toBe(3) // the good segment, behind the bad one
    expect(writer.stats.rejectedSegments).toBe(1)
    expect(fs.readdirSync(path.join(dir, 'rejected'))).toEqual([bad.name])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(bad.name)
    expect(errors[0]).not.toMatch(/poison|pageview/) // the log names the file, never its rows
  })

  it('while the store refuses connections the spool keeps everything, up to its cap; recovery drains it', async () => {
    const dir = tempDataDir()
    const spool = new Spool({ dir, fsync: false, segmentRows: 5, segmentMs: 60_000, capBytes: 4000 })
    const down = createClient({ url: 'http://127.0.0.1:9', request_timeout: 1000 })
    const writer = new SpoolWriter(spool, insertOverHttp(down), quiet)
    writer.start()
    let accepted = 0
    let full = false
    for (let i = 0; i < 200 && !full; i++) {
      try {
        await spool.append(row('outage.example.com', i))
        accepted++
      } catch (err) {
        expect(err).toBeInstanceOf(SpoolFullError)
        full = true
      }
    }
    expect(full).toBe(true)
    expect(accepted).toBeGreaterThan(5)
    await new Promise((r) => setTimeout(r, 600))
    expect(writer.stats.failures).toBeGreaterThan(0)
    expect(writer.stats.lastError).not.toMatch(/outage|pageview/)
    await writer.stop()
    await down.close()
    expect(await count('outage.example.com')).toBe(0)
    // The store is back: a new writer (as after a restart) drains what was kept.
    const again = new Spool({ dir, fsync: false, segmentRows: 5, segmentMs: 60_000, capBytes: 4000 })
    const writer2 = new SpoolWriter(again, app.runtime.store.insertBlock, quiet)
    writer2.start()
    expect(await writer2.flush(10_000)).toBe(true)
    await writer2.stop()
    expect(await count('outage.example.com')).toBe(accepted)
  })
})

it('says once when a burst is over: the spool empty a while after a start or a send', async () => {
  const spool = new Spool({ dir: tempDataDir(), fsync: false, segmentRows: 3, segmentMs: 60_000, capBytes: 1e9 })
  let idle = 0
  const writer = new SpoolWriter(spool, app.runtime.store.insertBlock, quiet, { idleMs: 50, onIdle: () => idle++ })
  writer.start()
  await new Promise((r) => setTimeout(r, 1200))
  expect(idle).toBe(1) // the start's own work is over (the spool stayed empty), once
  await new Promise((r) => setTimeout(r, 1200))
  expect(idle).toBe(1) // and no more while nothing is sent
  await Promise.all([0, 1, 2].map((i) => spool.append(row('idle.example.com', i))))
  expect(await writer.flush(5000)).toBe(true)
  await new Promise((r) => setTimeout(r, 2500))
  await writer.stop()
  expect(idle).toBe(2)
  expect(await count('idle.example.com')).toBe(3)
})

it('also says a burst is over when `settled` says so, with nothing sent, and asks it only while nothing of its own is pending', async () => {
  const spool = new Spool({ dir: tempDataDir(), fsync: false, segmentRows: 3, segmentMs: 60_000, capBytes: 1e9 })
  let idle = 0
  let settledNow = false
  const asked: number[] = []
  const writer = new SpoolWriter(spool, app.runtime.store.insertBlock, quiet, {
    idleMs: 50,
    onIdle: () => idle++,
    settled: (quietMs) => {
      asked.push(quietMs)
      return settledNow
    },
  })
  writer.start()
  await new Promise((r) => setTimeout(r, 1200))
  expect(idle).toBe(1) // the start's own burst, which settled was not asked about
  expect(asked).toEqual([])
  await new Promise((r) => setTimeout(r, 1200))
  expect(idle).toBe(1) // asked, and not settled
  expect(asked.length).toBeGreaterThan(0)
  expect(asked.every((ms) => ms === 50)).toBe(true)
  settledNow = true
  await new Promise((r) => setTimeout(r, 1200))
  await writer.stop()
  expect(idle).toBeGreaterThanOrEqual(2)
})

it('flush helper drains the app', async () => {
  await beacon(app, { n: 'pageview', u: 'https://example.com/drain', d: 'example.com' })
  await flush(app)
  expect((await rows<{ c: number }>(app, "SELECT count() c FROM events WHERE pathname = '/drain'"))[0].c).toBe(1)
})

it('a writer\'s deduplication token does not stick to later inserts (chDB sessions keep settings)', async () => {
  const client = app.runtime.store.client
  await beacon(app, { n: 'pageview', u: 'https://example.com/token-first', d: 'example.com' })
  await flush(app) // the writer inserted with its segment's token
  // different rows: identical blocks are deduplicated by content, which is fine
  await client.insert({ table: 'events', values: [row('sticky.example.com', 1)], format: 'JSONEachRow' })
  await client.insert({ table: 'events', values: [row('sticky.example.com', 2)], format: 'JSONEachRow' })
  expect(await count('sticky.example.com')).toBe(2)
})

it('counts the records appended a second over the last five seconds, for the stats API to know how busy the beacons are', async () => {
  const spool = new Spool({ dir: tempDataDir(), fsync: false, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
  vi.useFakeTimers({ toFake: ['Date'] })
  try {
    const t0 = Date.parse('2026-12-03T10:00:00.200Z')
    vi.setSystemTime(t0)
    expect(spool.appendsPerSecond).toBe(0)
    await Promise.all(Array.from({ length: 40 }, (_, i) => spool.append(row('rate.example.com', i))))
    expect(spool.appendsPerSecond).toBe(40 / 5)
    vi.setSystemTime(t0 + 2000)
    await Promise.all(Array.from({ length: 10 }, (_, i) => spool.append(row('rate.example.com', 40 + i))))
    expect(spool.appendsPerSecond).toBe(50 / 5)
    // five seconds on, the first second's records are out of the window; seven on, all of them
    vi.setSystemTime(t0 + 5000)
    expect(spool.appendsPerSecond).toBe(10 / 5)
    vi.setSystemTime(t0 + 7000)
    expect(spool.appendsPerSecond).toBe(0)
    // a clock set back counts into the newest second rather than losing the records
    vi.setSystemTime(t0 - 60_000)
    await Promise.all(Array.from({ length: 5 }, (_, i) => spool.append(row('rate.example.com', 50 + i))))
    expect(spool.appendsPerSecond).toBe(5 / 5)
  } finally {
    vi.useRealTimers()
    await spool.close()
  }
})
