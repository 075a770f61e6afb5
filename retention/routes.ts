import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess } from '../accounts/access.ts'
import type { RetentionSchedule } from './schedule.ts'

const PurgeQuery = Type.Object({ dryRun: Type.Optional(Type.Boolean()) }, { additionalProperties: false })

const PurgeReportOut = Type.Object({
  droppedPartitions: Type.Array(Type.String()),
  deletedRowsEstimate: Type.Number(),
  dryRun: Type.Boolean(),
  perSite: Type.Record(
    Type.String(),
    Type.Object({
      rawEventsDays: Type.Number(),
      rawCutoff: Type.String(),
      droppedRows: Type.Number(),
      deletedRows: Type.Number(),
      aggregatesDays: Type.Number(),
      aggregateRows: Type.Number(),
    }),
  ),
})

/**
 * `analytics purge` while a server owns the store (the embedded engine belongs to one process):
 * the same purge the schedule runs, now. Admin only.
 */
export async function retentionRoutes(app: FastifyInstance, { retention }: { retention: RetentionSchedule }) {
  // onRequest: a caller without the token learns nothing, not even what the input should be
  app.addHook('onRequest', requireAccess({ scope: 'admin' }))

  app.post<{ Querystring: Static<typeof PurgeQuery> }>('/api/v1/admin/purge', {
    schema: { querystring: PurgeQuery, response: { 200: PurgeReportOut } },
  }, async (req) => retention.runNow({ dryRun: req.query.dryRun ?? false }))
}
