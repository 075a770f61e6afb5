import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess } from '../access.ts'
import { normaliseDomain, type Sites } from '../sites.ts'

const NewSite = Type.Object({
  domain: Type.String({ minLength: 1, maxLength: 253 }),
  timezone: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false })

const SiteOut = Type.Object({ domain: Type.String(), timezone: Type.String() })

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** Site registration: the admin API behind `analytics site add` while a server runs. */
export async function siteRoutes(app: FastifyInstance, { sites }: { sites: Sites }) {
  app.addHook('onRequest', requireAccess({ scope: 'admin' }))

  app.get('/api/v1/sites', { schema: { response: { 200: Type.Object({ sites: Type.Array(SiteOut) }) } } }, async () => ({
    sites: sites.list(),
  }))

  app.post<{ Body: Static<typeof NewSite> }>('/api/v1/sites', {
    schema: { body: NewSite, response: { 201: SiteOut } },
  }, async (req, reply) => {
    const domain = normaliseDomain(req.body.domain)
    if (!domain) return reply.code(400).send({ error: 'domain must be a host name such as example.com' })
    const timezone = req.body.timezone ?? 'UTC'
    if (!validTimezone(timezone)) return reply.code(400).send({ error: 'timezone must be an IANA time zone such as Europe/Berlin' })
    return reply.code(201).send(await sites.add(domain, timezone))
  })
}
