import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import type { Sites } from '../../accounts/sites.ts'
import { FUNNEL_NAME_MAX, funnelName, funnelSteps, FunnelStore, MAX_WINDOW_MINUTES, stepOut, type SavedFunnel } from '../funnel-store.ts'
import { MAX_STEPS, MIN_STEPS } from '../stats/funnel.ts'
import { DeletedOut, ErrorOut, IdParams, Meta, notFound, READ, siteNamed, SiteQuery, unknownSite, WRITE } from './site-records.ts'

const NewFunnel = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 253 }),
  name: Type.String({ minLength: 1, maxLength: FUNNEL_NAME_MAX }),
  steps: Type.Array(Type.Object({}, { additionalProperties: true }), {
    minItems: MIN_STEPS,
    maxItems: MAX_STEPS,
    description: 'as /api/v1/funnel takes them: [{"page":"/pricing"},{"event":"Signup","prop":{"key":"plan","value":"pro"}}]',
  }),
  window_minutes: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: MAX_WINDOW_MINUTES,
    description: 'a visit counts at a step only if it reached it within this many minutes of step 1 (left out: anywhere in the visit)',
  })),
}, { additionalProperties: false })

const StepOut = Type.Object({
  label: Type.String(),
  page: Type.Optional(Type.String()),
  event: Type.Optional(Type.String()),
  prop: Type.Optional(Type.Object({ key: Type.String(), value: Type.String() })),
})
const FunnelOut = Type.Object({ ...Meta, name: Type.String(), steps: Type.Array(StepOut), window_minutes: Type.Union([Type.Integer(), Type.Null()]) })

const funnelOut = (f: SavedFunnel) => ({ ...f, steps: f.steps.map(stepOut) })

/** Saved funnels: named steps per site, run by `GET /api/v1/funnel?funnel=<id>`. */
export async function funnelRoutes(app: FastifyInstance, { client, sites }: { client: ClickHouseClient; sites: Sites }) {
  const funnels = new FunnelStore(client)

  app.get<{ Querystring: Static<typeof SiteQuery> }>('/api/v1/funnels', {
    onRequest: READ.onRequest,
    schema: { ...READ.doc, summary: "A site's saved funnels", querystring: SiteQuery, response: { 200: Type.Object({ funnels: Type.Array(FunnelOut) }), '4xx': ErrorOut } },
  }, async (req, reply) => {
    const site = siteNamed(sites, req.query.site)
    if (!site) return unknownSite(reply)
    return { funnels: (await funnels.list(site)).map(funnelOut) }
  })

  app.post<{ Body: Static<typeof NewFunnel> }>('/api/v1/funnels', {
    onRequest: WRITE.onRequest,
    schema: { ...WRITE.doc, summary: 'Save a funnel: {site, name, steps, window_minutes?}', body: NewFunnel, response: { 201: FunnelOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const site = siteNamed(sites, req.body.site)
    if (!site) return reply.code(400).send({ error: 'unknown site: register it first' })
    const made = await funnels.create(site, funnelName(req.body.name), funnelSteps(req.body.steps), req.body.window_minutes ?? null)
    return reply.code(201).send(funnelOut(made))
  })

  app.delete<{ Params: Static<typeof IdParams> }>('/api/v1/funnels/:id', {
    onRequest: WRITE.onRequest,
    schema: { ...WRITE.doc, summary: 'Delete a saved funnel', params: IdParams, response: { 200: DeletedOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    if (!(await funnels.delete(req.params.id))) return notFound(reply, 'funnel')
    return { id: req.params.id, deleted: true }
  })
}
