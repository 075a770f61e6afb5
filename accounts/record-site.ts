import type { FastifyRequest } from 'fastify'
import { siteFromRequestOr, type SiteFrom } from './access.ts'

/** Tables of per-site records named by id in a route's path. */
const TABLES = ['goals', 'segments', 'funnels', 'annotations'] as const
type RecordTable = (typeof TABLES)[number]

/** The table of the route's records: its collection in `/api/v1/<table>/:id`. */
function tableOfRoute(req: FastifyRequest): RecordTable | undefined {
  const name = /^\/api\/v1\/([a-z]+)\//.exec(req.routeOptions.url ?? '')?.[1]
  return TABLES.find((t) => t === name)
}

/**
 * `siteFrom` for the routes of a per-site record: the site named in the query or body, or, for
 * `/…/:id`, the site of that record in `table` (by default the route's collection: `/api/v1/segments/:id`);
 * undefined when there is none: only a user with a role on every site then passes, and learns
 * that it does not exist.
 */
export function siteOfRecord(table?: RecordTable): SiteFrom {
  return (req: FastifyRequest) =>
    siteFromRequestOr(async (id) => {
      const from = table ?? tableOfRoute(req)
      if (!from) return undefined
      // the table is one of a fixed few, never input; the id is a parameter
      const rs = await req.server.runtime.store.client.query({
        query: `SELECT site FROM ${from} FINAL WHERE id = {id:String} AND deleted = 0 LIMIT 1`,
        query_params: { id },
        format: 'JSONEachRow',
      })
      const [row] = await rs.json<{ site: string }>()
      return row?.site
    })(req)
}
