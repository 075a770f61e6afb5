import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../server/app.ts'
import { checkRole } from '../../server/roles.ts'
import { ENGINE_ARGS } from '../../store/client.ts'
import { Engine } from '../../store/engine.ts'
import { buildStoreServer } from '../../store/serve.ts'
import { ADMIN_TOKEN, beacon, tempDataDir, testConfig, visitorIp } from '../helpers/app.ts'

/** Each role serves its part only, over a store other processes share (here `store serve` in this process). */
const PASSWORD = 'roles-test-password'
let engine: Engine
let store: FastifyInstance
let collector: FastifyInstance
let aggregator: FastifyInstance
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

beforeAll(async () => {
  engine = await Engine.open(path.join(tempDataDir(), 'clickhouse'), ENGINE_ARGS)
  store = await buildStoreServer({ engine, user: 'default', password: PASSWORD, logLevel: 'silent' })
  await store.listen({ host: '127.0.0.1', port: 0 })
  const shared = { clickhouseUrl: `http://127.0.0.1:${(store.server.address() as { port: number }).port}`, clickhousePassword: PASSWORD, leaseTtlMs: 3_000 }
  aggregator = await buildApp(testConfig(shared), { logger: false, role: 'aggregator' })
  await aggregator.inject({ method: 'POST', url: '/api/v1/sites', headers: auth, payload: { domain: 'example.com' } })
  collector = await buildApp(testConfig(shared), { logger: false, role: 'collector' })
})
afterAll(async () => {
  await collector?.close()
  await aggregator?.close()
  await store?.close()
  await engine?.close()
})

describe('roles', () => {
  it('a collector takes beacons and answers nothing else of the aggregator', async () => {
    expect((await beacon(collector, { n: 'pageview', u: 'https://example.com/', d: 'example.com' }, { ip: visitorIp(1) })).statusCode).toBe(202)
    expect((await collector.inject({ url: '/t.js' })).statusCode).toBe(200)
    expect((await collector.inject({ url: '/privacy.json' })).statusCode).toBe(200)
    for (const url of ['/api/v1/stats/aggregate?site=example.com&metrics=events', '/api/v1/sites', '/']) {
      expect((await collector.inject({ url, headers: auth })).statusCode, url).toBe(404)
    }
    const health = (await collector.inject({ url: '/healthz' })).json()
    expect(health).toMatchObject({ status: 'ok', role: 'collector', store: 'server', spoolBytes: expect.any(Number) })
    expect(health).not.toHaveProperty('jobs')
    expect(() => collector.runtime.rollups).toThrow(/collector role has no rollup job/)
  })

  it('an aggregator answers questions, runs the scheduled jobs, and takes no beacons', async () => {
    expect((await beacon(aggregator, { n: 'pageview', u: 'https://example.com/', d: 'example.com' })).statusCode).toBe(404)
    expect((await aggregator.inject({ url: '/api/v1/stats/aggregate?site=example.com&period=day&metrics=events', headers: auth })).statusCode).toBe(200)
    expect(() => aggregator.runtime.spool).toThrow(/aggregator role has no spool/)
    // the only aggregator takes the jobs lease (a take waits a second for contenders)
    let health = (await aggregator.inject({ url: '/healthz' })).json()
    for (let i = 0; i < 50 && !health.jobs; i++) {
      await new Promise((r) => setTimeout(r, 100))
      health = (await aggregator.inject({ url: '/healthz' })).json()
    }
    expect(health).toMatchObject({ status: 'ok', role: 'aggregator', jobs: true })
    expect(health).not.toHaveProperty('spoolBytes')
  })

  it('a role of its own needs a store other processes reach', () => {
    expect(() => checkRole('collector', {})).toThrow(/CLICKHOUSE_URL/)
    expect(() => checkRole('everything', { clickhouseUrl: 'http://127.0.0.1:8123' })).toThrow(/--role must be one of all, collector, aggregator/)
    expect(checkRole('all', {})).toBe('all')
    expect(checkRole('aggregator', { clickhouseUrl: 'http://127.0.0.1:8123' })).toBe('aggregator')
  })
})
