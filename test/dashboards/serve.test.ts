/** Serving the dashboards: a server without a build builds one as it starts listening; client routes never hide server routes. */
import fs from 'node:fs'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dashboardRoutes } from '../../dashboards/serve.ts'
import { tempDataDir } from '../helpers/app.ts'

let app: FastifyInstance
let origin = ''
const dist = path.join(tempDataDir('dashboards-dist-'), 'dist')

beforeAll(async () => {
  // a server with a few routes of its own, as the app has, and the dashboards with their own, missing, build
  app = Fastify()
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }))
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/privacy.json', async () => ({ policy: 'strict' }))
  app.get('/api/v1/stats/aggregate', async () => ({ results: {} }))
  await app.register(dashboardRoutes, { dist })
  await app.listen({ host: '127.0.0.1', port: 0 })
  origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}, 120_000)
afterAll(async () => {
  await app?.close()
  fs.rmSync(path.dirname(dist), { recursive: true, force: true })
})

describe('dashboards without a build', () => {
  it('builds them when the server listens; the first page waits for the build', async () => {
    expect(fs.existsSync(path.join(dist, 'index.html'))).toBe(false)
    const page = await fetch(`${origin}/sites/example.com`)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('<div id="app">')
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]
    const asset = await fetch(origin + script)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('cache-control')).toContain('immutable')
    // every body read to its end: a response left unread keeps its connection busy, and the server's close waits for it
    expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(0)
    // a name the build did not make is a 404 that no cache keeps for a year (issue 13, point 8)
    for (const missing of ['/assets/nothing.js', '/assets/', '/assets/deeper/nothing.js', `${script}.map`]) {
      const res = await fetch(origin + missing)
      expect(res.status, missing).toBe(404)
      expect(res.headers.get('cache-control'), missing).toBe('no-store')
      await res.arrayBuffer()
    }
    const icon = await fetch(`${origin}/favicon.svg`)
    expect(icon.headers.get('content-type')).toMatch(/svg/)
    expect(await icon.text()).toContain('<svg')
  }, 60_000)

  it('never answers for a server route', async () => {
    for (const p of ['/api/v1/unknown', '/api', '/privacy/x', '/healthz/x']) {
      const res = await fetch(origin + p)
      expect(res.status, p).toBe(404)
      expect(await res.json()).toEqual({ error: 'not found' })
    }
    expect(await (await fetch(`${origin}/privacy.json`)).json()).toEqual({ policy: 'strict' })
    expect(await (await fetch(`${origin}/api/v1/stats/aggregate`)).json()).toEqual({ results: {} })
    const health = await fetch(`${origin}/healthz`)
    expect(health.headers.get('content-type')).toMatch(/json/)
    await health.arrayBuffer()
  })
})
