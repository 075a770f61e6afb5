import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { openStore, type Store } from '../store/client.ts'
import { migrate } from '../store/migrate.ts'
import { Sites } from '../accounts/sites.ts'
import { resolveAdminToken } from '../accounts/auth.ts'
import { RetentionSchedule } from '../retention/schedule.ts'
import { RollupJob } from '../aggregator/rollup/job.ts'
import type { Config } from './config.ts'
import { keepDataDirPrivate } from './data-dir.ts'
import { GeoLocator } from '../collector/lookups/geo.ts'
import { NetworkLocator } from '../collector/lookups/asn.ts'
import { UserAgentParser } from '../collector/lookups/user-agents.ts'
import { ReferrerSpamList } from '../collector/lookups/referrer-spam.ts'
import type { PipelineContext } from '../collector/pipeline/types.ts'
import { loadPolicy, type Policy } from '../policy/policy.ts'
import { SaltStore, StoreSaltBackend } from '../collector/salts.ts'
import { Spool } from '../collector/spool/spool.ts'
import { SpoolWriter } from '../collector/spool/writer.ts'
import { storeErrorSummary } from '../store/errors.ts'
import { Clock } from '../collector/clock.ts'
import { VisitTracker } from '../collector/visits.ts'

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
  /** The active policy, the one reference to it (the pipeline reads it here); replaced on reload. */
  policy: Policy
  /** Purges expired events shortly after start, then hourly; `runNow` for `analytics purge`. */
  retention: RetentionSchedule
  /** Event times (never going back) and whether the wall clock can be believed. */
  clock: Clock
  /** Whether the store has answered since start (database, migrations, sites, salts). */
  storeReady: boolean
  /** Why it has not (the error's kind and code), while it has not. */
  storeError: string | null
  /** Re-reads POLICY_FILE (on SIGHUP); a bad file is reported and the running policy kept. */
  reloadPolicy(): Promise<{ ok: true; name: string } | { ok: false; error: string }>
  close(): Promise<void>
}

export async function openRuntime(config: Config, log: FastifyBaseLogger): Promise<Runtime> {
  const open = keepDataDirPrivate(config.dataDir)
  if (open) log.warn({ code: (open as NodeJS.ErrnoException).code }, 'the data directory could not be closed to other accounts; it stays readable by them')
  const policy = loadPolicy(config.policyFile)
  // A server is not contacted here: the collector starts while the store is down.
  const [store, geo] = await Promise.all([openStore(config, { prepare: false }), GeoLocator.open(config.geoipDb)])
  try {
    const sites = new Sites(store.client, path.join(config.dataDir, 'sites.json'))
    const spool = new Spool({
      dir: path.join(config.dataDir, 'spool'),
      fsync: config.spoolFsync,
      segmentRows: config.batchRows,
      segmentMs: config.batchMs,
      capBytes: config.spoolCapBytes,
      onTorn: (segment, offset) => log.error({ segment, offset }, 'spool: a torn record (an interrupted write) was skipped; the intact records are replayed'),
    })
    const writer = new SpoolWriter(spool, store.insertBlock, log)
    const { token: adminToken } = resolveAdminToken(config.adminToken, config.dataDir)
    const clock = new Clock(({ ms }) =>
      log.warn({ jumpMs: ms }, 'the system clock jumped: event times go on with the monotonic clock, and retention waits, until the clock is back or the jump has lasted an hour'),
    )
    // salt periods follow the trusted time: a wall clock jumping ahead does not wipe today's salt early
    const salts = new SaltStore(() => clock.now(), new StoreSaltBackend(store.client))
    const visits = new VisitTracker()
    // visits open before a restart go on: first those whose latest events wait in the spool's backlog
    for (const row of spool.backlogSince(clock.now() - longestVisitTimeout(policy))) visits.observe(row)
    // reads the policy through the runtime, so a reload applies to the next build
    const rollups = new RollupJob(store.client, sites, () => clock.now())
    const retention = new RetentionSchedule({
      client: store.client,
      policy: () => runtime.policy,
      sites: () => sites.list().map((s) => s.domain),
      log,
      clockSteady: () => clock.steady(),
    })
    const prepareSalts = async (p: Policy) => {
      for (const site of p.all()) await salts.prepare(site.saltPeriodHours, site.persistSalt)
    }
    // Salts are wiped (memory and store) within a minute of their period's end.
    const saltTimer = setInterval(() => {
      salts
        .rotateEverywhere()
        .then(() => prepareSalts(runtime.policy))
        .catch((err) => runtime.storeReady && log.warn({ err: storeErrorSummary(err) }, 'salt rotation failed'))
    }, 60_000)
    saltTimer.unref()

    // Everything that needs the store. Tried once before the server starts; while it fails
    // (a server refusing connections, an unwritable data directory) beacons are still taken
    // into the spool, up to its cap, and this is retried with backoff up to 30 s.
    const connect = async () => {
      await store.prepare()
      await migrate(store.client)
      await sites.refresh()
      await prepareSalts(runtime.policy)
      // then those the store holds
      await visits.restore(store.client, clock.now(), longestVisitTimeout(runtime.policy))
    }
    const whenReady = () => {
      runtime.storeReady = true
      runtime.storeError = null
      writer.start()
      sites.refreshEvery(10_000, (err) => log.warn({ err: storeErrorSummary(err) }, 'refreshing sites failed'))
      if (config.rollupIntervalMs > 0) rollups.start(config.rollupIntervalMs, (err, where) => log.warn({ err: storeErrorSummary(err), ...where }, 'building rollups failed'))
      retention.start()
    }
    let retry: NodeJS.Timeout | null = null
    let closed = false
    const retryConnect = (afterMs: number) => {
      retry = setTimeout(() => {
        retry = null
        connect()
          .then(() => {
            if (closed) return
            log.info('the store answers: the spool drains into it')
            whenReady()
          })
          .catch((err) => {
            runtime.storeError = storeErrorSummary(err)
            if (!closed) retryConnect(Math.min(30_000, afterMs * 2))
          })
      }, afterMs)
      retry.unref()
    }

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
      clock,
      storeReady: false,
      storeError: null,
      pipeline: {
        // the runtime's policy is the one reference: a reload reaches the next event
        get policy() {
          return runtime.policy
        },
        isKnownSite: (d) => sites.has(d),
        geo,
        networks: needsNetworks(policy) ? NetworkLocator.open() : null,
        salts,
        visits,
        userAgents: new UserAgentParser(),
        referrerSpam: new ReferrerSpamList(config.referrerSpamFiles),
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
        if (runtime.storeReady) await prepareSalts(next)
        return { ok: true, name: next.name }
      },
      async close() {
        closed = true
        if (retry) clearTimeout(retry)
        clearInterval(saltTimer)
        await rollups.stop()
        await retention.stop()
        sites.stop()
        await spool.close()
        if (runtime.storeReady) await writer.flush(5_000)
        await writer.stop()
        await store.close()
        geo.close()
      },
    }

    try {
      await connect()
      whenReady()
    } catch (err) {
      runtime.storeError = storeErrorSummary(err)
      const snapshot = sites.loadSnapshot()
      log.error(
        { err: runtime.storeError, sites: snapshot ? sites.list().length : null },
        snapshot
          ? 'the store is unavailable at start: beacons for the sites last known are spooled (up to SPOOL_CAP_BYTES) and the store is retried'
          : 'the store is unavailable at start and no list of sites is kept here yet: beacons are answered 503 until the store answers',
      )
      retryConnect(250)
    }
    return runtime
  } catch (err) {
    await store.close()
    throw err
  }
}

function longestVisitTimeout(policy: Policy): number {
  return Math.max(...policy.all().map((p) => p.visitTimeoutMinutes)) * 60_000
}

function needsNetworks(policy: Policy): boolean {
  return policy.all().some((p) => p.dimensions.has('network'))
}
