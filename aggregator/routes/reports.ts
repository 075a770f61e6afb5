import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromQueryOrBody } from '../../accounts/access.ts'
import { SiteError } from '../../accounts/sites.ts'
import { sendReport, type ReportDeps } from '../reports/send.ts'
import { checkRecipients, checkSetting, MAX_RECIPIENTS, REPORT_KINDS, ReportError, ReportStore, type ReportKind } from '../reports/store.ts'

const Site = Type.String({ minLength: 1, maxLength: 253 })
const Kind = Type.Union(REPORT_KINDS.map((k) => Type.Literal(k)))
const Recipients = Type.Array(Type.String({ maxLength: 254 }), { minItems: 1, maxItems: MAX_RECIPIENTS, description: 'e-mail addresses' })
const Setting = Type.Object({
  site: Type.String(),
  kind: Type.String(),
  recipients: Type.Array(Type.String()),
  threshold: Type.Union([Type.Integer(), Type.Null()]),
  updated_at: Type.String(),
})
const SetBody = Type.Object({
  site: Site,
  kind: Kind,
  to: Recipients,
  threshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'spike: the visitors in an hour above which the alert is sent' })),
}, { additionalProperties: false })
const SiteKindQuery = Type.Object({ site: Site, kind: Kind }, { additionalProperties: false })
const ListQuery = Type.Object({ site: Type.Optional(Site) }, { additionalProperties: false })
const SendBody = Type.Object({
  site: Site,
  kind: Type.Optional(Type.Union([Type.Literal('weekly'), Type.Literal('monthly')], { description: 'default weekly: the last whole week' })),
  to: Type.Optional(Recipients),
}, { additionalProperties: false })
const Sent = Type.Object({ site: Type.String(), kind: Type.String(), label: Type.String(), period: Type.String(), subject: Type.String(), recipients: Type.Integer() })
const ErrorOut = Type.Object({ error: Type.String() })
const DOC = { tags: ['admin'], security: [{ bearer: [] }] as Record<string, string[]>[] }

/**
 * E-mail reports and spike alerts (aggregator/reports/): who gets them, and a report sent now.
 * The site's admins only: the addresses are the only personal data the server keeps on purpose.
 */
export async function reportRoutes(app: FastifyInstance, deps: ReportDeps) {
  const store = new ReportStore(deps.client)
  app.addHook('onRequest', requireAccess({ scope: 'admin', role: 'admin', siteFrom: siteFromQueryOrBody }))
  const registered = (site: string) => {
    const domain = site.toLowerCase()
    if (!deps.sites.has(domain)) throw SiteError.unknown()
    return domain
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/v1/reports', {
    schema: { ...DOC, summary: 'Report and alert settings, of one site or all', querystring: ListQuery, response: { 200: Type.Object({ reports: Type.Array(Setting) }), '4xx': ErrorOut } },
  }, async (req) => ({ reports: await store.list(req.query.site === undefined ? undefined : registered(req.query.site)) }))

  app.put<{ Body: Static<typeof SetBody> }>('/api/v1/reports', {
    schema: { ...DOC, summary: "Sets who gets a site's weekly or monthly report, or its spike alert (with its threshold)", body: SetBody, response: { 200: Setting, '4xx': ErrorOut } },
  }, async (req) => {
    const { kind, recipients, threshold } = checkSetting(req.body)
    return store.set(registered(req.body.site), kind, recipients, threshold)
  })

  app.delete<{ Querystring: Static<typeof SiteKindQuery> }>('/api/v1/reports', {
    schema: { ...DOC, summary: 'Stops a report or alert', querystring: SiteKindQuery, response: { 200: Type.Object({ removed: Type.Boolean() }), '4xx': ErrorOut } },
  }, async (req, reply) => {
    if (!(await store.remove(registered(req.query.site), req.query.kind))) return reply.code(404).send({ error: 'this site has no such report' })
    return { removed: true }
  })

  app.post<{ Body: Static<typeof SendBody> }>('/api/v1/reports/send', {
    schema: {
      ...DOC,
      summary: "Sends a site's report of the last whole week (or month) now, to `to` or to the report's recipients",
      body: SendBody,
      response: { 200: Sent, '4xx': ErrorOut },
    },
  }, async (req) => {
    const site = registered(req.body.site)
    const kind: ReportKind = req.body.kind ?? 'weekly'
    const to = req.body.to ? checkRecipients(req.body.to) : (await store.list(site)).find((s) => s.kind === kind)?.recipients
    if (!to) throw new ReportError(`give to: this site has no ${kind} report set`)
    return sendReport(deps, site, kind, to)
  })
}
