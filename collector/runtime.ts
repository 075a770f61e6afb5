import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { openStore, type Store } from '../aggregator/store/client.ts'
import { migrate } from '../aggregator/store/migrate.ts'
import { Sites } from '../aggregator/sites.ts'
import { resolveAdminToken } from '../aggregator/auth.ts'
import type { Config } from './config.ts'
import { GeoLocator } from './geo/geo.ts'
import { NetworkLocator } from './geo/asn.ts'
import { UserAgentParser } from './pipeline/parse-user-agent.ts'
import type { PipelineContext } from './pipeline/types.ts'
import { loadPolicy, type Policy } from './policy/policy.ts'
import { SaltStore } from './salts.ts'
import { Spool } from './spool/spool.ts'
import { SpoolWriter } from './spool/writer.ts'

/** Everything long-lived the routes share: opened once at start, closed once at the end. */
export interface Runtime {
  config: Config
  store: Store
  sites: Sites
  spool: Spool
  writer: SpoolWriter
  pipeline: PipelineContext
  adminToken: string
  /** The active policy; replaced on reload. */
  policy: Policy
  close(): Promise<void>
}

export async function openRuntime(config: Config, log: FastifyBaseLogger): Promise<Runtime> {
  const policy = loadPolicy(config.policyFile)
  const [store, geo] = await Promise.all([openStore(config), GeoLocator.open(config.geoipDb)])
  try {
    await migrate(store.client)
    const sites = new Sites(store.client)
    await sites.refresh()
    sites.refreshEvery(10_000, (err) => log.warn({ err: err.message }, 'refreshing sites failed'))
    const spool = new Spool({
      dir: path.join(config.dataDir, 'spool'),
      fsync: config.spoolFsync,
      segmentRows: config.batchRows,
      segmentMs: config.batchMs,
      capBytes: config.spoolCapBytes,
      onTorn: (segment, offset) => log.error({ segment, offset }, 'spool: a torn record (an interrupted write) was skipped; the intact records are replayed'),
    })
    const writer = new SpoolWriter(spool, store.client, log)
    writer.start()
    const { token: adminToken } = resolveAdminToken(config.adminToken, config.dataDir)
    const runtime: Runtime = {
      config,
      store,
      sites,
      spool,
      writer,
      adminToken,
      policy,
      pipeline: {
        policy,
        isKnownSite: (d) => sites.has(d),
        geo,
        networks: policy.all().some((p) => p.dimensions.has('network')) ? NetworkLocator.open() : null,
        salts: new SaltStore(),
        userAgents: new UserAgentParser(),
      },
      async close() {
        sites.stop()
        await spool.close()
        await writer.flush(5_000)
        await writer.stop()
        await store.close()
      },
    }
    return runtime
  } catch (err) {
    await store.close()
    throw err
  }
}
