import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { openStore, type Store } from '../store/client.ts'
import { clusterClient } from '../store/cluster.ts'
import { migrate, type MigrateOptions } from '../store/migrate.ts'
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
import { heapSettled, pageOutCode, releaseMemory } from '../collector/spool/memory.ts'
import { keepOtherThreadsBatch } from './background-threads.ts'
import { storeErrorSummary } from '../store/errors.ts'
import { Clock } from '../collector/clock.ts'
import { VisitTracker } from '../collector/visits.ts'
import { SOLE_PROCESS, StoreLease, type Lease } from './lease.ts'
import { aggregates, collects, ScheduledJobs, type Role } from './roles.ts'
import { Mailer } from '../aggregator/reports/mailer.ts'
import { ReportSchedule } from '../aggregator/reports/schedule.ts'

/**
 * Everything long-lived the routes share: opened once at start, closed once at the end. A
 * process runs its role's parts only (server/roles.ts): asking a collector for its rollups, or
 * an aggregator for its spool, is a programming error and throws.
 */
export interface Runtime {
  role: Role
  config: Config
  store: Store
  sites: Sites
  /** The collector's: beacons are written here before they are answered. */
  spool: Spool
  /** The collector's: drains the spool into the store. */
  writer: SpoolWriter
  /** The aggregator's: builds daily rollups from events (every ROLLUP_INTERVAL_MS, in the process holding `jobs`). */
  rollups: RollupJob
  /** The collector's. */
  pipeline: PipelineContext
  adminToken: string
  /** The active policy, the one reference to it (the pipeline reads it here); replaced on reload. */
  policy: Policy
  /** The aggregator's: purges expired events hourly (in the process holding `jobs`); `runNow` for `analytics purge`. */
  retention: RetentionSchedule
  /** Whether this process runs the scheduled jobs now: always on the embedded engine, else by a lease in the store. */
  jobs: Lease
  /** The aggregator's: sends e-mail reports and alerts through the SMTP server of `config.smtp`; null when none is configured. */
  mailer: Mailer | null
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

export async function openRuntime(config: Config, log: FastifyBaseLogger, role: Role = 'all'): Promise<Runtime> {
  const open = keepDataDirPrivate(config.dataDir)
  if (open) log.warn({ code: (open as NodeJS.ErrnoException).code }, 'the data directory could not be closed to other accounts; it stays readable by them')
  const policy = loadPolicy(config.policyFile)
  const collector = collects(role)
  const aggregator = aggregates(role)
  // A server is not contacted here: the collector starts while the store is down.
  const [opened, geo] = await Promise.all([openStore(config, { prepare: false }), collector ? GeoLocator.open(config.geoipDb) : null])
  const { store, migrateOptions } = programStore(opened, config)
  try {
    const client = store.client
    const sites = new Sites(client, path.join(config.dataDir, 'sites.json'))
    const { token: adminToken } = resolveAdminToken(config.adminToken, config.dataDir)
    const clock = new Clock(({ ms }) =>
      log.warn({ jumpMs: ms }, 'the system clock jumped: event times go on with the monotonic clock, and retention waits, until the clock is back or the jump has lasted an hour'),
    )
    // the runtime's policy is the one reference: a reload reaches the next event
    const parts = geo ? collectorParts(config, log, store, clock, policy, { policy: () => runtime.policy, sites, geo }) : null
    let jobs: ScheduledJobs | null = null
    // On the embedded engine this process is the only one; on a server, one aggregator at a time runs the jobs. A collector runs none.
    const jobsLease: Lease = !aggregator
      ? { held: false }
      : store.embedded
        ? SOLE_PROCESS
        : new StoreLease(client, { name: 'jobs', ttlMs: config.leaseTtlMs, cluster: !!config.clickhouseCluster, onChange: (held) => jobs?.changed(held) })
    // reads the policy through the runtime, so a reload applies to the next build
    const rollups = aggregator ? new RollupJob(client, sites, () => clock.now(), () => runtime.policy.forSite('').visitTimeoutMinutes) : null
    const retention = aggregator
      ? new RetentionSchedule({
          client,
          policy: () => runtime.policy,
          sites: () => sites.list().map((s) => s.domain),
          log,
          clockSteady: () => clock.steady(),
          active: () => jobsLease.held,
        })
      : null
    if (rollups && retention) jobs = new ScheduledJobs({ lease: jobsLease, rollups, retention, salts: new StoreSaltBackend(client), now: () => clock.now(), config, log })
    // reports and spike alerts, sent by the process holding the jobs lease (aggregator/reports/schedule.ts)
    const mailer = aggregator && config.smtp ? new Mailer(config.smtp) : null
    const reports = aggregator ? new ReportSchedule({ deps: { client, sites, policy: () => runtime.policy, mailer }, active: () => jobsLease.held, log, now: () => clock.now() }) : null

    const prepareSalts = async (p: Policy) => {
      if (parts) for (const site of p.all()) await parts.pipeline.salts.prepare(site.saltPeriodHours, site.persistSalt)
    }
    // A collector wipes its salts from memory within a minute of their period's end (the store's copies are a job).
    const saltTimer = parts
      ? setInterval(() => {
          parts.pipeline.salts.rotate()
          prepareSalts(runtime.policy).catch((err) => runtime.storeReady && log.warn({ err: storeErrorSummary(err) }, 'salt rotation failed'))
        }, 60_000)
      : null
    saltTimer?.unref()

    // Everything that needs the store. Tried once before the server starts; while it fails
    // (a server refusing connections, an unwritable data directory) beacons are still taken
    // into the spool, up to its cap, and this is retried with backoff up to 30 s.
    const connect = async () => {
      await store.prepare()
      await migrate(client, migrateOptions)
      await sites.refresh()
      await prepareSalts(runtime.policy)
      // then those the store holds
      if (parts) await parts.pipeline.visits.restore(client, clock.now(), longestVisitTimeout(runtime.policy))
    }
    const whenReady = () => {
      runtime.storeReady = true
      runtime.storeError = null
      // what loading the engine touched and a running server does not use, handed back (collector/spool/memory.ts)
      pageOutCode()
      // the threads the engine has started by now, and those it starts later, yield to the main thread (server/background-threads.ts)
      stopBatching ??= keepOtherThreadsBatch()
      parts?.writer.start()
      sites.refreshEvery(10_000, (err) => log.warn({ err: storeErrorSummary(err) }, 'refreshing sites failed'))
      jobs?.start()
      reports?.start()
    }
    let retry: NodeJS.Timeout | null = null
    let closed = false
    let stopBatching: (() => void) | undefined
    const retryConnect = (afterMs: number) => {
      retry = setTimeout(() => {
        retry = null
        connect()
          .then(() => {
            if (closed) return
            log.info(parts ? 'the store answers: the spool drains into it' : 'the store answers')
            whenReady()
          })
          .catch((err) => {
            runtime.storeError = storeErrorSummary(err)
            if (!closed) retryConnect(Math.min(30_000, afterMs * 2))
          })
      }, afterMs)
      retry.unref()
    }

    const absent = (part: string): never => {
      throw new Error(`a process in the ${role} role has no ${part}`)
    }
    const runtime: Runtime = {
      role,
      config,
      store,
      sites,
      get spool() {
        return parts?.spool ?? absent('spool')
      },
      get writer() {
        return parts?.writer ?? absent('spool writer')
      },
      get rollups() {
        return rollups ?? absent('rollup job')
      },
      get retention() {
        return retention ?? absent('retention schedule')
      },
      jobs: jobsLease,
      mailer,
      adminToken,
      policy,
      clock,
      storeReady: false,
      storeError: null,
      get pipeline() {
        return parts?.pipeline ?? absent('pipeline')
      },
      async reloadPolicy() {
        let next: Policy
        try {
          next = loadPolicy(config.policyFile)
        } catch (err) {
          return { ok: false, error: (err as Error).message }
        }
        if (parts && needsNetworks(next) && !parts.pipeline.networks) parts.pipeline.networks = NetworkLocator.open()
        // Each event runs the pipeline synchronously: it sees the old policy or the new one, never a mix.
        runtime.policy = next
        if (runtime.storeReady) await prepareSalts(next)
        return { ok: true, name: next.name }
      },
      async close() {
        closed = true
        if (retry) clearTimeout(retry)
        if (saltTimer) clearInterval(saltTimer)
        stopBatching?.()
        await jobs?.stop()
        await reports?.stop()
        mailer?.close()
        sites.stop()
        if (parts) {
          await parts.spool.close()
          if (runtime.storeReady) await parts.writer.flush(5_000)
          await parts.writer.stop()
        }
        await store.close()
        geo?.close()
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
        !parts
          ? 'the store is unavailable at start: it is retried'
          : snapshot
            ? 'the store is unavailable at start: beacons for the sites last known are spooled (up to SPOOL_CAP_BYTES) and the store is retried'
            : 'the store is unavailable at start and no list of sites is kept here yet: beacons are answered 503 until the store answers',
      )
      retryConnect(250)
    }
    return runtime
  } catch (err) {
    await store.close()
    geo?.close()
    throw err
  }
}

/**
 * What only a collector has: the spool and its writer, and the pipeline's context (the
 * geography, User-Agent and referrer-spam lookups, the visitor salts, the visits it cuts).
 */
function collectorParts(
  config: Config,
  log: FastifyBaseLogger,
  store: Store,
  clock: Clock,
  atStart: Policy,
  shared: { policy: () => Policy; sites: Sites; geo: GeoLocator },
): { spool: Spool; writer: SpoolWriter; pipeline: PipelineContext } {
  const spool = new Spool({
    dir: path.join(config.dataDir, 'spool'),
    fsync: config.spoolFsync,
    segmentRows: config.batchRows,
    segmentMs: config.batchMs,
    capBytes: config.spoolCapBytes,
    onTorn: (segment, offset) => log.error({ segment, offset }, 'spool: a torn record (an interrupted write) was skipped; the intact records are replayed'),
  })
  const visits = new VisitTracker()
  // visits open before a restart go on: first those whose latest events wait in the spool's backlog
  for (const row of spool.backlogSince(clock.now() - longestVisitTimeout(atStart))) visits.observe(row)
  return {
    spool,
    // once a burst is over, the memory it grew (V8's heap, the embedded engine's) is given back
    writer: new SpoolWriter(spool, store.insertBlock, log, { onIdle: () => void releaseMemory(store), settled: heapSettled }),
    pipeline: {
      get policy() {
        return shared.policy()
      },
      isKnownSite: (d) => shared.sites.has(d),
      geo: shared.geo,
      networks: needsNetworks(atStart) ? NetworkLocator.open() : null,
      // salt periods follow the trusted time: a wall clock jumping ahead does not wipe today's salt early
      salts: new SaltStore(() => clock.now(), new StoreSaltBackend(store.client)),
      visits,
      userAgents: new UserAgentParser(),
      referrerSpam: new ReferrerSpamList(config.referrerSpamFiles),
    },
  }
}

/**
 * The store as the program uses it: on a cluster, statements that change a sharded table's parts
 * reach every shard (store/cluster.ts); when other processes share it, migrations are applied
 * by one process at a time (the `migrations` lease).
 */
export function programStore(opened: Store, config: Pick<Config, 'clickhouseCluster' | 'leaseTtlMs'>): { store: Store; migrateOptions: MigrateOptions } {
  const cluster = config.clickhouseCluster ? { name: config.clickhouseCluster, database: opened.database } : undefined
  const store = cluster ? { ...opened, client: clusterClient(opened.client, cluster.name) } : opened
  const lease = store.embedded ? null : new StoreLease(store.client, { name: 'migrations', ttlMs: config.leaseTtlMs, cluster: !!cluster })
  return { store, migrateOptions: { cluster, exclusive: lease ? (fn) => lease.exclusive(fn) : undefined } }
}

function longestVisitTimeout(policy: Policy): number {
  return Math.max(...policy.all().map((p) => p.visitTimeoutMinutes)) * 60_000
}

function needsNetworks(policy: Policy): boolean {
  return policy.all().some((p) => p.dimensions.has('network'))
}
