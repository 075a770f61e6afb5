import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify'
import { decorateAccess } from '../accounts/access.ts'
import { auditRoutes } from '../audit/routes.ts'
import { InputError, Overloaded } from '../http/errors.ts'
import { retentionRoutes } from '../retention/routes.ts'
import { conversionRoutes } from '../aggregator/routes/conversions.ts'
import { exportRoutes } from '../aggregator/routes/export.ts'
import { goalRoutes } from '../aggregator/routes/goals.ts'
import { annotationRoutes } from '../aggregator/routes/annotations.ts'
import { funnelRoutes } from '../aggregator/routes/funnels.ts'
import { segmentRoutes } from '../aggregator/routes/segments.ts'
import { siteRoutes } from '../accounts/routes/sites.ts'
import { statsRoutes } from '../aggregator/routes/stats.ts'
import { importRoutes } from '../aggregator/routes/imports.ts'
import { plausibleV1Routes } from '../aggregator/routes/plausible-v1.ts'
import { plausibleV2Routes } from '../aggregator/routes/plausible-v2.ts'
import { reportRoutes } from '../aggregator/routes/reports.ts'
import { installationRoutes } from '../accounts/routes/installation.ts'
import { tokenRoutes } from '../accounts/routes/tokens.ts'
import { userRoutes } from '../accounts/routes/users.ts'
import { TokenStore } from '../accounts/tokens.ts'
import { Memberships } from '../accounts/roles.ts'
import { dashboardRoutes } from '../dashboards/serve.ts'
import { fastifyTrustProxy, type Config } from './config.ts'
import { adminIngestRoutes } from '../collector/routes/admin-ingest.ts'
import { questionClient } from '../store/client.ts'
import { isStoreUnavailable, storeErrorSummary } from '../store/errors.ts'
import { ingestRoutes } from '../collector/routes/ingest.ts'
import { registerOpenApi } from './openapi.ts'
import { noSniff } from '../http/security-headers.ts'
import { privacyRoutes } from '../policy/privacy-page.ts'
import { trackerRoutes } from '../collector/routes/tracker.ts'
import { openRuntime, type Runtime } from './runtime.ts'
import { aggregates, collects, type Role } from './roles.ts'

declare module 'fastify' {
  interface FastifyInstance {
    runtime: Runtime
  }
}

/**
 * Logging that cannot leak a visitor: no request lines at all, and a request serialiser
 * that knows only the method and the route (no IP, no headers, no query string).
 */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    serializers: {
      req: (req: { method?: string; routeOptions?: { url?: string } }) => ({ method: req.method, route: req.routeOptions?.url }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  }
}

export interface BuildOptions {
  logger?: FastifyServerOptions['logger'] | false
  /** Sees every route as it is added (the access test walks them all). */
  onRoute?: (route: RouteOptions) => void
  /** What this process serves (server/roles.ts); `all` by default. */
  role?: Role
}

/** The server of a role (by default all of it: collector, stats API, dashboards); `listen` is the caller's. */
export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const role = opts.role ?? 'all'
  const app: FastifyInstance = Fastify({
    logger: opts.logger ?? loggerOptions(config.logLevel),
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (it would carry a request id and cost a few µs a beacon).
    childLoggerFactory: (logger) => logger,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
  })
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute)
  app.addHook('onSend', noSniff)

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (err instanceof Overloaded) return reply.code(503).header('retry-after', String(err.retryAfterS)).send({ error: err.message })
    if (status >= 500) {
      // a store that cannot be reached (or has not answered since start) is a 503 to retry
      if (isStoreUnavailable(err) || (app.hasDecorator('runtime') && !app.runtime.storeReady)) {
        return reply.code(503).header('retry-after', '30').send({ error: 'the store is unavailable; retry later' })
      }
      // a store error may quote the query's values: only its kind and code are logged
      req.log.error({ err: (err as { type?: string }).type ? storeErrorSummary(err) : err.message }, 'request failed')
      return reply.code(status).send({ error: 'internal error' })
    }
    const message = err.validation
      ? err.message
      : (err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `body is larger than ${config.bodyLimit} bytes`
        : (err as { code?: string }).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'content type must be application/json or text/plain'
          : err.message
    // an InputError is the caller's mistake, named by the domain code that found it (its statusCode, its details)
    return reply.code(status).send({ error: message, ...(err instanceof InputError ? err.details : undefined) })
  })
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }))

  await registerOpenApi(app)

  const runtime = await openRuntime(config, app.log, role)
  app.decorate('runtime', runtime)
  app.addHook('onClose', async () => runtime.close())
  // Closing waits for the requests being answered, then for every connection to end: a client's
  // keep-alive connection that falls idle after the close began would hold it until the
  // keep-alive timeout (72 s), so idle ones are closed as they fall idle (until the app's onClose
  // hooks run: Fastify closes the server before them).
  let closingIdle: NodeJS.Timeout | undefined
  app.addHook('preClose', (done) => {
    closingIdle = setInterval(() => app.server.closeIdleConnections(), 50).unref()
    done()
  })
  app.addHook('onClose', (_app, done) => {
    clearInterval(closingIdle)
    done()
  })
  decorateAccess(app, { adminToken: runtime.adminToken, tokens: new TokenStore(runtime.store.client), memberships: new Memberships(runtime.store.client), statsRateLimit: config.statsRateLimit })

  // 503 until the store has answered once (beacons are spooled meanwhile), then 200: `ok`, or
  // `degraded` while inserts fail (the spool holds the events); an aggregator says whether it runs the scheduled jobs
  app.get('/healthz', async (_req, reply) => {
    const writer = collects(role) ? runtime.writer : null
    const failing = writer !== null && writer.stats.lastFailedAt !== null
    if (!runtime.storeReady) reply.code(503).header('retry-after', '5')
    return {
      status: runtime.storeReady && !failing ? 'ok' : 'degraded',
      role,
      store: runtime.store.embedded ? 'embedded' : 'server',
      storeReady: runtime.storeReady,
      ...(runtime.storeError || failing ? { storeError: runtime.storeError ?? writer?.stats.lastError } : {}),
      ...(writer
        ? {
            spoolBytes: runtime.spool.bytes,
            storeFailures: writer.stats.failures,
            ...(writer.stats.rejectedSegments ? { rejectedSegments: writer.stats.rejectedSegments } : {}),
          }
        : {}),
      ...(aggregates(role) ? { jobs: runtime.jobs.held } : {}),
    }
  })
  const { client } = runtime.store
  const { sites } = runtime
  const policy = () => runtime.policy
  if (collects(role)) {
    // collector: beacons, the tracker, seeding
    const { spool, pipeline } = runtime
    await app.register(ingestRoutes, { sites, pipeline, spool, clock: runtime.clock, bodyLimit: config.bodyLimit, ingestRateLimit: config.ingestRateLimit })
    await app.register(trackerRoutes)
    await app.register(adminIngestRoutes, { pipeline, spool })
  }
  // the policy's disclosure: what the collector does, shown by every process
  await app.register(privacyRoutes, { policy, sites })
  if (!aggregates(role)) return app
  // every question to the stats and export API runs under the store's QUESTION_LIMITS, a few at a
  // time: on every core of an embedded store while this process's beacons are few, else all but one
  const beaconsPerSecond = collects(role) ? () => runtime.spool.appendsPerSecond : undefined
  const stats = { client: questionClient(runtime.store, { beaconsPerSecond }), sites, policy }
  // aggregator: statistics, conversions, exports, goals
  await app.register(statsRoutes, stats)
  // Plausible's stats API (v1 and v2), for tools written against it
  await app.register(plausibleV1Routes, stats)
  await app.register(plausibleV2Routes, stats)
  await app.register(conversionRoutes, stats)
  await app.register(importRoutes, { ...stats, store: client }) // statistics imported from Plausible's CSV export, shown beside ours
  await app.register(exportRoutes, stats)
  await app.register(goalRoutes, { client, sites })
  // e-mail reports and spike alerts: who gets them, and a report sent now
  await app.register(reportRoutes, { client, sites, policy, mailer: runtime.mailer })
  // what a site's users save: segments, funnels, annotations
  await app.register(segmentRoutes, { client, sites })
  await app.register(funnelRoutes, { client, sites })
  await app.register(annotationRoutes, { client, sites })
  // accounts, store upkeep; a removed site's beacons still in this process's spool reach the store first
  const drainSpool = collects(role) ? () => runtime.writer.flush(10_000) : async () => true
  await app.register(siteRoutes, { sites, client, rollups: runtime.rollups, drainSpool })
  await app.register(installationRoutes, { client, sites })
  await app.register(tokenRoutes, { sites })
  await app.register(userRoutes, { client, sites })
  await app.register(retentionRoutes, { retention: runtime.retention })
  await app.register(auditRoutes, { client, policy })
  await app.register(dashboardRoutes, { sites }) // last: the app's client routes never hide a server route
  return app
}
