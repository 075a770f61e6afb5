import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromPath } from '../access.ts'
import { normaliseDomain, SiteError, type Sites } from '../sites.ts'

/** Beacons stored this recently mean the tag works. */
export const RECEIVING_WINDOW_MS = 30 * 60_000
/** How far back the last beacon is looked for (the events of a site's recent days, cheap by the table's order). */
const LOOK_BACK_DAYS = 7

const DomainParams = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) })
const InstallationOut = Type.Object({
  receiving: Type.Boolean({ description: `a beacon was stored in the last ${RECEIVING_WINDOW_MS / 60_000} minutes` }),
  last_seen_ago_s: Type.Union([Type.Integer(), Type.Null()], { description: `seconds since the last stored beacon, in whole minutes; null when none in ${LOOK_BACK_DAYS} days` }),
})

/**
 * Whether a site's tag works: beacons stored lately, and how long ago the last one was, in whole
 * minutes. No count: it answers before k visitors exist, so it may say nothing that tells
 * visitors apart (a minute holds any number of them). The site's admins.
 */
export async function installationRoutes(app: FastifyInstance, { client, sites }: { client: ClickHouseClient; sites: Sites }) {
  app.addHook('onRequest', requireAccess({ scope: 'admin', role: 'admin', siteFrom: siteFromPath }))

  app.get<{ Params: Static<typeof DomainParams> }>('/api/v1/sites/:domain/installation', {
    schema: {
      summary: "Whether the site's beacons are arriving (to check a fresh tag): yes or no, and minutes since the last one",
      params: DomainParams,
      response: { 200: InstallationOut, '4xx': Type.Object({ error: Type.String() }) },
    },
  }, async (req) => {
    const domain = normaliseDomain(req.params.domain)
    if (!domain || !sites.has(domain)) throw SiteError.unknown()
    const rs = await client.query({
      query: `SELECT count() > 0 AS seen, toUnixTimestamp64Milli(max(ts)) AS last FROM events
              WHERE site = {site:String} AND toDate(ts) >= today() - {days:UInt32}`,
      query_params: { site: domain, days: LOOK_BACK_DAYS },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<{ seen: number | boolean; last: number | string }>()
    if (!Number(row.seen)) return { receiving: false, last_seen_ago_s: null }
    const ago = Math.max(0, Date.now() - Number(row.last))
    return { receiving: ago < RECEIVING_WINDOW_MS, last_seen_ago_s: Math.floor(ago / 60_000) * 60 }
  })
}
