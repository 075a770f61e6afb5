import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import path from 'node:path'
import { Spool } from '../../collector/spool/spool.ts'
import { FIRST_EVENT, FIRST_PAGEVIEW, VisitTracker } from '../../collector/visits.ts'
import { beacon, flush, rows, tempDataDir, testApp } from '../helpers/app.ts'

const MIN = 60_000
const TIMEOUT = 30 * MIN
const T0 = Date.UTC(2026, 10, 30, 10)

describe('VisitTracker', () => {
  it('continues a visit up to the timeout after its latest event, and starts a new one after', () => {
    const t = new VisitTracker()
    const a = t.assign('example.com', '7', T0, TIMEOUT, true)
    expect(a.flags).toBe(FIRST_EVENT | FIRST_PAGEVIEW)
    const b = t.assign('example.com', '7', T0 + 29 * MIN, TIMEOUT, true)
    expect(b).toEqual({ visitId: a.visitId, flags: 0 })
    // measured from the latest event, not the first: 58 minutes after the start is still the same visit
    expect(t.assign('example.com', '7', T0 + 58 * MIN, TIMEOUT, false).visitId).toBe(a.visitId)
    const c = t.assign('example.com', '7', T0 + 88 * MIN + 1, TIMEOUT, false)
    expect(c.visitId).not.toBe(a.visitId)
    expect(c.flags).toBe(FIRST_EVENT)
  })

  it('marks the first pageview of a visit that began with another event', () => {
    const t = new VisitTracker()
    const first = t.assign('example.com', '8', T0, TIMEOUT, false)
    expect(first.flags).toBe(FIRST_EVENT)
    expect(t.assign('example.com', '8', T0 + MIN, TIMEOUT, true)).toEqual({ visitId: first.visitId, flags: FIRST_PAGEVIEW })
    expect(t.assign('example.com', '8', T0 + 2 * MIN, TIMEOUT, true).flags).toBe(0)
  })

  it('never lets a visit span a UTC midnight, nor two sites or visitors share one', () => {
    const t = new VisitTracker()
    const midnight = Date.UTC(2026, 11, 1)
    const late = t.assign('example.com', '9', midnight - MIN, TIMEOUT, true)
    expect(t.assign('example.com', '9', midnight + MIN, TIMEOUT, true).visitId).not.toBe(late.visitId)
    expect(t.assign('shop.example.com', '9', midnight + 2 * MIN, TIMEOUT, true).flags).toBe(FIRST_EVENT | FIRST_PAGEVIEW)
    expect(t.assign('example.com', '10', midnight + 2 * MIN, TIMEOUT, true).flags).toBe(FIRST_EVENT | FIRST_PAGEVIEW)
  })

  it('gives an event older than the visitor\'s latest a visit of its own, and leaves the latest open', () => {
    const t = new VisitTracker()
    const now = t.assign('example.com', '11', T0, TIMEOUT, true)
    const past = t.assign('example.com', '11', T0 - 5 * MIN, TIMEOUT, true)
    expect(past.visitId).not.toBe(now.visitId)
    expect(t.assign('example.com', '11', T0 + MIN, TIMEOUT, true).visitId).toBe(now.visitId)
  })

  it('makes non-zero ids, different for every visit', () => {
    const t = new VisitTracker()
    const ids = new Set(Array.from({ length: 1000 }, (_, i) => t.assign('example.com', String(i + 1), T0, TIMEOUT, true).visitId))
    expect(ids.size).toBe(1000)
    expect([...ids].every((id) => /^[1-9]\d*$/.test(id))).toBe(true)
  })

  it('orders visit ids by the second each visit started (the store sorts visits by them), within 63 bits', () => {
    const t = new VisitTracker()
    const starts = Array.from({ length: 200 }, (_, i) => T0 + i * 1500)
    const ids = starts.map((ts, i) => BigInt(t.assign('example.com', String(500 + i), ts, TIMEOUT, true).visitId))
    const second = (ms: number) => BigInt(Math.floor(ms / 1000) - Date.UTC(2020, 0, 1) / 1000)
    ids.forEach((id, i) => {
      expect(id >> 31n).toBe(second(starts[i]))
      expect(id < 2n ** 63n).toBe(true)
      if (i > 0 && second(starts[i]) > second(starts[i - 1])) expect(id > ids[i - 1]).toBe(true)
    })
    // a later event of a visit keeps the visit's id, so every row of a visit sorts together
    expect(t.assign('example.com', '500', T0 + 10 * MIN, TIMEOUT, false).visitId).toBe(String(ids[0]))
  })

  it('holds at most its bound of visitors', () => {
    const t = new VisitTracker(10)
    for (let i = 1; i <= 50; i++) t.assign('example.com', String(i), T0, TIMEOUT, true)
    expect(t.size).toBe(10)
  })
})

describe('visits in a spool\'s backlog', () => {
  it('go on after a restart: the next event of the visitor continues the visit the backlog holds', async () => {
    const dir = path.join(tempDataDir(), 'spool')
    const opts = { dir, fsync: false, segmentRows: 100, segmentMs: 50, capBytes: 1e9 }
    const before = new Spool(opts)
    const row = (visitor: string, visit: string, ts: number, name = 'pageview') => ({ site: 'example.com', visitor_id: visitor, visit_id: visit, visit_flags: 0, ts, name })
    await before.append(row('21', '9001', T0))
    await before.append(row('21', '9001', T0 + 5 * MIN, 'engagement'))
    await before.append(row('22', '9002', T0 - 2 * 3_600_000)) // long over
    await before.close() // a crash: the segment was never sent
    const after = new Spool(opts)
    const tracker = new VisitTracker()
    for (const r of after.backlogSince(0)) tracker.observe(r)
    expect(tracker.assign('example.com', '21', T0 + 10 * MIN, TIMEOUT, true)).toEqual({ visitId: '9001', flags: 0 })
    expect(tracker.assign('example.com', '22', T0 + 10 * MIN, TIMEOUT, true).visitId).not.toBe('9002')
    // segments made before the window are not read at all
    expect([...after.backlogSince(Date.now() + 60_000)]).toEqual([])
    await after.close()
  })
})

describe('visits across a restart', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await testApp()
  })
  afterAll(async () => {
    await app?.close()
  })

  it('a visitor\'s next event after a restart continues the visit the store holds', async () => {
    const send = (path: string) => beacon(app, { n: 'pageview', u: `https://example.com${path}`, d: 'example.com' }, { ip: '2001:db8:77::1' })
    expect((await send('/before')).statusCode).toBe(202)
    await flush(app)
    // a fresh tracker, as after a restart, reloaded from the store
    const restored = new VisitTracker()
    expect(await restored.restore(app.runtime.store.client, app.runtime.clock.now(), TIMEOUT)).toBeGreaterThanOrEqual(1)
    app.runtime.pipeline.visits = restored
    expect((await send('/after')).statusCode).toBe(202)
    await flush(app)
    const visits = await rows<{ visits: number; pageviews: number }>(app, "SELECT count() AS visits, sum(pageviews) AS pageviews FROM visits FINAL WHERE site = 'example.com'")
    expect(visits[0]).toEqual({ visits: 1, pageviews: 2 })
  })
})
