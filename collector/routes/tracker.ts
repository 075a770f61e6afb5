import fs from 'node:fs'
import zlib from 'node:zlib'
import { transform } from 'esbuild'
import type { FastifyInstance } from 'fastify'

export const TRACKER_SOURCE = new URL('../tracker/tracker.js', import.meta.url)

/** The tracker minified, and gzipped once: it is served from memory. */
export async function buildTracker(): Promise<{ js: Buffer; gz: Buffer }> {
  const source = fs.readFileSync(TRACKER_SOURCE, 'utf8')
  const { code } = await transform(source, { minify: true, target: 'es2017', legalComments: 'none' })
  const js = Buffer.from(code)
  return { js, gz: zlib.gzipSync(js, { level: 9 }) }
}

export async function trackerRoutes(app: FastifyInstance) {
  const tracker = await buildTracker()
  app.get('/t.js', async (req, reply) => {
    reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .header('access-control-allow-origin', '*')
      .header('vary', 'Accept-Encoding')
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(tracker.gz)
    return reply.send(tracker.js)
  })
}
