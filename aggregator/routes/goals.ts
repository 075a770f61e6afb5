import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess } from '../../accounts/access.ts'
import { siteOfRecord } from '../../accounts/record-site.ts'
import type { Sites } from '../../accounts/sites.ts'
import { GOAL_ID, GoalStore, MAX_GOALS_PER_SITE, type Goal } from '../goal-store.ts'
import { LIMITS, parseGoalMatch } from '../stats/goal-match.ts'
import { currencyCode } from '../../money/currency.ts'

const PropIn = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 64 }),
  value: Type.String({ minLength: 1, maxLength: LIMITS.propValue }),
}, { additionalProperties: false })

const NewGoal = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 253 }),
  page: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.pattern, description: 'a path; * matches any characters (/signup/*)' })),
  event: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.name, description: 'a custom event name' })),
  prop: Type.Optional(PropIn),
  currency: Type.Optional(Type.String({ minLength: 3, maxLength: 3, description: 'makes an event goal a revenue goal: the ISO 4217 currency whose revenue it sums (EUR)' })),
}, { additionalProperties: false })

export const GoalOut = Type.Object({
  id: Type.String(),
  site: Type.String(),
  label: Type.String(),
  page: Type.Optional(Type.String()),
  event: Type.Optional(Type.String()),
  prop: Type.Optional(Type.Object({ key: Type.String(), value: Type.String() })),
  currency: Type.Optional(Type.String()),
  created_at: Type.String(),
})

const ListQuery = Type.Object({ site: Type.String({ minLength: 1, maxLength: 253 }) })
const IdParams = Type.Object({ id: Type.String({ pattern: GOAL_ID.source }) })
const ErrorOut = Type.Object({ error: Type.String() })

/** A goal as the API shows it: the same fields it was created with. */
export function goalOut(g: Goal): Static<typeof GoalOut> {
  const match = g.kind === 'page' ? { page: g.pattern } : { event: g.name, ...(g.prop ? { prop: g.prop } : {}), ...(g.currency ? { currency: g.currency } : {}) }
  return { id: g.id, site: g.site, label: g.label, ...match, created_at: g.created_at }
}

/**
 * Goals per site (`/signup/*` visited, `Signup` sent, `Signup` with plan=pro): the admin API.
 * Read by the site's viewers, changed by its admins.
 */
export async function goalRoutes(app: FastifyInstance, { client, sites }: { client: ClickHouseClient; sites: Sites }) {
  app.addHook('onRequest', requireAccess({ scope: 'admin', role: 'admin', readRole: 'viewer', siteFrom: siteOfRecord('goals') }))
  const goals = new GoalStore(client)

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/v1/goals', {
    schema: { summary: "A site's goals", querystring: ListQuery, response: { 200: Type.Object({ goals: Type.Array(GoalOut) }), '4xx': ErrorOut } },
  }, async (req, reply) => {
    const site = sites.get(req.query.site.toLowerCase())
    if (!site) return reply.code(404).send({ error: 'unknown site' })
    return { goals: (await goals.list(site.domain)).map(goalOut) }
  })

  app.post<{ Body: Static<typeof NewGoal> }>('/api/v1/goals', {
    schema: {
      summary: 'Add a goal: {site, page} or {site, event, prop?, currency?} (with a currency, a revenue goal); an identical goal is answered with 200 and its id',
      body: NewGoal,
      response: { 200: GoalOut, 201: GoalOut, '4xx': ErrorOut },
    },
  }, async (req, reply) => {
    const { site: domain, currency, ...input } = req.body
    const site = sites.get(domain.toLowerCase())
    if (!site) return reply.code(400).send({ error: `unknown site ${domain.slice(0, 253)}: register it first` })
    const match = parseGoalMatch(input)
    if (currency !== undefined) {
      // revenue comes with custom events (the collector refuses it on pageviews)
      if (match.kind !== 'event') return reply.code(400).send({ error: 'currency goes with event goals: revenue is sent with custom events' })
      const code = currencyCode(currency)
      if (!code) return reply.code(400).send({ error: 'currency must be an ISO 4217 currency code such as EUR or USD' })
      match.currency = code
    }
    const made = await goals.create(site.domain, match)
    if ('full' in made) return reply.code(400).send({ error: `a site has at most ${MAX_GOALS_PER_SITE} goals` })
    if ('conflict' in made) {
      const was = made.conflict.kind === 'event' && made.conflict.currency ? `in ${made.conflict.currency}` : 'without a currency'
      return reply.code(400).send({ error: `the goal ${made.conflict.label} exists ${was} (id ${made.conflict.id}): a goal counts one currency, delete it first to change it` })
    }
    return reply.code(made.existing ? 200 : 201).send(goalOut(made.goal))
  })

  app.delete<{ Params: Static<typeof IdParams> }>('/api/v1/goals/:id', {
    schema: { summary: 'Delete a goal', params: IdParams, response: { 200: Type.Object({ id: Type.String(), deleted: Type.Boolean() }), '4xx': ErrorOut } },
  }, async (req, reply) => {
    if (!(await goals.delete(req.params.id))) return reply.code(404).send({ error: 'no such goal' })
    return { id: req.params.id, deleted: true }
  })
}
