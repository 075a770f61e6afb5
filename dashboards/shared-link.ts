import type { FastifyInstance, FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromQuery } from '../accounts/access.ts'
import { bearer } from '../accounts/auth.ts'
import type { Sites } from '../accounts/sites.ts'

const Query = Type.Object({
  site: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "default: the token's own site (per-site tokens and shared links)" })),
})
const SiteOut = Type.Object({ site: Type.String(), timezone: Type.String() })
const ErrorOut = Type.Object({ error: Type.String() })

/**
 * `GET /api/v1/shared-link`: the site a token opens and its time zone, so that `/share/<token>`
 * needs nothing else in its URL and the dashboard counts days as the stats API does. It follows
 * the `stats` access rule like every statistics route (a shared link's password, expiry and
 * revocation included); without `?site=` it answers for the token's own site.
 */
export async function sharedLinkRoutes(app: FastifyInstance, { sites }: { sites: Sites }) {
  const ownSite = new WeakMap<FastifyRequest, string>()

  app.get<{ Querystring: Static<typeof Query> }>('/api/v1/shared-link', {
    schema: {
      tags: ['stats'],
      summary: 'The site a token (a shared link) opens, with its time zone',
      security: [{ bearer: [] }, { bearer: [], sharePassword: [] }],
      querystring: Query,
      response: { 200: SiteOut, '4xx': ErrorOut },
    },
    onRequest: [
      async (req) => {
        const presented = bearer(req)
        if (!presented || siteFromQuery(req)) return
        const checked = await app.tokens.check(presented)
        if (checked.ok) ownSite.set(req, checked.token.site)
      },
      requireAccess({ scope: 'stats', siteFrom: (req) => siteFromQuery(req) ?? ownSite.get(req) }),
    ],
  }, async (req, reply) => {
    const domain = req.query.site?.toLowerCase() ?? ownSite.get(req)
    if (!domain) return reply.code(400).send({ error: 'site is required with the admin token' })
    const site = sites.get(domain)
    if (!site) return reply.code(404).send({ error: 'unknown site' })
    return { site: site.domain, timezone: site.timezone }
  })
}
