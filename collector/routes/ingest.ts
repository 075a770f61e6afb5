import type { OutgoingHttpHeaders } from 'node:http'
import cors, { type FastifyCorsOptions } from '@fastify/cors'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Sites } from '../../accounts/sites.ts'
import type { Clock } from '../clock.ts'
import { isDrop, runPipeline } from '../pipeline/index.ts'
import { parseBeacon } from '../pipeline/parse-beacon.ts'
import type { Incoming, PipelineContext } from '../pipeline/types.ts'
import type { SitePolicy } from '../../policy/policy.ts'
import { SpoolFullError, type Spool } from '../spool/spool.ts'
import { clientKey, RateLimiter, tooManyRequests } from '../../http/rate-limit.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's address, worked out once a request (from X-Forwarded-For as TRUST_PROXY says, each read of `ip` parses it). */
    clientAddress: string
  }
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

const addressOf = (req: FastifyRequest): string => req.clientAddress || (req.clientAddress = req.ip)

/**
 * Runs one beacon through the pipeline and the spool. Returns the status to answer:
 * 202 stored or deliberately dropped, 400 invalid, 503 while the spool is full.
 */
interface Outcome {
  status: number
  error?: string
  /** Whether the site's policy lets the tracker keep a last-visit day on the device. */
  lastVisitDay?: boolean
}

/**
 * Whether a 202 lets the tracker keep a last-visit day: the policy for the beacon's domain
 * allows it and the request sends no consent signal that policy honours by dropping. Decided by
 * the policy and the request alone, so an accepted beacon and a dropped one (an unknown site, a
 * bot, an excluded page) are answered alike: the answer says nothing about which sites exist.
 */
function keepsLastVisitDay(policy: SitePolicy, { dnt, gpc }: { dnt: boolean; gpc: boolean }): boolean {
  return policy.lastVisitDay && !(dnt && policy.dnt === 'drop') && !(gpc && policy.gpc === 'drop')
}

/**
 * Runs one beacon through the pipeline and the spool; `done` is told the outcome once (at once
 * unless the event is spooled, then once it is durable). A callback rather than a promise: the
 * beacon route makes no promise a beacon (`ingest` is the same as a promise, for the pixel).
 */
function ingestThen(deps: IngestDeps, req: FastifyRequest, body: unknown, receivedAt: number, done: (outcome: Outcome) => void): void {
  // Started while the store was down, with no list of sites kept: which beacons to take is unknown.
  if (!deps.sites.known) return done({ status: 503, error: 'the collector is starting; retry later' })
  // every field written out: a spread (`...signals(req)`) cost a builtin call a beacon (CopyDataProperties)
  const incoming: Incoming = { body, ip: addressOf(req), userAgent: req.headers['user-agent'] ?? '', dnt: req.headers.dnt === '1', gpc: req.headers['sec-gpc'] === '1', receivedAt }
  const result = runPipeline(incoming, deps.pipeline)
  if (isDrop(result)) {
    if (result.drop === 'invalid') return done({ status: 400, error: result.detail ?? 'invalid event' })
    // the drop reason stays here: no header or field tells it (nor so whether the site is registered)
    const parsed = parseBeacon(incoming, deps.pipeline)
    return done({ status: 202, lastVisitDay: !isDrop(parsed) && keepsLastVisitDay(parsed.policy, incoming) })
  }
  deps.spool.appendThen(result, (err) => {
    if (!err) return done({ status: 202, lastVisitDay: keepsLastVisitDay(deps.pipeline.policy.forSite(result.site), incoming) })
    if (err instanceof SpoolFullError) return done({ status: 503, error: 'the collector is catching up; retry later' })
    req.log.error({ err: err.message }, 'spool append failed')
    done({ status: 503, error: 'the event could not be made durable; retry later' })
  })
}

const ingest = (deps: IngestDeps, req: FastifyRequest, body: unknown): Promise<Outcome> => new Promise((resolve) => ingestThen(deps, req, body, deps.clock.eventTime(), resolve))

/** A beacon read and waiting for its turn's run through the pipeline (`beaconsByTurn`). */
interface Waiting {
  req: FastifyRequest
  reply: FastifyReply
  /** When it arrived: its event's time, as if it had been run at once. */
  receivedAt: number
}

/**
 * Beacons whose bodies were read in one turn of the event loop go through the pipeline together,
 * at the turn's end (`setImmediate`), rather than each as soon as its body is read, between the
 * reads of the others. The spool's write waits longer than that anyway (`GATHER_MS` in
 * collector/spool/spool.ts), so a beacon's answer comes no later; but the pipeline's code and
 * tables are used for one beacon after another instead of in between the HTTP parser's. Under
 * the bench's load (`npm run bench --
 * --no-queries --no-nofsync --no-freshness --no-upkeep --no-formats`, four alternating pairs
 * against the code before, December 7, 2026) the main thread took 50.7-60.8 µs a beacon against
 * 61.2-67.4, all threads 70-84 against 83-92, and it answered 10-20 % more beacons a second. A
 * beacon's time is still the moment it arrived; a step that throws answers that beacon 500
 * (Fastify's error handler) and the others of the turn go on.
 */
function beaconsByTurn(deps: IngestDeps): (req: FastifyRequest, reply: FastifyReply) => void {
  let waiting: Waiting[] = []
  const runTurn = () => {
    const turn = waiting
    waiting = []
    for (const { req, reply, receivedAt } of turn) {
      try {
        ingestThen(deps, req, req.body, receivedAt, (outcome) => answer(reply, outcome))
      } catch (err) {
        reply.send(err)
      }
    }
  }
  return (req, reply) => {
    if (waiting.push({ req, reply, receivedAt: deps.clock.eventTime() }) === 1) setImmediate(runTurn)
  }
}

/** The one header every beacon's answer has (openToEveryOrigin): any origin may send beacons. */
const CORS = ['access-control-allow-origin', '*'] as const

const ACCEPTED = '{"ok":true}'
const ACCEPTED_LV = '{"ok":true,"lv":true}'

/** What the 202 adds to the headers set before it (as the root's onSend hook would: nosniff). */
const acceptedHeaders = (body: string): OutgoingHttpHeaders => ({ 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'x-content-type-options': 'nosniff' })
/**
 * A 202's headers when the one set before it is the beacon's CORS header (openToEveryOrigin), as
 * a flat list of names and values, made once: Node writes such a list as it is, where an object
 * is walked key by key (and made again for each beacon from the reply's headers). A bare
 * `http` server answering 202 so under `wrk -t1 -c50` (ad hoc, three alternating pairs): 11.3-11.6
 * µs of CPU a request against 14.3-14.7 with the object.
 */
const flat = (body: string) => [...CORS, ...Object.entries(acceptedHeaders(body)).flatMap(([k, v]) => [k, String(v)])]
const CORS_ONLY_202 = flat(ACCEPTED)
const CORS_ONLY_202_LV = flat(ACCEPTED_LV)

/** Whether the headers set on a reply are the beacon's CORS header alone. */
function corsOnly(headers: Record<string, unknown>): boolean {
  let n = 0
  for (const name in headers) if (++n > 1 || name !== CORS[0] || headers[name] !== CORS[1]) return false
  return n === 1
}

/**
 * The answer to a beacon. A 202 (nearly every answer) is written straight to the response, its
 * body a constant string: Fastify's send would serialise the body through the route's schema
 * and run the onSend hooks first (on a bare route answering `{"ok":true}`, 30-36 µs of main
 * thread a request through send, 18-31 µs this way). The headers are those set so far (CORS)
 * and what the root's onSend hook would add (nosniff). Errors take Fastify's way.
 */
function answer(reply: FastifyReply, r: Outcome) {
  if (r.status === 202) {
    const body = r.lastVisitDay ? ACCEPTED_LV : ACCEPTED
    reply.hijack()
    const set = reply.getHeaders()
    reply.raw.writeHead(202, corsOnly(set) ? (r.lastVisitDay ? CORS_ONLY_202_LV : CORS_ONLY_202) : { ...(set as OutgoingHttpHeaders), ...acceptedHeaders(body) })
    reply.raw.end(body)
    return reply
  }
  if (r.status === 503) reply.header('retry-after', String(RETRY_AFTER_S))
  return reply.code(r.status).send({ error: r.error })
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
    const wait = limiter.hit(clientKey(addressOf(req)))
    if (wait === 0) return done()
    over(reply, wait)
  }
}

/** Only the beacon routes are open to other origins (their preflight too); no other route answers CORS. */
const BEACON_CORS: FastifyCorsOptions = { origin: '*', methods: ['POST', 'GET'], maxAge: 86400 }

/**
 * CORS on a beacon itself (not a preflight): any origin, no credentials, no exposed headers, so
 * one header, set first so that every answer has it (a 400, a 413, a 429). @fastify/cors would
 * say the same through a generic hook that merges its options on every request.
 */
function openToEveryOrigin(_req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
  reply.header(...CORS)
  done()
}

/** Beacon routes: open to every origin (CORS), small bodies, JSON or text/plain, a per-client rate limit. */
export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps) {
  // Preflights are @fastify/cors's, in a context of their own so that its hook runs for them alone.
  // CORS is off unless a route's config turns it on: its preflight route is `OPTIONS *`, which
  // would otherwise answer a preflight for any path of the server.
  await app.register(async (preflights) => {
    await preflights.register(cors, { origin: false })
    for (const url of ['/api/event', '/p.gif']) {
      preflights.options(url, { config: { cors: BEACON_CORS }, schema: { hide: true } }, async (_req, reply) => reply.code(204).send())
    }
  })
  app.decorateRequest('clientAddress', '')
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string', bodyLimit: deps.bodyLimit }, parseJsonBody)

  const perMinute = deps.ingestRateLimit
  const limiter = perMinute > 0 ? new RateLimiter({ max: perMinute, windowMs: 60_000 }) : undefined
  if (limiter) beaconLimiters.set(deps.spool, limiter)
  const takeBeacon = beaconsByTurn(deps)
  const limitNote = perMinute > 0 ? ` At most ${perMinute} a minute per client (INGEST_RATE_LIMIT), then 429 with Retry-After.` : ''

  app.post('/api/event', {
    bodyLimit: deps.bodyLimit,
    onRequest: limiter ? [openToEveryOrigin, limitBeacons(limiter, (reply, wait) => tooManyRequests(reply, wait, TOO_MANY_EVENTS))] : openToEveryOrigin,
    schema: {
      summary: `One event (JSON or text/plain): 202 once durable or deliberately dropped.${limitNote}`,
      response: {
        202: { type: 'object', properties: { ok: { type: 'boolean' }, lv: { type: 'boolean' } } },
        '4xx': { type: 'object', properties: { error: { type: 'string' } } },
        503: { type: 'object', properties: { error: { type: 'string' } } },
      },
    },
  }, (req, reply) => {
    // answered once its turn's beacons are run and it is durable (a handler that returns nothing: Fastify waits for the reply)
    takeBeacon(req, reply)
  })

  app.get<{ Querystring: Record<string, string | undefined> }>('/p.gif', {
    onRequest: limiter ? [openToEveryOrigin, limitBeacons(limiter, (reply, wait) => pixel(reply, 429, TOO_MANY_EVENTS, wait))] : openToEveryOrigin,
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
