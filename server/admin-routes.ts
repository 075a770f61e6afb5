import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess } from '../accounts/access.ts'
import { auditStore } from '../audit/audit.ts'
import type { Runtime } from './runtime.ts'

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

const AuditReportOut = Type.Object({
  clean: Type.Boolean(),
  findings: Type.Array(
    Type.Object({
      where: Type.String(),
      kind: Type.String(),
      detail: Type.String(),
      count: Type.Number(),
      sample: Type.Optional(Type.String()),
    }),
  ),
  scanned: Type.Object({ tables: Type.Number(), columns: Type.Number(), rows: Type.Number(), files: Type.Number() }),
  notes: Type.Array(Type.String()),
})

/**
 * Store maintenance behind `analytics purge` and `analytics audit` while a server owns the
 * store (the embedded engine belongs to one process). Admin only.
 */
export async function adminRoutes(app: FastifyInstance, { runtime }: { runtime: Runtime }) {
  // onRequest: a caller without the token learns nothing, not even what the input should be
  app.addHook('onRequest', requireAccess({ scope: 'admin' }))

  app.post<{ Querystring: Static<typeof PurgeQuery> }>('/api/v1/admin/purge', {
    schema: { querystring: PurgeQuery, response: { 200: PurgeReportOut } },
  }, async (req) => runtime.retention.runNow({ dryRun: req.query.dryRun ?? false }))

  // The store's part only: the spool and logs are files on the caller's side.
  app.get('/api/v1/admin/audit', {
    schema: { response: { 200: AuditReportOut } },
  }, async () => auditStore(runtime.store.client, runtime.policy))
}
