import type { FastifyInstance, FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess } from '../../accounts/access.ts'
import { PlausibleError, quoted } from '../plausible/names.ts'
import { answerV2 } from '../plausible/v2-answer.ts'
import { filtersOf, resolveDateRange, V2Body } from '../plausible/v2-request.ts'
import { parseFilters } from '../stats/filters.ts'
import { resolveGoalFilters } from '../stats/goal-filter.ts'
import { disclosureOf, type StatsDeps } from './stats.ts'

const Revenue = Type.Object({ value: Type.Number(), currency: Type.String(), short: Type.String(), long: Type.String() })
const V2Out = Type.Object({
  results: Type.Array(Type.Object({
    dimensions: Type.Array(Type.String()),
    metrics: Type.Array(Type.Union([Type.Number(), Type.Null(), Revenue])),
  })),
  meta: Type.Record(Type.String(), Type.Unknown()),
  query: Type.Record(Type.String(), Type.Unknown()),
})
const ErrorOut = Type.Object({ error: Type.String() })

/** The site a v2 query names, for a per-site token to be checked against (the body is parsed by then). */
const siteFromBody = (req: FastifyRequest): string | undefined => {
  const site = (req.body as { site_id?: unknown } | undefined)?.site_id
  return typeof site === 'string' ? site : undefined
}

/**
 * A field Plausible's query does not have is a 400 naming it: the schema alone would drop it
 * silently (Fastify's validator removes additional properties).
 */
async function refuseUnknownFields(req: FastifyRequest) {
  const body = req.body as Record<string, unknown> | undefined
  if (!body || typeof body !== 'object' || Array.isArray(body)) return
  const check = (value: unknown, schema: { properties: Record<string, unknown> }, what: string) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return
    const unknown = Object.keys(value).filter((k) => !Object.hasOwn(schema.properties, k))
    if (unknown.length) throw new PlausibleError(`unknown field ${quoted(unknown[0])} in ${what}: ${what} takes ${Object.keys(schema.properties).join(', ')}`)
  }
  check(body, V2Body, 'the query')
  check(body.include, V2Body.properties.include, 'include')
  check(body.pagination, V2Body.properties.pagination, 'pagination')
}

/**
 * Plausible's stats API v2, `POST /api/v2/query`, with the same tokens, k rules and noise as
 * the stats routes: a script written for Plausible works with our host and token
 * (aggregator/plausible/ reads the request and shapes the answer).
 */
export async function plausibleV2Routes(app: FastifyInstance, { client, sites, policy }: StatsDeps) {
  // the site is in the body: access is checked once it is parsed, before it is validated
  app.addHook('preValidation', requireAccess({ scope: 'stats', siteFrom: siteFromBody }))
  app.addHook('preValidation', refuseUnknownFields)

  app.post<{ Body: Static<typeof V2Body> }>('/api/v2/query', {
    schema: {
      tags: ['stats'],
      security: [{ bearer: [] }, { bearer: [], sharePassword: [] }],
      summary: "Plausible's stats API v2: metrics over a date range, by at most one dimension, with filters",
      body: V2Body,
      response: { 200: V2Out, '4xx': ErrorOut },
    },
  }, async (req, reply) => {
    const site = sites.get(req.body.site_id.toLowerCase())
    if (!site) return reply.code(404).send({ error: 'unknown site' })
    const range = resolveDateRange(req.body.date_range, site.timezone)
    const filters = await resolveGoalFilters(client, site.domain, parseFilters(filtersOf(req.body.filters)))
    const scope = { site: site.domain, timezone: site.timezone, filters, ...(await disclosureOf(client, policy().forSite(site.domain), req.audience, site.domain)) }
    return answerV2(client, scope, req.body, range)
  })
}
