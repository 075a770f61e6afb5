import fs from 'node:fs'
import swagger from '@fastify/swagger'
import type { FastifyInstance, FastifySchema } from 'fastify'

const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; description?: string }

type Area = { tag: string; description: string; access: 'public' | 'bearer' | 'stats' }

/** Every route's tag and who may call it, by path, in one list (a route's own `tags` win). */
const AREAS: [RegExp, Area][] = [
  [/^\/(?:api\/event|p\.gif|t\.js|healthz)$/, { tag: 'ingest', description: 'Beacons, the tracker and the health check: open to everyone', access: 'public' }],
  [/^\/privacy(?:\.json)?$/, { tag: 'privacy', description: 'The active policy as visitors read it: open to everyone', access: 'public' }],
  [/^\/api\/v1\/(?:stats|export)(?:\/|$)/, { tag: 'stats', description: 'Statistics and exports: the admin token, a per-site token with the stats or export scope, or a shared link (stats)', access: 'stats' }],
  [/^\/api\/v1\/tokens(?:\/|$)/, { tag: 'tokens', description: 'Per-site API tokens and shared links: admin token only', access: 'bearer' }],
  [/^\/api\/v1\/(?:admin|sites|goals|users)(?:\/|$)/, { tag: 'admin', description: 'Sites, goals, users, seeding and store maintenance: admin token only', access: 'bearer' }],
]

function areaOf(url: string): Area | undefined {
  return AREAS.find(([re]) => re.test(url))?.[1]
}

const ErrorOut = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] }

const SECURITY = {
  public: [],
  bearer: [{ bearer: [] }],
  stats: [{ bearer: [] }, { bearer: [], sharePassword: [] }],
}

/**
 * The OpenAPI 3 document of every route, built from the routes' own schemas, at
 * `GET /api/openapi.json`. Register before the routes: the document sees only routes added later.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Privacy-respecting site analytics',
        version: pkg.version,
        description: `${pkg.description ?? ''}\n\nStatistics are published only when at least the policy's minimum number of distinct visitors stands behind them; a withheld number is null with a "withheld" reason.`,
      },
      tags: [...new Map(AREAS.map(([, a]) => [a.tag, { name: a.tag, description: a.description }])).values()],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The admin token, a per-site token (pat_…) or a shared link (shr_…)' },
          sharePassword: { type: 'apiKey', in: 'header', name: 'x-share-password', description: "A shared link's password, when it has one" },
        },
      },
    },
    // Only the document changes here, never the schema a route validates with.
    transform: ({ schema, url }) => {
      const area = areaOf(url)
      const own = (schema ?? {}) as FastifySchema & { tags?: string[]; security?: unknown; response?: Record<string, unknown> }
      const documented: Record<string, unknown> = { ...own, tags: own.tags ?? (area ? [area.tag] : undefined) }
      if (area && own.security === undefined) documented.security = SECURITY[area.access]
      if (area && area.access !== 'public') documented.response = { 401: ErrorOut, 403: ErrorOut, ...own.response }
      return { schema: documented as FastifySchema, url }
    },
  })

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
