import type { ClickHouseClient } from '@clickhouse/client'
import { NumberOrNull, Row } from '../../http/json-types.ts'
import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromQuery } from '../../accounts/access.ts'
import type { Sites } from '../../accounts/sites.ts'
import { scrubIdentifiers } from '../../identifiers/catalogue.ts'
import { InputError } from '../../http/errors.ts'
import type { Policy } from '../../policy/policy.ts'
import { addUpload, MAX_IMPORT_BYTES } from '../imports/archive.ts'
import { readPlausibleExport } from '../imports/plausible-csv.ts'
import { IMPORTED_PROPERTIES, importedBreakdown, importedOverview } from '../imports/service.ts'
import { ImportStore } from '../imports/store.ts'
import { PERIODS, resolvePeriod } from '../stats/period.ts'
import { disclosureOf, refuseUnknownParameters } from './stats.ts'
import { unknownSite } from './site-records.ts'

export interface ImportDeps {
  /** Questions (under the store's question limits). */
  client: ClickHouseClient
  /** Imports and deletions: the store itself, without the limits of a question. */
  store: ClickHouseClient
  sites: Sites
  policy: () => Policy
}

const Site = Type.String({ minLength: 1, maxLength: 253 })
const Period = {
  site: Site,
  period: Type.Optional(Type.Enum(PERIODS.filter((p) => p !== 'realtime'))),
  date: Type.Optional(Type.String({ maxLength: 10 })),
  from: Type.Optional(Type.String({ maxLength: 10 })),
  to: Type.Optional(Type.String({ maxLength: 10 })),
}
const OverviewQuery = Type.Object({ ...Period, interval: Type.Optional(Type.Enum(['day', 'month'])) })
const BreakdownQuery = Type.Object({ ...Period, property: Type.Enum(IMPORTED_PROPERTIES), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) })
const UploadQuery = Type.Object({ site: Site, filename: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the name of a CSV file sent as the body (imported_pages_20240101_20240131.csv)' })) })
const ListQuery = Type.Object({ site: Site })
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{24}$' }) })

const ErrorOut = Type.Object({ error: Type.String(), file: Type.Optional(Type.String()), line: Type.Optional(Type.Number()), column: Type.Optional(Type.String()) })
const ImportRef = Type.Object({ id: Type.String(), source: Type.String(), from: Type.String(), to: Type.String() })
const ImportOut = Type.Object({ ...ImportRef.properties, site: Type.String(), files: Type.Array(Type.String()), state: Type.String(), created_at: Type.String() })

/** The OpenAPI tag and security of the admin routes (server/openapi.ts tags /api/v1/stats by path). */
const ADMIN_DOC = { tags: ['admin'], security: [{ bearer: [] }] as Record<string, string[]>[] }


/**
 * Statistics imported from another tool (Plausible's CSV export): read beside the collected ones,
 * never added to them, under the same k and noise (aggregator/imports/disclosure.ts); imported and
 * deleted by a site's admins.
 */
export async function importRoutes(app: FastifyInstance, deps: ImportDeps) {
  const { client, sites, policy } = deps
  const imports = new ImportStore(deps.store)

  /** The site, its range and the asker's k and noise; null for an unknown site. */
  async function scopeOf(req: FastifyRequest<{ Querystring: Static<typeof OverviewQuery> }>) {
    const site = sites.get(req.query.site.toLowerCase())
    if (!site) return null
    const scope = { site: site.domain, timezone: site.timezone, ...(await disclosureOf(client, policy().forSite(site.domain), req.audience, site.domain)) }
    return { scope, range: resolvePeriod(req.query, site.timezone) }
  }

  await app.register(async (stats) => {
    stats.addHook('onRequest', requireAccess({ scope: 'stats', siteFrom: siteFromQuery }))
    refuseUnknownParameters(stats)

    stats.get<{ Querystring: Static<typeof OverviewQuery> }>('/api/v1/stats/imported', {
      schema: {
        summary: 'Imported totals and their series for a period (per-day sums, beside the collected statistics)',
        querystring: OverviewQuery,
        response: {
          200: Type.Object({ imports: Type.Array(ImportRef), period: Type.String(), interval: Type.String(), results: Type.Record(Type.String(), Type.Object({ value: NumberOrNull, withheld: Type.Optional(Type.String()) })), timeseries: Type.Array(Row) }),
          '4xx': ErrorOut,
        },
      },
    }, async (req, reply) => {
      const s = await scopeOf(req)
      if (!s) return unknownSite(reply)
      const interval = req.query.interval ?? (s.range.to - s.range.from > 93 * 86_400_000 ? 'month' : 'day')
      return { ...(await importedOverview(client, s.scope, s.range, interval)), period: s.range.label, interval }
    })

    stats.get<{ Querystring: Static<typeof BreakdownQuery> }>('/api/v1/stats/imported/breakdown', {
      schema: {
        summary: 'Imported rows of a property for a period (pages, sources, countries, devices…)',
        querystring: BreakdownQuery,
        response: { 200: Type.Object({ imports: Type.Array(ImportRef), period: Type.String(), results: Type.Array(Row), withheld: Type.Optional(Type.String()) }), '4xx': ErrorOut },
      },
    }, async (req, reply) => {
      const s = await scopeOf(req)
      if (!s) return unknownSite(reply)
      return { ...(await importedBreakdown(client, s.scope, s.range, req.query.property, req.query.limit ?? 10)), period: s.range.label }
    })
  })

  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAccess({ scope: 'admin', role: 'admin', readRole: 'viewer', siteFrom: siteFromQuery }))
    refuseUnknownParameters(admin)
    await admin.register(multipart, { limits: { fileSize: MAX_IMPORT_BYTES, files: 20, fields: 0, parts: 20 } })
    admin.addContentTypeParser(['application/zip', 'application/octet-stream', 'text/csv'], { parseAs: 'buffer', bodyLimit: MAX_IMPORT_BYTES }, (_req, body, done) => done(null, body))

    admin.post<{ Querystring: Static<typeof UploadQuery> }>('/api/v1/imports', {
      bodyLimit: MAX_IMPORT_BYTES,
      schema: {
        ...ADMIN_DOC,
        summary: "Import a Plausible CSV export: its zip, or its CSV files, as multipart/form-data or as the body (application/zip, text/csv with ?filename=)",
        querystring: UploadQuery,
        response: { 200: Type.Object({ import: ImportOut, replaced: Type.Boolean() }), 201: Type.Object({ import: ImportOut, replaced: Type.Boolean() }), '4xx': ErrorOut },
      },
    }, async (req, reply) => {
      const site = sites.get(req.query.site.toLowerCase())
      if (!site) return unknownSite(reply)
      const files = new Map<string, Uint8Array>()
      if (req.isMultipart()) {
        for await (const part of req.files()) addUpload(files, part.filename || 'upload.zip', await part.toBuffer())
      } else if (Buffer.isBuffer(req.body)) {
        addUpload(files, req.query.filename ?? 'upload.zip', req.body)
      } else throw new InputError('send the export as multipart/form-data, application/zip or text/csv')
      // every file is read and checked before anything is stored
      const parsed = readPlausibleExport(files, (v) => scrubIdentifiers(v, policy().forSite(site.domain).scrub))
      const { info, replaced } = await imports.import(site.domain, parsed, files)
      return reply.code(replaced ? 200 : 201).send({ import: info, replaced })
    })

    admin.get<{ Querystring: Static<typeof ListQuery> }>('/api/v1/imports', {
      schema: { ...ADMIN_DOC, summary: "A site's imports", querystring: ListQuery, response: { 200: Type.Object({ imports: Type.Array(ImportOut) }), '4xx': ErrorOut } },
    }, async (req, reply) => {
      const site = sites.get(req.query.site.toLowerCase())
      if (!site) return unknownSite(reply)
      return { imports: await imports.list(site.domain) }
    })

    admin.delete<{ Querystring: Static<typeof ListQuery>; Params: Static<typeof IdParams> }>('/api/v1/imports/:id', {
      schema: { ...ADMIN_DOC, summary: 'Delete an import and its rows', querystring: ListQuery, params: IdParams, response: { 200: Type.Object({ deleted: Type.Boolean() }), '4xx': ErrorOut } },
    }, async (req, reply) => {
      const site = sites.get(req.query.site.toLowerCase())
      if (!site) return unknownSite(reply)
      if (!(await imports.delete(site.domain, req.params.id))) return reply.code(404).send({ error: 'this site has no such import' })
      return { deleted: true }
    })
  })
}
