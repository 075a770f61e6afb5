import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAdmin } from '../auth.ts'
import { aggregate, AGGREGATE_METRICS, type AggregateMetric } from '../stats/aggregate.ts'
import { PeriodError, PERIODS, resolvePeriod } from '../stats/period.ts'
import type { Runtime } from '../../collector/runtime.ts'

const AggregateQuery = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 253 }),
  period: Type.Optional(Type.Enum(PERIODS)),
  date: Type.Optional(Type.String({ maxLength: 10 })),
  from: Type.Optional(Type.String({ maxLength: 10 })),
  to: Type.Optional(Type.String({ maxLength: 10 })),
  metrics: Type.Optional(Type.String({ maxLength: 500 })),
})

const Metric = Type.Object({
  value: Type.Union([Type.Number(), Type.Null()]),
  change: Type.Union([Type.Number(), Type.Null()]),
  withheld: Type.Optional(Type.String()),
})

export async function statsRoutes(app: FastifyInstance, { runtime }: { runtime: Runtime }) {
  app.addHook('preHandler', requireAdmin(runtime.adminToken))

  app.get<{ Querystring: Static<typeof AggregateQuery> }>('/api/v1/stats/aggregate', {
    schema: {
      querystring: AggregateQuery,
      response: { 200: Type.Object({ results: Type.Record(Type.String(), Metric), period: Type.String() }) },
    },
  }, async (req, reply) => {
    const q = req.query
    const site = runtime.sites.get(q.site.toLowerCase())
    if (!site) return reply.code(404).send({ error: 'unknown site' })
    const metrics = (q.metrics ?? 'visitors,pageviews,events').split(',').map((m) => m.trim()).filter(Boolean)
    const unknown = metrics.filter((m) => !(AGGREGATE_METRICS as readonly string[]).includes(m))
    if (unknown.length || metrics.length === 0) {
      return reply.code(400).send({ error: `metrics must be a comma-separated list of ${AGGREGATE_METRICS.join(', ')}` })
    }
    let range
    try {
      range = resolvePeriod(q, site.timezone)
    } catch (err) {
      if (err instanceof PeriodError) return reply.code(400).send({ error: err.message })
      throw err
    }
    const minVisitors = runtime.policy.forSite(site.domain).minVisitors.dashboard
    const results = await aggregate(runtime.store.client, site.domain, range, metrics as AggregateMetric[], minVisitors)
    return { results, period: range.label }
  })
}
