import fs from 'node:fs'
import zlib from 'node:zlib'
import { stop, transform } from 'esbuild'
import type { FastifyInstance } from 'fastify'

export const TRACKER_SOURCE = new URL('../tracker/tracker.js', import.meta.url)

let minifying = 0

/**
 * The tracker minified, and gzipped once: it is served from memory. esbuild's service process
 * (12 MB) is stopped once no minifying is under way; another call starts it again.
 */
export async function buildTracker(): Promise<{ js: Buffer; gz: Buffer }> {
  const source = fs.readFileSync(TRACKER_SOURCE, 'utf8')
  minifying++
  const { code } = await transform(source, { minify: true, target: 'es2017', legalComments: 'none' }).finally(() => {
    if (--minifying === 0) void stop()
  })
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
