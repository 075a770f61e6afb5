import crypto from 'node:crypto'
import fs from 'node:fs'
import zlib from 'node:zlib'
import type { FastifyInstance } from 'fastify'

export const TRACKER_SOURCE = new URL('../tracker/tracker.js', import.meta.url)
/** The minified tracker kept beside the server's bundle, with the SHA-256 of the source it came from. */
const MINIFIED = new URL('../../.build/tracker.min.json', import.meta.url)

let minifying = 0

/**
 * The tracker minified, and gzipped once: it is served from memory. The minified code is kept
 * in `.build/` with the hash of its source and read back while the source is unchanged, so a
 * start loads no esbuild (its JavaScript API stays out of the server's heap, its service process
 * is not started); otherwise esbuild minifies it, and its service is stopped once no minifying
 * is under way. A `.build/` that cannot be written only means minifying at every start.
 */
export async function buildTracker(): Promise<{ js: Buffer; gz: Buffer }> {
  const source = fs.readFileSync(TRACKER_SOURCE, 'utf8')
  const sha256 = crypto.hash('sha256', source)
  let code = kept(sha256)
  if (code === null) {
    code = await minify(source)
    keep(sha256, code)
  }
  const js = Buffer.from(code)
  return { js, gz: zlib.gzipSync(js, { level: 9 }) }
}

async function minify(source: string): Promise<string> {
  const { stop, transform } = await import('esbuild')
  minifying++
  const { code } = await transform(source, { minify: true, target: 'es2017', legalComments: 'none' }).finally(() => {
    if (--minifying === 0) void stop()
  })
  return code
}

function kept(sha256: string): string | null {
  try {
    const saved = JSON.parse(fs.readFileSync(MINIFIED, 'utf8')) as { sha256?: unknown; code?: unknown }
    return saved.sha256 === sha256 && typeof saved.code === 'string' ? saved.code : null
  } catch {
    return null
  }
}

function keep(sha256: string, code: string): void {
  const tmp = new URL(`${MINIFIED.href}.${process.pid}.tmp`)
  try {
    fs.mkdirSync(new URL('.', MINIFIED), { recursive: true })
    fs.writeFileSync(tmp, JSON.stringify({ sha256, code }))
    fs.renameSync(tmp, MINIFIED)
  } catch {
    fs.rmSync(tmp, { force: true })
  }
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
