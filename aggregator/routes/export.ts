import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromQuery } from '../../accounts/access.ts'
import { ExportNoiseStore } from '../export/budget.ts'
import { EXPORT_FORMATS, EXPORT_INTERVALS, EXPORT_PERIODS, planExport, runExport, type ExportContext } from '../export/export.ts'
import { refuseUnknownParameters, type StatsDeps } from './stats.ts'

const ExportQuery = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 253 }),
  period: Type.Optional(Type.Enum(EXPORT_PERIODS)),
  date: Type.Optional(Type.String({ maxLength: 10 })),
  from: Type.Optional(Type.String({ maxLength: 10 })),
  to: Type.Optional(Type.String({ maxLength: 10 })),
  format: Type.Optional(Type.Enum(EXPORT_FORMATS)),
  property: Type.Optional(Type.String({ maxLength: 80 })),
  filters: Type.Optional(Type.String({ maxLength: 2000 })),
  interval: Type.Optional(Type.Enum(EXPORT_INTERVALS)),
})

const ErrorOut = Type.Object({ error: Type.String() })
const BudgetOut = Type.Object({
  error: Type.String(),
  budget: Type.Optional(
    Type.Object({ month: Type.String(), spent_epsilon: Type.Number(), budget_epsilon: Type.Number(), exports_per_month: Type.Integer() }),
  ),
})

/**
 * `GET /api/v1/export`: a time series or one breakdown as CSV, JSON lines or Parquet, or every
 * breakdown as a zip of CSVs, with the policy's export k and (optionally) noise.
 */
export async function exportRoutes(app: FastifyInstance, { client, sites, policy }: StatsDeps) {
  // the admin token, or a per-site token with the export scope; onRequest, so a caller without access learns nothing about the input
  app.addHook('onRequest', requireAccess({ scope: 'export', siteFrom: siteFromQuery }))
  refuseUnknownParameters(app)
  const noise = new ExportNoiseStore(client)
  const context = (): ExportContext => ({ client, site: (d) => sites.get(d), policy: policy(), noise })

  app.get<{ Querystring: Static<typeof ExportQuery> }>('/api/v1/export', {
    schema: {
      tags: ['stats'],
      description:
        'Aggregate statistics as a file: without `property` the time series (date, visitors, visits, pageviews, views_per_visit, bounce_rate, visit_duration, events); ' +
        'with `property` that breakdown; `format=zip` every breakdown as CSVs. Numbers from fewer than the policy\'s `min_visitors.export` visitors are withheld or folded into `(other)`; ' +
        'with `noise.export_epsilon` the counts carry noise, and a month of data allows a fixed number of distinct noisy exports (403 once spent).',
      querystring: ExportQuery,
      produces: ['text/csv', 'application/x-ndjson', 'application/vnd.apache.parquet', 'application/zip'],
      response: { '4xx': BudgetOut, 404: ErrorOut },
    },
  }, async (req, reply) => {
    const ctx = context()
    const plan = planExport(ctx, req.query)
    const result = await runExport(ctx, plan)
    reply
      .header('content-type', plan.contentType)
      .header('content-disposition', `attachment; filename="${plan.filename}"`)
      .header('cache-control', 'no-store')
    if (plan.epsilon !== null) reply.header('x-analytics-noise-epsilon', String(plan.epsilon))
    if (result.withheld) reply.header('x-analytics-withheld', result.withheld)
    return reply.send(result.body)
  })
}
