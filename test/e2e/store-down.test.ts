import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../server/app.ts'
import { ADMIN_TOKEN, DOC_IPS, beacon, flush, rows, tempDataDir, testConfig } from '../helpers/app.ts'

/**
 * The store failing at start: a ClickHouse URL that refuses connections. The collector starts
 * anyway, spools beacons for the sites it last knew up to the cap (then 503 + Retry-After),
 * answers the stats API 503, and a later start on a store that answers drains the spool.
 * (No ClickHouse server exists here: the recovery is into the embedded store on the same data
 * directory, which is the same spool replay a server would get.)
 */

/** A port on 127.0.0.1 that refuses connections: bound a moment, then closed. */
async function refusingUrl(): Promise<string> {
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as net.AddressInfo
  await new Promise((r) => srv.close(r))
  return `http://127.0.0.1:${port}`
}

const CAP = 4096
let dataDir: string
let refusing: string

beforeAll(async () => {
  dataDir = tempDataDir()
  refusing = await refusingUrl()
  // an earlier run on a store that answered: example.com registered, its list kept on disk
  const first = await buildApp(testConfig({ dataDir }), { logger: false })
  await first.runtime.sites.add('example.com')
  await first.close()
})

const send = (app: FastifyInstance, i: number) => beacon(app, { n: 'pageview', u: `https://example.com/down/${i}`, d: 'example.com' }, { ip: DOC_IPS[i % DOC_IPS.length] })

describe('a store that refuses connections at start', () => {
  const accepted: number[] = []

  it('with no list of sites kept yet: starts, and answers beacons 503 with Retry-After', async () => {
    const app = await buildApp(testConfig({ clickhouseUrl: refusing }), { logger: false })
    try {
      // the design's fixed point: /healthz answers 200 once the store is ready, not before
      const health = await app.inject({ url: '/healthz' })
      expect(health.statusCode).toBe(503)
      expect(health.json()).toMatchObject({ status: 'degraded', storeReady: false })
      const res = await send(app, 0)
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBeDefined()
      expect(res.json().error).toMatch(/retry/)
    } finally {
      await app.close()
    }
  })

  it('with the sites last known: beacons get 202 until the spool cap, then 503 with Retry-After', async () => {
    const app = await buildApp(testConfig({ dataDir, clickhouseUrl: refusing, spoolCapBytes: CAP, batchMs: 20 }), { logger: false })
    try {
      const res = await app.inject({ url: '/healthz' })
      expect(res.statusCode).toBe(503)
      const health = res.json()
      expect(health).toMatchObject({ status: 'degraded', store: 'server', storeReady: false })
      expect(health.storeError).toMatch(/ECONNREFUSED/)
      const statuses: number[] = []
      for (let i = 0; i < 200; i++) {
        const res = await send(app, i)
        statuses.push(res.statusCode)
        if (res.statusCode === 202) accepted.push(i)
        else {
          expect(res.statusCode).toBe(503)
          expect(res.headers['retry-after']).toBe('30')
        }
        // let the segments seal, so the spool's size counts what was taken
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 40))
      }
      expect(accepted.length).toBeGreaterThan(5)
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(5)
      // once refused, refused until the store drains: no 202 after the first 503
      expect(statuses.slice(statuses.indexOf(503)).every((s) => s === 503)).toBe(true)
      // the stats API cannot answer without its store: 503, not 500
      const stats = await app.inject({ url: '/api/v1/stats/aggregate?site=example.com&period=day', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      expect(stats.statusCode).toBe(503)
      expect(stats.headers['retry-after']).toBeDefined()
      expect(stats.json()).toEqual({ error: 'the store is unavailable; retry later' })
    } finally {
      await app.close()
    }
    const spooled = fs.readdirSync(path.join(dataDir, 'spool')).filter((f) => f.endsWith('.ndjson'))
    expect(spooled.length).toBeGreaterThan(0)
  })

  it('a start on a store that answers drains the spool: every accepted beacon stored once', async () => {
    const app = await buildApp(testConfig({ dataDir }), { logger: false })
    try {
      await flush(app)
      const stored = await rows<{ p: string; c: number }>(app, "SELECT pathname AS p, count() AS c FROM events WHERE pathname LIKE '/down/%' GROUP BY p")
      const byPath = new Map(stored.map((r) => [r.p, Number(r.c)]))
      for (const i of accepted) expect(byPath.get(`/down/${i}`), `/down/${i}`).toBe(1)
      expect(stored.length).toBe(accepted.length)
      const health = await app.inject({ url: '/healthz' })
      expect(health.statusCode).toBe(200)
      expect(health.json()).toMatchObject({ status: 'ok', storeReady: true, spoolBytes: 0 })
    } finally {
      await app.close()
    }
  })
})
