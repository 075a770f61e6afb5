import type { FastifyInstance } from 'fastify'
import { NumberOrNull } from '../../http/json-types.ts'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromQuery } from '../../accounts/access.ts'
import { acceptPlausibleV1 } from '../plausible/v1.ts'
import { parseFilters } from '../stats/filters.ts'
import { realtime } from '../stats/realtime.ts'
import { disclosureOf, refuseUnknownParameters, type StatsDeps } from './stats.ts'

const VisitorsQuery = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 253, description: "the site's domain (Plausible's `site_id` is taken too)" }),
  filters: Type.Optional(Type.String({ maxLength: 2000 })),
})

/**
 * Plausible's `GET /api/v1/stats/realtime/visitors`: the visitors of the last five minutes as
 * a bare number, as there; `null` when fewer than k stand behind it (or none: alike, R2), the
 * number `GET /api/v1/stats/realtime` withholds. The other v1 routes are ours, translated
 * (aggregator/plausible/v1.ts).
 */
export async function plausibleV1Routes(app: FastifyInstance, { client, sites, policy }: StatsDeps) {
  acceptPlausibleV1(app, sites)
  app.addHook('onRequest', requireAccess({ scope: 'stats', siteFrom: siteFromQuery }))
  refuseUnknownParameters(app)

  app.get<{ Querystring: Static<typeof VisitorsQuery> }>('/api/v1/stats/realtime/visitors', {
    schema: {
      summary: 'Visitors in the last five minutes, as a bare number (Plausible v1); null when withheld',
      querystring: VisitorsQuery,
      response: { 200: NumberOrNull, '4xx': Type.Object({ error: Type.String() }) },
    },
  }, async (req, reply) => {
    const site = sites.get(req.query.site.toLowerCase())
    if (!site) return reply.code(404).send({ error: 'unknown site' })
    const { limits, noise } = await disclosureOf(client, policy().forSite(site.domain), req.audience, site.domain)
    const now = await realtime(client, site.domain, limits, parseFilters(req.query.filters), noise)
    return now.visitors
  })
}
