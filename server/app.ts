import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify'
import { decorateAccess } from '../accounts/access.ts'
import { auditRoutes } from '../audit/routes.ts'
import { InputError } from '../http/errors.ts'
import { retentionRoutes } from '../retention/routes.ts'
import { conversionRoutes } from '../aggregator/routes/conversions.ts'
import { exportRoutes } from '../aggregator/routes/export.ts'
import { goalRoutes } from '../aggregator/routes/goals.ts'
import { siteRoutes } from '../accounts/routes/sites.ts'
import { statsRoutes } from '../aggregator/routes/stats.ts'
import { tokenRoutes } from '../accounts/routes/tokens.ts'
import { userRoutes } from '../accounts/routes/users.ts'
import { TokenStore } from '../accounts/tokens.ts'
import { dashboardRoutes } from '../dashboards/serve.ts'
import type { Config } from './config.ts'
import { adminIngestRoutes } from '../collector/routes/admin-ingest.ts'
import { isStoreUnavailable, storeErrorSummary } from '../store/errors.ts'
import { ingestRoutes } from '../collector/routes/ingest.ts'
import { registerOpenApi } from './openapi.ts'
import { noSniff } from '../http/security-headers.ts'
import { privacyRoutes } from '../policy/privacy-page.ts'
import { trackerRoutes } from '../collector/routes/tracker.ts'
import { openRuntime, type Runtime } from './runtime.ts'

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
}

/** The whole server: collector, stats API, dashboards; `listen` is the caller's. */
export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    logger: opts.logger ?? loggerOptions(config.logLevel),
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (it would carry a request id and cost a few µs a beacon).
    childLoggerFactory: (logger) => logger,
    trustProxy: config.trustProxy as boolean | string,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
  })
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute)
  app.addHook('onSend', noSniff)

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
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

  const runtime = await openRuntime(config, app.log)
  app.decorate('runtime', runtime)
  app.addHook('onClose', async () => runtime.close())
  decorateAccess(app, { adminToken: runtime.adminToken, tokens: new TokenStore(runtime.store.client) })

  // 503 until the store has answered once (beacons are spooled meanwhile), then 200: `ok`, or
  // `degraded` while inserts fail (the spool holds the events)
  app.get('/healthz', async (_req, reply) => {
    const failing = runtime.writer.stats.lastFailedAt !== null
    if (!runtime.storeReady) reply.code(503).header('retry-after', '5')
    return {
      status: runtime.storeReady && !failing ? 'ok' : 'degraded',
      store: runtime.store.embedded ? 'embedded' : 'server',
      storeReady: runtime.storeReady,
      ...(runtime.storeError || failing ? { storeError: runtime.storeError ?? runtime.writer.stats.lastError } : {}),
      spoolBytes: runtime.spool.bytes,
      storeFailures: runtime.writer.stats.failures,
      ...(runtime.writer.stats.rejectedSegments ? { rejectedSegments: runtime.writer.stats.rejectedSegments } : {}),
    }
  })
  const { client } = runtime.store
  const { sites, spool, pipeline } = runtime
  const policy = () => runtime.policy
  const stats = { client, sites, policy }
  // collector: beacons, the tracker, seeding
  await app.register(ingestRoutes, { sites, pipeline, spool, clock: runtime.clock, bodyLimit: config.bodyLimit, ingestRateLimit: config.ingestRateLimit })
  await app.register(trackerRoutes)
  await app.register(adminIngestRoutes, { pipeline, spool })
  // aggregator: statistics, conversions, exports, goals
  await app.register(statsRoutes, stats)
  await app.register(conversionRoutes, stats)
  await app.register(exportRoutes, stats)
  await app.register(goalRoutes, { client, sites })
  // accounts, the policy's disclosure, store upkeep
  await app.register(siteRoutes, { sites })
  await app.register(tokenRoutes, { sites })
  await app.register(userRoutes, { client })
  await app.register(privacyRoutes, { policy })
  await app.register(retentionRoutes, { retention: runtime.retention })
  await app.register(auditRoutes, { client, policy })
  await app.register(dashboardRoutes, { sites }) // last: the app's client routes never hide a server route
  return app
}
