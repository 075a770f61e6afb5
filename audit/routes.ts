import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { requireAccess } from '../accounts/access.ts'
import type { Policy } from '../policy/policy.ts'
import { auditStore } from './audit.ts'

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
 * `analytics audit` while a server owns the store (the embedded engine belongs to one process):
 * the store's part only, as the spool and logs are files on the caller's side. Admin only.
 */
export async function auditRoutes(app: FastifyInstance, { client, policy }: { client: ClickHouseClient; policy: () => Policy }) {
  app.addHook('onRequest', requireAccess({ scope: 'admin' }))

  app.get('/api/v1/admin/audit', {
    schema: { response: { 200: AuditReportOut } },
  }, async () => auditStore(client, policy()))
}
