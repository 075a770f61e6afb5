import cors, { type FastifyCorsOptions } from '@fastify/cors'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Sites } from '../../accounts/sites.ts'
import type { Clock } from '../clock.ts'
import { isDrop, runPipeline } from '../pipeline/index.ts'
import type { PipelineContext } from '../pipeline/types.ts'
import { SpoolFullError, type Spool } from '../spool/spool.ts'
import { clientKey, RateLimiter, tooManyRequests } from '../../http/rate-limit.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/cors's options for this route (merged over the plugin's), read on each request. */
    cors?: boolean | FastifyCorsOptions
  }
}

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

/** What the beacon routes use: the pipeline and the spool it feeds, and their limits. */
export interface IngestDeps {
  /** Whether a list of sites is known yet (after a start with the store down, maybe not). */
  sites: Sites
  pipeline: PipelineContext
  spool: Spool
  /** Event times that never go back. */
  clock: Clock
  bodyLimit: number
  /** Beacons a client may send a minute; 0: no limit. */
  ingestRateLimit: number
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

async function ingest(deps: IngestDeps, req: FastifyRequest, body: unknown): Promise<Outcome> {
  // Started while the store was down, with no list of sites kept: which beacons to take is unknown.
  if (!deps.sites.known) return { status: 503, error: 'the collector is starting; retry later' }
  const result = runPipeline(
    { body, ip: req.ip, userAgent: req.headers['user-agent'] ?? '', ...signals(req), receivedAt: deps.clock.eventTime() },
    deps.pipeline,
  )
  if (isDrop(result)) {
    return result.drop === 'invalid' ? { status: 400, error: result.detail ?? 'invalid event' } : { status: 202, dropped: result.drop }
  }
  try {
    await deps.spool.append(result)
    return { status: 202, lastVisitDay: deps.pipeline.policy.forSite(result.site).lastVisitDay }
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

/**
 * The pixel: always the image, never cached. A status other than 200 still tells a site owner
 * looking at the network panel that a beacon was malformed (400), not taken (503) or over the
 * client's limit (429), and `x-analytics-error` says why.
 */
function pixel(reply: FastifyReply, status: number, error?: string, retryAfterS?: number) {
  if (retryAfterS) reply.header('retry-after', String(retryAfterS))
  if (error) reply.header('x-analytics-error', error)
  return reply
    .code(status)
    .header('cache-control', 'no-store, no-cache, must-revalidate, max-age=0')
    .header('pragma', 'no-cache')
    .header('expires', '0')
    .type('image/gif')
    .send(GIF)
}

const TOO_MANY_EVENTS = 'too many events from this client: retry later'

/** Each client's beacons a minute, by the spool they feed (one per app; tests look at its keys). */
const beaconLimiters = new WeakMap<Spool, RateLimiter>()
export const beaconLimiter = (spool: Spool): RateLimiter | undefined => beaconLimiters.get(spool)

/** An onRequest hook counting the client's beacons; over the limit `over` answers and nothing is ingested. */
function limitBeacons(limiter: RateLimiter, over: (reply: FastifyReply, retryAfterS: number) => unknown) {
  return function beaconLimit(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const wait = limiter.hit(clientKey(req.ip))
    if (wait === 0) return done()
    over(reply, wait)
  }
}

/** Only the beacon routes are open to other origins (their preflight too); no other route answers CORS. */
const BEACON_CORS: FastifyCorsOptions = { origin: '*', methods: ['POST', 'GET'], maxAge: 86400 }

/** Beacon routes: open to every origin (CORS), small bodies, JSON or text/plain, a per-client rate limit. */
export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps) {
  // CORS is off unless a route's config turns it on: @fastify/cors's preflight route is `OPTIONS *`,
  // which would otherwise answer a preflight for any path of the server.
  await app.register(cors, { origin: false })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string', bodyLimit: deps.bodyLimit }, parseJsonBody)

  const perMinute = deps.ingestRateLimit
  const limiter = perMinute > 0 ? new RateLimiter({ max: perMinute, windowMs: 60_000 }) : undefined
  if (limiter) beaconLimiters.set(deps.spool, limiter)
  const limitNote = perMinute > 0 ? ` At most ${perMinute} a minute per client (INGEST_RATE_LIMIT), then 429 with Retry-After.` : ''

  for (const url of ['/api/event', '/p.gif']) {
    app.options(url, { config: { cors: BEACON_CORS }, schema: { hide: true } }, async (_req, reply) => reply.code(204).send())
  }

  app.post('/api/event', {
    bodyLimit: deps.bodyLimit,
    config: { cors: BEACON_CORS },
    onRequest: limiter ? limitBeacons(limiter, (reply, wait) => tooManyRequests(reply, wait, TOO_MANY_EVENTS)) : undefined,
    schema: {
      summary: `One event (JSON or text/plain): 202 once durable or deliberately dropped.${limitNote}`,
      response: {
        202: { type: 'object', properties: { ok: { type: 'boolean' }, lv: { type: 'boolean' } } },
        '4xx': { type: 'object', properties: { error: { type: 'string' } } },
        503: { type: 'object', properties: { error: { type: 'string' } } },
      },
    },
  }, async (req, reply) => answer(reply, await ingest(deps, req, req.body)))

  app.get<{ Querystring: Record<string, string | undefined> }>('/p.gif', {
    config: { cors: BEACON_CORS },
    onRequest: limiter ? limitBeacons(limiter, (reply, wait) => pixel(reply, 429, TOO_MANY_EVENTS, wait)) : undefined,
    schema: { summary: `The tracking pixel: d, u, r, w, n in the query; always a 1×1 GIF, never cached.${limitNote}` },
  }, async (req, reply) => {
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
    const r = await ingest(deps, req, { name: q.n || 'pageview', url, domain, referrer: q.r, screen_width: q.w })
    return pixel(reply, r.status === 202 ? 200 : r.status, r.error, r.status === 503 ? RETRY_AFTER_S : undefined)
  })
}
