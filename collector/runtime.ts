import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { openStore, type Store } from '../aggregator/store/client.ts'
import { migrate } from '../aggregator/store/migrate.ts'
import { Sites } from '../aggregator/sites.ts'
import { resolveAdminToken } from '../aggregator/auth.ts'
import { RetentionSchedule } from '../aggregator/retention-schedule.ts'
import { RollupJob } from '../aggregator/rollup/job.ts'
import type { Config } from './config.ts'
import { GeoLocator } from './geo/geo.ts'
import { NetworkLocator } from './geo/asn.ts'
import { UserAgentParser } from './pipeline/parse-user-agent.ts'
import type { PipelineContext } from './pipeline/types.ts'
import { loadPolicy, type Policy } from './policy/policy.ts'
import { SaltStore, StoreSaltBackend } from './salts.ts'
import { Spool } from './spool/spool.ts'
import { SpoolWriter } from './spool/writer.ts'

/** Everything long-lived the routes share: opened once at start, closed once at the end. */
export interface Runtime {
  config: Config
  store: Store
  sites: Sites
  spool: Spool
  writer: SpoolWriter
  /** Builds visits and daily rollups from events (every ROLLUP_INTERVAL_MS). */
  rollups: RollupJob
  pipeline: PipelineContext
  adminToken: string
  /** The active policy; replaced on reload. */
  policy: Policy
  /** Purges expired events shortly after start, then hourly; `runNow` for `analytics purge`. */
  retention: RetentionSchedule
  /** Re-reads POLICY_FILE (on SIGHUP); a bad file is reported and the running policy kept. */
  reloadPolicy(): Promise<{ ok: true; name: string } | { ok: false; error: string }>
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
    const salts = new SaltStore(Date.now, new StoreSaltBackend(store.client))
    // reads the policy through the runtime, so a reload applies to the next build
    const rollups = new RollupJob(store.client, sites, () => runtime.policy)
    if (config.rollupIntervalMs > 0) rollups.start(config.rollupIntervalMs, (err) => log.warn({ err: err.message }, 'building rollups failed'))
    const prepareSalts = async (p: Policy) => {
      for (const site of p.all()) await salts.prepare(site.saltPeriodHours, site.persistSalt)
    }
    await prepareSalts(policy)
    // Salts are wiped (memory and store) within a minute of their period's end.
    const saltTimer = setInterval(() => {
      salts
        .rotateEverywhere()
        .then(() => prepareSalts(runtime.policy))
        .catch((err) => log.warn({ err: (err as Error).message }, 'salt rotation failed'))
    }, 60_000)
    saltTimer.unref()
    const retention = new RetentionSchedule({ client: store.client, policy: () => runtime.policy, sites: () => sites.list().map((s) => s.domain), log })
    retention.start()
    const runtime: Runtime = {
      config,
      store,
      sites,
      spool,
      writer,
      rollups,
      adminToken,
      policy,
      retention,
      pipeline: {
        policy,
        isKnownSite: (d) => sites.has(d),
        geo,
        networks: needsNetworks(policy) ? NetworkLocator.open() : null,
        salts,
        userAgents: new UserAgentParser(),
      },
      async reloadPolicy() {
        let next: Policy
        try {
          next = loadPolicy(config.policyFile)
        } catch (err) {
          return { ok: false, error: (err as Error).message }
        }
        if (needsNetworks(next) && !runtime.pipeline.networks) runtime.pipeline.networks = NetworkLocator.open()
        // Each event runs the pipeline synchronously: it sees the old policy or the new one, never a mix.
        runtime.policy = next
        runtime.pipeline.policy = next
        await prepareSalts(next)
        return { ok: true, name: next.name }
      },
      async close() {
        clearInterval(saltTimer)
        await rollups.stop()
        await retention.stop()
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

function needsNetworks(policy: Policy): boolean {
  return policy.all().some((p) => p.dimensions.has('network'))
}
