import type { ClickHouseClient } from '@clickhouse/client'
import type { Config } from '../server/config.ts'
import { GeoLocator } from '../collector/lookups/geo.ts'
import { NetworkLocator } from '../collector/lookups/asn.ts'
import { isDrop, runPipeline } from '../collector/pipeline/index.ts'
import type { EventRow } from '../collector/pipeline/types.ts'
import { UserAgentParser } from '../collector/lookups/user-agents.ts'
import { loadPolicy } from '../policy/policy.ts'
import { SaltStore } from '../collector/salts.ts'
import { VisitTracker } from '../collector/visits.ts'
import { Sites } from '../accounts/sites.ts'
import type { SyntheticEvent } from './seed-traffic.ts'

/**
 * Seeding with no server running: the same pipeline, then large inserts straight into
 * the store (there is no visitor to answer, so no spool is needed).
 */
export async function seedOffline(
  client: ClickHouseClient,
  config: Config,
  domain: string,
  traffic: Iterable<SyntheticEvent[]>,
  progress: (n: number) => void,
): Promise<number> {
  const sites = new Sites(client)
  await sites.refresh()
  if (!sites.has(domain)) await sites.add(domain)
  const policy = loadPolicy(config.policyFile)
  const ctx = {
    policy,
    networks: policy.all().some((p) => p.dimensions.has('network')) ? NetworkLocator.open() : null,
    isKnownSite: (d: string) => sites.has(d),
    geo: await GeoLocator.open(config.geoipDb),
    salts: new SaltStore(() => 0),
    // one tracker for the whole run: a visit's events may come in two batches
    visits: new VisitTracker(),
    userAgents: new UserAgentParser(),
  }
  let stored = 0
  let rows: EventRow[] = []
  let pending: Promise<unknown> = Promise.resolve()
  const flush = async () => {
    const values = rows
    rows = []
    await pending
    pending = client.insert({ table: 'events', values, format: 'JSONEachRow' })
  }
  for (const batch of traffic) {
    for (const e of batch) {
      const r = runPipeline({ body: e.body, ip: e.ip, userAgent: e.userAgent, dnt: false, gpc: false, receivedAt: e.receivedAt }, ctx)
      if (!isDrop(r)) {
        rows.push(r)
        stored++
      }
    }
    progress(batch.length)
    if (rows.length >= 100_000) await flush()
  }
  if (rows.length) await flush()
  await pending
  return stored
}
