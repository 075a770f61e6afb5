import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromPath, sitesOf } from '../access.ts'
import { changeTimezone, removeSite, type SiteChangeDeps } from '../site-changes.ts'
import { normaliseDomain, SiteError } from '../sites.ts'

const ErrorOut = Type.Object({ error: Type.String() })
const Timezone = Type.String({ minLength: 1, maxLength: 64, description: 'an IANA time zone the store knows (GET /api/v1/sites/timezones)' })
const NewSite = Type.Object({
  domain: Type.String({ minLength: 1, maxLength: 253 }),
  timezone: Type.Optional(Timezone),
}, { additionalProperties: false })
const SiteChange = Type.Object({ timezone: Timezone }, { additionalProperties: false })
const DomainParams = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) })
const RemoveQuery = Type.Object({
  confirm: Type.Optional(Type.String({ maxLength: 253, description: 'the domain again: removing a site deletes all its data' })),
}, { additionalProperties: false })

const SiteOut = Type.Object({ domain: Type.String(), timezone: Type.String() })
const RemovedOut = Type.Object({ domain: Type.String(), removed: Type.Boolean(), tables: Type.Array(Type.String()) })

const DOMAIN_ERROR = 'domain must be a host name such as example.com'

/** A registered site named in the path, or a SiteError (400 not a host name, 404 unknown). */
function registered(deps: SiteChangeDeps, input: string): string {
  const domain = normaliseDomain(input)
  if (!domain) throw new SiteError(DOMAIN_ERROR)
  if (!deps.sites.has(domain)) throw SiteError.unknown()
  return domain
}

/**
 * Sites: register, list, change the time zone, remove with their data; the API behind `analytics site`.
 * Everyone signed in lists the sites they have a role on; a site's admins change its time zone;
 * owners of every site add sites, a site's owners remove it.
 */
export async function siteRoutes(app: FastifyInstance, deps: SiteChangeDeps) {
  const { sites } = deps
  const anyRole = requireAccess({ scope: 'admin', role: 'viewer', anySite: true })

  app.get('/api/v1/sites', {
    onRequest: anyRole,
    schema: { summary: 'List the registered sites the caller has a role on', response: { 200: Type.Object({ sites: Type.Array(SiteOut) }), '4xx': ErrorOut } },
  }, async (req) => {
    const mine = sitesOf(req.access!, 'viewer')
    return { sites: sites.list().filter((s) => mine === 'all' || mine.has(s.domain)) }
  })

  app.get('/api/v1/sites/timezones', {
    onRequest: anyRole,
    schema: { summary: 'The time zones a site may have: those the store and the server both know', response: { 200: Type.Object({ timezones: Type.Array(Type.String()) }), '4xx': ErrorOut } },
  }, async () => ({ timezones: [...(await sites.knownTimezones())] }))

  app.post<{ Body: Static<typeof NewSite> }>('/api/v1/sites', {
    onRequest: requireAccess({ scope: 'admin' }),
    schema: { summary: 'Register a site (beacons for other domains are dropped)', body: NewSite, response: { 201: SiteOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const domain = normaliseDomain(req.body.domain)
    if (!domain) throw new SiteError(DOMAIN_ERROR)
    return reply.code(201).send(await sites.add(domain, req.body.timezone ?? 'UTC'))
  })

  app.patch<{ Params: Static<typeof DomainParams>; Body: Static<typeof SiteChange> }>('/api/v1/sites/:domain', {
    onRequest: requireAccess({ scope: 'admin', role: 'admin', siteFrom: siteFromPath }),
    schema: {
      summary: "Change a site's time zone; its daily statistics are built again in it",
      params: DomainParams,
      body: SiteChange,
      response: { 200: SiteOut, '4xx': ErrorOut },
    },
  }, async (req) => changeTimezone(deps, registered(deps, req.params.domain), req.body.timezone))

  app.delete<{ Params: Static<typeof DomainParams>; Querystring: Static<typeof RemoveQuery> }>('/api/v1/sites/:domain', {
    onRequest: requireAccess({ scope: 'admin', role: 'owner', siteFrom: siteFromPath }),
    schema: {
      summary: 'Remove a site and delete all its data (events, visits, statistics, goals, tokens and shared links); `confirm` must repeat the domain',
      params: DomainParams,
      querystring: RemoveQuery,
      response: { 200: RemovedOut, '4xx': ErrorOut },
    },
  }, async (req) => {
    const domain = registered(deps, req.params.domain)
    if (normaliseDomain(req.query.confirm ?? '') !== domain) {
      throw new SiteError('removing a site deletes all its data: repeat its domain in the confirm parameter')
    }
    const tables = await removeSite(deps, domain)
    req.server.tokens.forgetSite(domain)
    return { domain, removed: true, tables }
  })
}
