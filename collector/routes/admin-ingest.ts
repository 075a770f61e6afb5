import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess } from '../../accounts/access.ts'
import { isDrop, runPipeline } from '../pipeline/index.ts'
import { SaltStore } from '../salts.ts'
import { VisitTracker } from '../visits.ts'
import type { PipelineContext } from '../pipeline/types.ts'
import type { Spool } from '../spool/spool.ts'

/** Synthetic traffic from `analytics seed`: each item is a beacon plus the request facts it stands for. */
const Batch = Type.Object({
  events: Type.Array(
    Type.Object({
      body: Type.Unknown(),
      ip: Type.String({ maxLength: 64 }),
      userAgent: Type.String({ maxLength: 1024 }),
      receivedAt: Type.Integer({ minimum: 0 }),
    }),
    { maxItems: 10_000 },
  ),
})

/**
 * The seed path while a server owns the store: the same pipeline and spool as live beacons.
 * Admin only. Salts for past days are made for the batch and forgotten with it.
 */
export async function adminIngestRoutes(app: FastifyInstance, { pipeline, spool }: { pipeline: PipelineContext; spool: Spool }) {
  app.addHook('onRequest', requireAccess({ scope: 'admin' }))
  // past traffic has visits of its own, cut across batches (a visit's events may come in two)
  const visits = new VisitTracker()
  app.post<{ Body: Static<typeof Batch> }>('/api/v1/admin/events', {
    bodyLimit: 16 * 1024 * 1024,
    schema: { body: Batch },
  }, async (req, reply) => {
    const ctx: PipelineContext = { ...pipeline, salts: new SaltStore(() => 0), visits }
    let accepted = 0
    const drops: Record<string, number> = {}
    const appends: Promise<void>[] = []
    for (const e of req.body.events) {
      const r = runPipeline({ body: e.body, ip: e.ip, userAgent: e.userAgent, dnt: false, gpc: false, receivedAt: e.receivedAt }, ctx)
      if (isDrop(r)) drops[r.drop] = (drops[r.drop] ?? 0) + 1
      else {
        appends.push(spool.append(r))
        accepted++
      }
    }
    await Promise.all(appends)
    return reply.code(202).send({ accepted, drops })
  })
}
