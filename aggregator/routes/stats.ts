import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { NumberOrNull, Row } from '../../http/json-types.ts'
import Type, { type Static } from 'typebox'
import type { ClickHouseClient } from '@clickhouse/client'
import { requireAccess, siteFromQuery } from '../../accounts/access.ts'
import type { Sites } from '../../accounts/sites.ts'
import { InputError } from '../../http/errors.ts'
import type { Audience, Policy, SitePolicy } from '../../policy/policy.ts'
import { ExportNoiseStore } from '../export/budget.ts'
import { keyedHash } from '../export/noise.ts'
import { Noise, type Limits } from '../stats/disclosure.ts'
import { parseFilters } from '../stats/filters.ts'
import { resolveGoalFilters } from '../stats/goal-filter.ts'
import { askMeasures } from '../stats/measures.ts'
import { parseMetrics, type Metric } from '../stats/metrics.ts'
import { COMPARISONS, comparisonRange, PERIODS, resolvePeriod, type Range } from '../stats/period.ts'
import { property, PROPERTY_NAMES } from '../stats/properties.ts'
import { realtime } from '../stats/realtime.ts'
import { aggregate, breakdown, propertyKeys, timeseries, type Scope } from '../stats/service.ts'
import type { Interval } from '../stats/query.ts'
import { acceptPlausibleV1 } from '../plausible/v1.ts'

/** What the statistics routes read: the store, the registered sites, and the policy in force. */
export interface StatsDeps {
  client: ClickHouseClient
  sites: Sites
  policy: () => Policy
}

/** The query parameters every statistics route shares. */
export const Common = {
  site: Type.String({ minLength: 1, maxLength: 253 }),
  period: Type.Optional(Type.Enum(PERIODS)),
  date: Type.Optional(Type.String({ maxLength: 10 })),
  from: Type.Optional(Type.String({ maxLength: 10 })),
  to: Type.Optional(Type.String({ maxLength: 10 })),
  metrics: Type.Optional(Type.String({ maxLength: 500 })),
  filters: Type.Optional(Type.String({ maxLength: 2000 })),
}
/** What a period is compared with (aggregate and timeseries); `compare` is Plausible's v1 name for it. */
const Compared = {
  comparison: Type.Optional(Type.Enum(COMPARISONS)),
  compare: Type.Optional(Type.Enum(COMPARISONS)),
  compare_from: Type.Optional(Type.String({ maxLength: 10 })),
  compare_to: Type.Optional(Type.String({ maxLength: 10 })),
}
const AggregateQuery = Type.Object({ ...Common, ...Compared })
const TimeseriesQuery = Type.Object({ ...Common, ...Compared, interval: Type.Optional(Type.Enum(['minute', 'hour', 'day', 'week', 'month'])) })
const BreakdownQuery = Type.Object({ ...Common, property: Type.String({ maxLength: 80 }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) })
const RealtimeQuery = Type.Object({ site: Common.site, filters: Common.filters })

const MetricOut = Type.Object({ value: NumberOrNull, change: NumberOrNull, withheld: Type.Optional(Type.String()) })
const ErrorOut = Type.Object({ error: Type.String() })
/** With total_revenue or average_revenue asked: the ISO 4217 currency they are in. */
const Currency = { currency: Type.Optional(Type.String()) }
/** Present when revenue is asked (askMeasures). */
const currencyOf = (currency?: string) => (currency ? { currency } : {})

const DEFAULT_METRICS: Metric[] = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration']

/**
 * The query's site, period and filters as a scope, with the minimum group size of whoever
 * asks (dashboard, shared link or export); null for an unknown site; an InputError for bad input.
 */
export async function scopeOf({ client, sites, policy }: StatsDeps, req: FastifyRequest<{ Querystring: Static<typeof AggregateQuery> }>) {
  const q = req.query
  const site = sites.get(q.site.toLowerCase())
  if (!site) return null
  const range = resolvePeriod(q, site.timezone)
  const filters = await resolveGoalFilters(client, site.domain, parseFilters(q.filters))
  const rules = policy().forSite(site.domain)
  const scope: Scope = { site: site.domain, timezone: site.timezone, filters, ...(await disclosureOf(client, rules, req.audience, site.domain)) }
  return { scope, range }
}

/** The audience's minimum group: k visitors from kn networks. */
const limitsOf = (rules: SitePolicy, audience: Audience): Limits => ({ k: rules.minVisitors[audience], kn: rules.minNetworks[audience] })

const noiseKeys = new WeakMap<ClickHouseClient, ExportNoiseStore>()

/**
 * The consistent noise of the audience (N1), under a key derived from the site's secret noise
 * key; none when the policy gives it no ε. Exports add their own noise, with its budget (aggregator/export).
 */
async function noiseOf(client: ClickHouseClient, rules: SitePolicy, audience: Audience, site: string): Promise<Noise | undefined> {
  const epsilon = audience === 'export' ? null : rules.epsilon[audience]
  if (!epsilon) return undefined
  let store = noiseKeys.get(client)
  if (!store) noiseKeys.set(client, (store = new ExportNoiseStore(client)))
  return new Noise(keyedHash(await store.key(site), 'stats noise'), epsilon)
}

/** What the asker may be shown of a site: the audience's minimum group (limitsOf) and its noise (noiseOf). */
export async function disclosureOf(client: ClickHouseClient, rules: SitePolicy, audience: Audience, site: string): Promise<{ limits: Limits; noise: Noise | undefined }> {
  return { limits: limitsOf(rules, audience), noise: await noiseOf(client, rules, audience, site) }
}

const unknownSite = (reply: FastifyReply) => reply.code(404).send({ error: 'unknown site' })

/** The range asked to compare with (`comparison`, or Plausible's `compare`), or null when none was asked. */
function comparedRange(q: Static<typeof AggregateQuery>, range: Range, tz: string) {
  const kind = q.comparison ?? q.compare
  if (!kind) {
    if (q.compare_from || q.compare_to) throw new InputError('compare_from and compare_to go with comparison=custom')
    return null
  }
  return comparisonRange(range, kind, tz, { from: q.compare_from, to: q.compare_to })
}

/** A parameter the route does not know is a 400 naming it, never silently ignored. */
export function refuseUnknownParameters(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const known = (req.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined)?.properties
    if (!known) return
    const unknown = Object.keys(req.query as Record<string, unknown>).filter((k) => !Object.hasOwn(known, k))
    if (unknown.length) throw new InputError(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}: this route takes ${Object.keys(known).join(', ')}`)
  })
}

/** How many answers the statistics routes worked out (not shared with an identical question in flight): read by tests. */
export const answersWorkedOut = { count: 0 }

/**
 * Identical questions asked while one is being answered (the same route, parameters and
 * audience: a shared dashboard opened by many at once, a flood through a shared link) wait for
 * that answer instead of working it out again, so each question is worked out once at a time.
 * The answer depends on nothing else of the request (its access was checked before), and is the
 * one each would have been given a moment later. `work` gives null for an unknown site.
 */
function answerOnce(answering: Map<string, Promise<object | null>>) {
  return async (req: FastifyRequest, reply: FastifyReply, work: () => Promise<object | null>) => {
    const key = `${req.audience}\u0000${req.routeOptions.url}\u0000${JSON.stringify(req.query)}`
    let answer = answering.get(key)
    if (!answer) {
      answersWorkedOut.count++
      answer = work().finally(() => answering.delete(key))
      answering.set(key, answer)
    }
    return (await answer) ?? unknownSite(reply)
  }
}

/** The stats API: statistics only, every number checked against the policy's minimum. */
export async function statsRoutes(app: FastifyInstance, deps: StatsDeps) {
  const { client, sites, policy } = deps
  const once = answerOnce(new Map())
  // Plausible's v1 names and filters (aggregator/plausible/v1.ts), rewritten before access and the parameter check read them
  acceptPlausibleV1(app, sites)
  app.addHook('onRequest', requireAccess({ scope: 'stats', siteFrom: siteFromQuery }))
  refuseUnknownParameters(app)

  app.get<{ Querystring: Static<typeof AggregateQuery> }>('/api/v1/stats/aggregate', {
    schema: {
      querystring: AggregateQuery,
      response: { 200: Type.Object({ results: Type.Record(Type.String(), MetricOut), period: Type.String(), comparison: Type.Object({ period: Type.String() }), ...Currency }), '4xx': ErrorOut },
    },
  }, (req, reply) => once(req, reply, async () => {
    const s = await scopeOf(deps, req)
    if (!s) return null
    const metrics = parseMetrics(req.query.metrics, DEFAULT_METRICS)
    const { filters, currency } = askMeasures(s.scope.filters, metrics)
    const compared = comparedRange(req.query, s.range, s.scope.timezone) ?? comparisonRange(s.range, 'previous_period', s.scope.timezone)
    return { results: await aggregate(client, { ...s.scope, filters }, s.range, metrics, compared), period: s.range.label, comparison: { period: compared.label }, ...currencyOf(currency) }
  }))

  app.get<{ Querystring: Static<typeof TimeseriesQuery> }>('/api/v1/stats/timeseries', {
    schema: {
      querystring: TimeseriesQuery,
      response: {
        200: Type.Object({
          results: Type.Array(Row), period: Type.String(), interval: Type.String(),
          comparison: Type.Optional(Type.Object({ period: Type.String(), results: Type.Array(Row) })),
          ...Currency,
        }),
        '4xx': ErrorOut,
      },
    },
  }, (req, reply) => once(req, reply, async () => {
    const s = await scopeOf(deps, req)
    if (!s) return null
    const metrics = parseMetrics(req.query.metrics, ['visitors'])
    const { filters, currency } = askMeasures(s.scope.filters, metrics)
    const scope = { ...s.scope, filters }
    const days = (s.range.to - s.range.from) / 86_400_000
    const interval: Interval = req.query.interval ?? (req.query.period === 'realtime' ? 'minute' : days <= 1 ? 'hour' : days <= 93 ? 'day' : 'month')
    const buckets = (s.range.to - s.range.from) / { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000 }[interval]
    if (buckets > 5000) throw new InputError(`interval ${interval} is too fine for this period`)
    const compared = comparedRange(req.query, s.range, s.scope.timezone)
    const results = await timeseries(client, scope, s.range, metrics, interval)
    if (!compared) return { results, period: s.range.label, interval, ...currencyOf(currency) }
    // the compared series over a span as long as the period's, so its buckets line up with the period's one by one
    const span = { ...s.range, from: compared.from, to: Math.max(compared.to, compared.from + (s.range.to - s.range.from)) }
    return { results, period: s.range.label, interval, comparison: { period: compared.label, results: await timeseries(client, scope, span, metrics, interval) }, ...currencyOf(currency) }
  }))

  app.get<{ Querystring: Static<typeof BreakdownQuery> }>('/api/v1/stats/breakdown', {
    schema: {

      querystring: BreakdownQuery,
      response: { 200: Type.Object({ results: Type.Array(Row), period: Type.String(), withheld: Type.Optional(Type.String()), ...Currency }), '4xx': ErrorOut },
    },
  }, (req, reply) => once(req, reply, async () => {
    const s = await scopeOf(deps, req)
    if (!s) return null
    const prop = property(req.query.property)
    if (!prop) throw new InputError(`property must be one of ${PROPERTY_NAMES.join(', ')}`)
    const metrics = parseMetrics(req.query.metrics, ['visitors'])
    const { filters, currency } = askMeasures(s.scope.filters, metrics, req.query.property)
    const b = await breakdown(client, { ...s.scope, filters }, s.range, req.query.property, prop, metrics, req.query.limit ?? 100)
    return { ...b, period: s.range.label, ...currencyOf(currency) }
  }))

  app.get<{ Querystring: Static<typeof AggregateQuery> }>('/api/v1/stats/properties', {
    schema: { querystring: AggregateQuery, response: { 200: Type.Object({ keys: Type.Array(Type.String()), period: Type.String() }), '4xx': ErrorOut } },
  }, (req, reply) => once(req, reply, async () => {
    const s = await scopeOf(deps, req)
    if (!s) return null
    return { keys: await propertyKeys(client, s.scope, s.range), period: s.range.label }
  }))

  app.get<{ Querystring: Static<typeof RealtimeQuery> }>('/api/v1/stats/realtime', {
    schema: {

      querystring: RealtimeQuery,
      response: { 200: Type.Object({ visitors: NumberOrNull, pages: Type.Array(Row), withheld: Type.Optional(Type.String()) }), '4xx': ErrorOut },
    },
  }, async (req, reply) => {
    const site = sites.get(req.query.site.toLowerCase())
    if (!site) return unknownSite(reply)
    const { limits, noise } = await disclosureOf(client, policy().forSite(site.domain), req.audience, site.domain)
    return realtime(client, site.domain, limits, parseFilters(req.query.filters), noise)
  })
}
