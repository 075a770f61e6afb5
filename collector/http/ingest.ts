import cors from '@fastify/cors'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isDrop, runPipeline } from '../pipeline/index.ts'
import { SpoolFullError } from '../spool/spool.ts'
import type { Runtime } from '../runtime.ts'

const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')
const RETRY_AFTER_S = 30

/** A JSON body that never echoes the input back in an error. */
export function parseJsonBody(_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) {
  try {
    done(null, JSON.parse(body))
  } catch {
    const err = new Error('body is not valid JSON') as Error & { statusCode: number }
    err.statusCode = 400
    done(err)
  }
}

function signals(req: FastifyRequest) {
  return { dnt: req.headers.dnt === '1', gpc: req.headers['sec-gpc'] === '1' }
}

/**
 * Runs one beacon through the pipeline and the spool. Returns the status to answer:
 * 202 stored or deliberately dropped, 400 invalid, 503 while the spool is full.
 */
interface Outcome {
  status: number
  error?: string
  dropped?: string
  /** Whether the site's policy lets the tracker keep a last-visit day on the device. */
  lastVisitDay?: boolean
}

async function ingest(rt: Runtime, req: FastifyRequest, body: unknown): Promise<Outcome> {
  const result = runPipeline(
    { body, ip: req.ip, userAgent: req.headers['user-agent'] ?? '', ...signals(req), receivedAt: Date.now() },
    rt.pipeline,
  )
  if (isDrop(result)) {
    return result.drop === 'invalid' ? { status: 400, error: result.detail ?? 'invalid event' } : { status: 202, dropped: result.drop }
  }
  try {
    await rt.spool.append(result)
    return { status: 202, lastVisitDay: rt.policy.forSite(result.site).lastVisitDay }
  } catch (err) {
    if (err instanceof SpoolFullError) return { status: 503, error: 'the collector is catching up; retry later' }
    req.log.error({ err: (err as Error).message }, 'spool append failed')
    return { status: 503, error: 'the event could not be made durable; retry later' }
  }
}

function answer(reply: FastifyReply, r: Outcome) {
  if (r.status === 503) reply.header('retry-after', String(RETRY_AFTER_S))
  if (r.dropped) reply.header('x-analytics-dropped', r.dropped)
  return reply.code(r.status).send(r.error ? { error: r.error } : r.lastVisitDay ? { ok: true, lv: true } : { ok: true })
}

/** Beacon routes: open to every origin (CORS), small bodies, JSON or text/plain. */
export async function ingestRoutes(app: FastifyInstance, { runtime }: { runtime: Runtime }) {
  await app.register(cors, { origin: '*', methods: ['POST', 'GET'], maxAge: 86400 })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string', bodyLimit: runtime.config.bodyLimit }, parseJsonBody)

  app.post('/api/event', {
    bodyLimit: runtime.config.bodyLimit,
    schema: {
      response: {
        202: { type: 'object', properties: { ok: { type: 'boolean' }, lv: { type: 'boolean' } } },
        '4xx': { type: 'object', properties: { error: { type: 'string' } } },
        503: { type: 'object', properties: { error: { type: 'string' } } },
      },
    },
  }, async (req, reply) => answer(reply, await ingest(runtime, req, req.body)))

  app.get<{ Querystring: Record<string, string | undefined> }>('/p.gif', async (req, reply) => {
    const q = req.query
    let url = q.u
    const domain = q.d
    // A noscript pixel may carry just a path; the page's Referer or the domain completes it.
    if (!url || url.startsWith('/')) {
      const base = domain ? `https://${domain}` : req.headers.referer
      try {
        url = base ? new URL(url ?? '', base).href : url
      } catch {
        url = undefined
      }
    }
    const r = await ingest(runtime, req, { name: q.n || 'pageview', url, domain, referrer: q.r, screen_width: q.w })
    if (r.status === 503) reply.header('retry-after', String(RETRY_AFTER_S))
    // Always the image; the status still tells a site owner looking at the network panel
    // that a beacon was malformed (400) or not taken (503).
    if (r.error) reply.header('x-analytics-error', r.error)
    return reply
      .code(r.status === 202 ? 200 : r.status)
      .header('cache-control', 'no-store, no-cache, must-revalidate, max-age=0')
      .header('pragma', 'no-cache')
      .header('expires', '0')
      .type('image/gif')
      .send(GIF)
  })
}
