import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import type { Sites } from '../../accounts/sites.ts'
import { annotationDate, annotationNote, AnnotationStore, NOTE_MAX } from '../annotation-store.ts'
import { calendarDate, resolvePeriod } from '../stats/period.ts'
import { Common } from './stats.ts'
import { DeletedOut, ErrorOut, IdParams, Meta, notFound, READ, siteNamed, unknownSite, WRITE } from './site-records.ts'

const ListQuery = Type.Object({ site: Common.site, period: Common.period, date: Common.date, from: Common.from, to: Common.to })
const NewAnnotation = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 253 }),
  date: Type.String({ maxLength: 10, description: "a day of the site's time zone: 2026-11-29" }),
  note: Type.String({ minLength: 1, maxLength: NOTE_MAX }),
}, { additionalProperties: false })
const AnnotationOut = Type.Object({ ...Meta, date: Type.String(), note: Type.String() })

const iso = ([y, m, d]: [number, number, number]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`

/** Annotations: dated notes on a site's chart (launches, campaigns), listed for a period as the stats API takes it. */
export async function annotationRoutes(app: FastifyInstance, { client, sites }: { client: ClickHouseClient; sites: Sites }) {
  const annotations = new AnnotationStore(client)

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/v1/annotations', {
    onRequest: READ.onRequest,
    schema: {
      ...READ.doc,
      summary: "A site's annotations on the days of a period (period, date, from/to as the stats API takes them)",
      querystring: ListQuery,
      response: { 200: Type.Object({ annotations: Type.Array(AnnotationOut), period: Type.String() }), '4xx': ErrorOut },
    },
  }, async (req, reply) => {
    const site = sites.get(req.query.site.toLowerCase())
    if (!site) return unknownSite(reply)
    const range = resolvePeriod(req.query, site.timezone)
    const first = iso(calendarDate(range.from, site.timezone))
    const last = iso(calendarDate(range.to - 1, site.timezone))
    return { annotations: await annotations.list(site.domain, first, last), period: range.label }
  })

  app.post<{ Body: Static<typeof NewAnnotation> }>('/api/v1/annotations', {
    onRequest: WRITE.onRequest,
    schema: { ...WRITE.doc, summary: 'Add an annotation: {site, date, note}', body: NewAnnotation, response: { 201: AnnotationOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const site = siteNamed(sites, req.body.site)
    if (!site) return reply.code(400).send({ error: 'unknown site: register it first' })
    return reply.code(201).send(await annotations.create(site, annotationDate(req.body.date), annotationNote(req.body.note)))
  })

  app.delete<{ Params: Static<typeof IdParams> }>('/api/v1/annotations/:id', {
    onRequest: WRITE.onRequest,
    schema: { ...WRITE.doc, summary: 'Delete an annotation', params: IdParams, response: { 200: DeletedOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    if (!(await annotations.delete(req.params.id))) return notFound(reply, 'annotation')
    return { id: req.params.id, deleted: true }
  })
}
