import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import type { Sites } from '../../accounts/sites.ts'
import { SEGMENT_NAME_MAX, segmentFilters, segmentName, SegmentStore } from '../segment-store.ts'
import { DeletedOut, ErrorOut, IdParams, Meta, notFound, READ, siteNamed, SiteQuery, unknownSite, WRITE } from './site-records.ts'

const Name = Type.String({ minLength: 1, maxLength: SEGMENT_NAME_MAX })
const Filters = Type.String({ minLength: 1, maxLength: 2000, description: 'the stats API\'s filters: country==DE;page~/blog' })
const NewSegment = Type.Object({ site: Type.String({ minLength: 1, maxLength: 253 }), name: Name, filters: Filters }, { additionalProperties: false })
const SegmentChange = Type.Object({ name: Type.Optional(Name), filters: Type.Optional(Filters) }, { additionalProperties: false, minProperties: 1 })
const SegmentOut = Type.Object({ ...Meta, name: Type.String(), filters: Type.String() })

/** Saved segments: named filter sets per site, applied as the stats API's `filters`. */
export async function segmentRoutes(app: FastifyInstance, { client, sites }: { client: ClickHouseClient; sites: Sites }) {
  const segments = new SegmentStore(client)

  app.get<{ Querystring: Static<typeof SiteQuery> }>('/api/v1/segments', {
    onRequest: READ.onRequest,
    schema: { ...READ.doc, summary: "A site's saved segments", querystring: SiteQuery, response: { 200: Type.Object({ segments: Type.Array(SegmentOut) }), '4xx': ErrorOut } },
  }, async (req, reply) => {
    const site = siteNamed(sites, req.query.site)
    if (!site) return unknownSite(reply)
    return { segments: await segments.list(site) }
  })

  app.post<{ Body: Static<typeof NewSegment> }>('/api/v1/segments', {
    onRequest: WRITE.onRequest,
    schema: { ...WRITE.doc, summary: 'Save a segment: {site, name, filters}', body: NewSegment, response: { 201: SegmentOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const site = siteNamed(sites, req.body.site)
    if (!site) return reply.code(400).send({ error: 'unknown site: register it first' })
    const made = await segments.create(site, segmentName(req.body.name), segmentFilters(req.body.filters))
    return reply.code(201).send(made)
  })

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof SegmentChange> }>('/api/v1/segments/:id', {
    onRequest: WRITE.onRequest,
    schema: { ...WRITE.doc, summary: 'Rename a segment or change its filters: {name?, filters?}', params: IdParams, body: SegmentChange, response: { 200: SegmentOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const { name, filters } = req.body
    const changed = await segments.update(req.params.id, {
      ...(name === undefined ? {} : { name: segmentName(name) }),
      ...(filters === undefined ? {} : { filters: segmentFilters(filters) }),
    })
    return changed ?? notFound(reply, 'segment')
  })

  app.delete<{ Params: Static<typeof IdParams> }>('/api/v1/segments/:id', {
    onRequest: WRITE.onRequest,
    schema: { ...WRITE.doc, summary: 'Delete a segment', params: IdParams, response: { 200: DeletedOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    if (!(await segments.delete(req.params.id))) return notFound(reply, 'segment')
    return { id: req.params.id, deleted: true }
  })
}
