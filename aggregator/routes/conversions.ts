import type { FastifyInstance, FastifyReply } from 'fastify'
import { NumberOrNull } from '../../http/json-types.ts'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromQuery } from '../../accounts/access.ts'
import { InputError } from '../../http/errors.ts'
import { Common as StatsCommon, refuseUnknownParameters, scopeOf, type StatsDeps } from './stats.ts'
import { GOAL_ID, GoalStore } from '../goal-store.ts'
import { FunnelStore } from '../funnel-store.ts'
import { RECORD_ID } from '../site-records.ts'
import { funnel, MAX_STEPS, MIN_STEPS, parseSteps } from '../stats/funnel.ts'
import type { GoalMatch } from '../stats/goal-match.ts'
import { goalConversions } from '../stats/goal-conversions.ts'
import { pageFlow } from '../stats/page-flow.ts'

// The query parameters of the other stats routes, less `metrics`.
const { metrics: _metrics, ...Common } = StatsCommon
const GoalsQuery = Type.Object(Common)
const FunnelQuery = Type.Object({
  ...Common,
  steps: Type.Optional(Type.String({ maxLength: 4000, description: `a JSON array of ${MIN_STEPS} to ${MAX_STEPS} steps: [{"page":"/pricing"},{"event":"Signup","prop":{"key":"plan","value":"pro"}}]` })),
  goals: Type.Optional(Type.String({ maxLength: 200, description: 'saved goal ids as steps, in order: id1,id2,...' })),
  funnel: Type.Optional(Type.String({ maxLength: 12, description: 'a saved funnel (GET /api/v1/funnels): its steps and conversion window' })),
})
const PageFlowQuery = Type.Object({
  ...Common,
  page: Type.String({ minLength: 1, maxLength: 500, pattern: '^/' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
})

const Withheld = Type.Optional(Type.String())
const ErrorOut = Type.Object({ error: Type.String() })
const GoalsOut = Type.Object({
  results: Type.Array(Type.Object({
    id: Type.String(), goal: Type.String(), visitors: NumberOrNull, events: NumberOrNull, conversion_rate: NumberOrNull, withheld: Withheld,
    // a revenue goal's (goal-conversions.ts)
    currency: Type.Optional(Type.String()), total_revenue: Type.Optional(NumberOrNull), average_revenue: Type.Optional(NumberOrNull),
  })),
  visitors: NumberOrNull,
  period: Type.String(),
  withheld: Withheld,
})
const FunnelOut = Type.Object({
  steps: Type.Array(Type.Object({ label: Type.String(), visitors: NumberOrNull, conversion_rate: NumberOrNull, dropoff: NumberOrNull, dropoff_rate: NumberOrNull, withheld: Withheld })),
  period: Type.String(),
  withheld: Withheld,
})
const FlowRow = Type.Object({ page: Type.String(), visitors: Type.Number() })
const PageFlowOut = Type.Object({
  page: Type.String(),
  visitors: NumberOrNull,
  previous: Type.Array(FlowRow),
  next: Type.Array(FlowRow),
  period: Type.String(),
  withheld: Withheld,
})
// /api/v1/funnel is outside /api/v1/stats, so it says itself what the OpenAPI document shows.
const FUNNEL_DOC = { tags: ['stats'], security: [{ bearer: [] }, { bearer: [], sharePassword: [] }] as Record<string, string[]>[] }

const unknownSite = (reply: FastifyReply) => reply.code(404).send({ error: 'unknown site' })

/** Goal conversions, funnels and page flow: statistics within visits, every number checked against k. */
export async function conversionRoutes(app: FastifyInstance, deps: StatsDeps) {
  const { client } = deps
  app.addHook('onRequest', requireAccess({ scope: 'stats', siteFrom: siteFromQuery }))
  refuseUnknownParameters(app)
  const goals = new GoalStore(client)
  const savedFunnels = new FunnelStore(client)

  app.get<{ Querystring: Static<typeof GoalsQuery> }>('/api/v1/stats/goals', {
    schema: { tags: ['stats'], summary: "Conversions of the site's goals, with conversion_rate", querystring: GoalsQuery, response: { 200: GoalsOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const s = await scopeOf(deps, req)
    if (!s) return unknownSite(reply)
    const saved = await goals.list(s.scope.site)
    return { ...(await goalConversions(client, s.scope, s.range, saved)), period: s.range.label }
  })

  app.get<{ Querystring: Static<typeof FunnelQuery> }>('/api/v1/funnel', {
    schema: { ...FUNNEL_DOC, summary: 'Visitors through 2 to 8 steps in order within a visit', querystring: FunnelQuery, response: { 200: FunnelOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const s = await scopeOf(deps, req)
    if (!s) return unknownSite(reply)
    const { steps: raw, goals: ids, funnel: savedId } = req.query
    if ([raw, ids, savedId].filter((p) => p !== undefined).length !== 1) throw new InputError('give the funnel one of steps (a JSON array), goals (saved goal ids) or funnel (a saved funnel id)')
    let steps: GoalMatch[]
    let windowMinutes: number | null = null
    if (savedId !== undefined) {
      const saved = RECORD_ID.test(savedId) ? await savedFunnels.get(s.scope.site, savedId) : null
      if (!saved) throw new InputError('funnel is not a saved funnel of this site')
      steps = saved.steps
      windowMinutes = saved.window_minutes
    } else if (raw !== undefined) steps = parseSteps(raw)
    else {
      const list = ids!.split(',').map((id) => id.trim())
      if (list.length < MIN_STEPS || list.length > MAX_STEPS) throw new InputError(`a funnel has ${MIN_STEPS} to ${MAX_STEPS} steps, not ${list.length}`)
      const saved = new Map((await goals.list(s.scope.site)).map((g) => [g.id, g]))
      steps = list.map((id, i) => {
        const goal = GOAL_ID.test(id) ? saved.get(id) : undefined
        if (!goal) throw new InputError(`goals: step ${i + 1} is not a saved goal of this site`)
        return goal
      })
    }
    return { ...(await funnel(client, s.scope, s.range, steps, windowMinutes)), period: s.range.label }
  })

  app.get<{ Querystring: Static<typeof PageFlowQuery> }>('/api/v1/stats/page-flow', {
    schema: { tags: ['stats'], summary: 'The pages viewed just before and after a page within visits', querystring: PageFlowQuery, response: { 200: PageFlowOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const s = await scopeOf(deps, req)
    if (!s) return unknownSite(reply)
    return { ...(await pageFlow(client, s.scope, s.range, req.query.page, req.query.limit ?? 10)), period: s.range.label }
  })
}
