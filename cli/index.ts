import { Command, InvalidArgumentError } from 'commander'
import type { SingleBar } from 'cli-progress'
import type { ClickHouseClient } from '@clickhouse/client'
import { loadConfig, type Config } from '../server/config.ts'
import { runningServer, serve } from '../server/listen.ts'
import { resolveAdminToken } from '../accounts/auth.ts'
import { normaliseDomain, type Site, type Sites } from '../accounts/sites.ts'
import type { SiteChangeDeps } from '../accounts/site-changes.ts'
import { seedOffline } from './seed-offline.ts'
import { syntheticTraffic } from './seed-traffic.ts'
import { addExportCommand } from './export.ts'
import { addTokenCommands } from './tokens.ts'
import { addUserCommands } from './users.ts'
import { addReportCommands } from './report.ts'
import { addImportCommands } from './import.ts'
import { printable, progressBars, readAnswer } from './terminal.ts'

const program = new Command('analytics').description('Privacy-respecting site analytics')

function positiveInt(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number')
  return n
}

/** The running server's admin API, when one owns the data directory. */
function serverApi(config: Config) {
  const server = runningServer(config.dataDir)
  // a collector serves no admin API: the command opens the (shared) store itself
  if (!server || server.role === 'collector') return null
  const { token } = resolveAdminToken(config.adminToken, config.dataDir)
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>
    if (!res.ok) throw new Error(`server answered ${res.status}: ${String(json.error ?? '')}`)
    return json
  }
}

/** A domain given on the command line, as sites are registered. */
function registrable(input: string): string {
  const domain = normaliseDomain(input)
  if (!domain) throw new InvalidArgumentError('domain must be a host name such as example.com')
  return domain
}

/**
 * Opens the store (no server running) with what changing a site needs: the registered sites, and
 * a rollup job of its own (no build runs meanwhile, and no spool is being drained: the collector
 * is not running).
 */
async function withSiteChanges<T>(config: Config, fn: (deps: SiteChangeDeps) => Promise<T>): Promise<T> {
  const { RollupJob } = await import('../aggregator/rollup/job.ts')
  return withSites(config, (sites, client) => fn({ sites, client, rollups: new RollupJob(client, sites), drainSpool: async () => undefined }))
}

/** Opens the store (no server running) with the registered sites read. */
async function withSites<T>(config: Config, fn: (sites: Sites, client: ClickHouseClient) => Promise<T>): Promise<T> {
  const { Sites } = await import('../accounts/sites.ts')
  return withStore(config, async (client) => {
    const sites = new Sites(client)
    await sites.refresh()
    return fn(sites, client)
  })
}

/** Opens the store directly (no server running) for one command, then closes it. */
async function withStore<T>(config: Config, fn: (client: ClickHouseClient) => Promise<T>): Promise<T> {
  const { openStore } = await import('../store/client.ts')
  const { migrate } = await import('../store/migrate.ts')
  const { keepDataDirPrivate } = await import('../server/data-dir.ts')
  const { programStore } = await import('../server/runtime.ts')
  const open = keepDataDirPrivate(config.dataDir)
  if (open) console.error(`warning: ${config.dataDir} could not be closed to other accounts (${(open as NodeJS.ErrnoException).code})`)
  const { store, migrateOptions } = programStore(await openStore(config), config)
  try {
    await migrate(store.client, migrateOptions)
    return await fn(store.client)
  } finally {
    await store.close()
  }
}

program
  .command('serve')
  .description('run the collector, the stats API and the dashboards on HOST:PORT')
  .option('--role <role>', 'all, or only the collector (beacons) or the aggregator (stats API, dashboards, scheduled jobs) over a shared store (CLICKHOUSE_URL)', 'all')
  .action(async (opts: { role: string }) => {
    const config = loadConfig()
    const { checkRole } = await import('../server/roles.ts')
    await serve(config, checkRole(opts.role, config))
  })

program
  .command('store')
  .description('the store on its own')
  .command('serve')
  .description('run the embedded ClickHouse engine (ANALYTICS_DATA_DIR/clickhouse) in this process, served to other processes on 127.0.0.1 as a ClickHouse server (their CLICKHOUSE_URL)')
  .option('--port <port>', 'port on 127.0.0.1', positiveInt, 8123)
  .action(async (opts: { port: number }) => {
    const config = loadConfig()
    const { keepDataDirPrivate } = await import('../server/data-dir.ts')
    const { ENGINE_ARGS } = await import('../store/client.ts')
    const { resolveStorePassword, serveStore } = await import('../store/serve.ts')
    keepDataDirPrivate(config.dataDir)
    const { password, file } = resolveStorePassword(config.clickhousePassword, config.dataDir)
    const { url } = await serveStore({ dataDir: config.dataDir, port: opts.port, user: config.clickhouseUser ?? 'default', password, engineArgs: ENGINE_ARGS, logLevel: config.logLevel })
    console.log(`collectors and aggregators: CLICKHOUSE_URL=${url} CLICKHOUSE_PASSWORD=${file ? `$(cat ${file})` : '<CLICKHOUSE_PASSWORD>'}`)
  })

const site = program.command('site').description('register, list, change and remove sites')
site
  .command('add <domain>')
  .option('--timezone <tz>', 'IANA time zone for days and months in reports (one the store knows: `site timezones`)', 'UTC')
  .description('register a site; beacons for unregistered domains are dropped')
  .action(async (input: string, opts: { timezone: string }) => {
    const config = loadConfig()
    const domain = registrable(input)
    const api = serverApi(config)
    if (api) await api('POST', '/api/v1/sites', { domain, timezone: opts.timezone })
    else {
      const { Sites } = await import('../accounts/sites.ts')
      await withStore(config, (client) => new Sites(client).add(domain, opts.timezone))
    }
    // the running server's own address (its port, whatever PORT this shell has), else where `serve` would listen
    const origin = runningServer(config.dataDir)?.url ?? `http://${config.host}:${config.port}`
    console.log(`added ${domain}. Paste into every page:\n  <script defer data-domain="${domain}" src="${origin}/t.js"></script>`)
  })
site
  .command('list')
  .description('list registered sites')
  .action(async () => {
    const config = loadConfig()
    const api = serverApi(config)
    const sites = api
      ? ((await api('GET', '/api/v1/sites')).sites as Site[])
      : await withSites(config, async (sites) => sites.list())
    for (const s of sites) console.log(`${printable(s.domain)}\t${printable(s.timezone)}`)
  })
site
  .command('timezones')
  .description('the time zones a site may have (those the store knows)')
  .action(async () => {
    const config = loadConfig()
    const api = serverApi(config)
    const zones = api
      ? ((await api('GET', '/api/v1/sites/timezones')).timezones as string[])
      : await withSites(config, async (sites) => [...(await sites.knownTimezones())])
    for (const z of zones) console.log(printable(z))
  })
site
  .command('timezone <domain> <tz>')
  .description("change a site's time zone; its daily statistics are built again in it (days whose events are kept)")
  .action(async (input: string, timezone: string) => {
    const config = loadConfig()
    const domain = registrable(input)
    const api = serverApi(config)
    if (api) await api('PATCH', `/api/v1/sites/${encodeURIComponent(domain)}`, { timezone })
    else {
      const { changeTimezone } = await import('../accounts/site-changes.ts')
      await withSiteChanges(config, (deps) => changeTimezone(deps, domain, timezone))
    }
    console.log(`${domain} now reports in ${printable(timezone)}`)
  })
site
  .command('remove <domain>')
  .description('remove a site and delete all its data: events, visits, statistics, goals, tokens and shared links')
  .option('--yes', 'do not ask: the site and its data are deleted at once')
  .action(async (input: string, opts: { yes?: boolean }) => {
    const config = loadConfig()
    const domain = registrable(input)
    if (!opts.yes) {
      const typed = await readAnswer(`This deletes ${domain} and all its data, for good. Type the domain to confirm: `)
      if (normaliseDomain(typed) !== domain) throw new Error('not confirmed: nothing was removed (or pass --yes)')
    }
    const api = serverApi(config)
    const tables = api
      ? ((await api('DELETE', `/api/v1/sites/${encodeURIComponent(domain)}?confirm=${encodeURIComponent(domain)}`)).tables as string[])
      : await (async () => {
          const { removeSite } = await import('../accounts/site-changes.ts')
          return withSiteChanges(config, (deps) => removeSite(deps, domain))
        })()
    console.log(`removed ${domain}${tables.length ? `; its rows were deleted from ${tables.join(', ')}` : ''}`)
  })

program
  .command('seed')
  .description('send realistic synthetic traffic through the pipeline (registers the site if needed)')
  .requiredOption('--site <domain>', 'the site to seed')
  .option('--events <n>', 'how many events', positiveInt, 100_000)
  .option('--days <n>', 'spread over this many days back from now', positiveInt, 30)
  .option('--random-seed <n>', 'repeatable traffic', positiveInt)
  .action(async (opts: { site: string; events: number; days: number; randomSeed?: number }) => {
    const config = loadConfig()
    const domain = normaliseDomain(opts.site)
    if (!domain) throw new InvalidArgumentError('--site must be a host name such as example.com')
    const bar = (await progressBars())('seeding {bar} {percentage}% | {value}/{total} events | {eta}s left')
    bar.start(opts.events, 0)
    const started = Date.now()
    const traffic = syntheticTraffic({ site: domain, events: opts.events, days: opts.days, randomSeed: opts.randomSeed })
    let accepted = 0
    const api = serverApi(config)
    if (api) {
      const sites = (await api('GET', '/api/v1/sites')).sites as { domain: string }[]
      if (!sites.some((s) => s.domain === domain)) await api('POST', '/api/v1/sites', { domain })
      for (const batch of traffic) {
        const r = await api('POST', '/api/v1/admin/events', { events: batch })
        accepted += Number(r.accepted)
        bar.increment(batch.length)
      }
    } else {
      accepted = await withStore(config, (client) => seedOffline(client, config, domain, traffic, (n) => bar.increment(n)))
    }
    bar.stop()
    console.log(`${accepted} events stored for ${domain} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })

program
  .command('purge')
  .description("remove raw events and aggregates older than the policy's retention (the server also does this hourly)")
  .option('--dry-run', 'count what would be removed, remove nothing')
  .action(async (opts: { dryRun?: boolean }) => {
    const config = loadConfig()
    const { purge, formatPurgeReport } = await import('../retention/purge.ts')
    const api = serverApi(config)
    const report = api
      ? ((await api('POST', `/api/v1/admin/purge${opts.dryRun ? '?dryRun=true' : ''}`)) as unknown as import('../retention/purge.ts').PurgeReport)
      : await (async () => {
          const { loadPolicy } = await import('../policy/policy.ts')
          const { Sites } = await import('../accounts/sites.ts')
          const policy = loadPolicy(config.policyFile)
          return withStore(config, async (client) => {
            const sites = new Sites(client)
            await sites.refresh()
            return purge(client, policy, sites.list().map((s) => s.domain), new Date(), { dryRun: Boolean(opts.dryRun) })
          })
        })()
    console.log(formatPurgeReport(report))
  })

program
  .command('audit')
  .description('look for personal data and policy breaches in the store, the spool and a log; exit status 0 clean, 1 findings, 2 audit failed')
  .option('--log <file>', 'also scan this log file')
  .action(async (opts: { log?: string }) => {
    const config = loadConfig()
    const { auditStore, combineReports, formatAuditReport } = await import('../audit/audit.ts')
    const { auditFiles, spoolFiles } = await import('../audit/files.ts')
    const progress: { bar?: SingleBar } = {}
    const progressBar = await progressBars()
    try {
      const fs = await import('node:fs')
      if (opts.log && !fs.statSync(opts.log, { throwIfNoEntry: false })?.isFile()) throw new Error(`--log ${opts.log}: not a file`)
      const api = serverApi(config)
      const store = api
        ? ((await api('GET', '/api/v1/admin/audit')) as unknown as import('../audit/audit.ts').AuditReport)
        : await (async () => {
            const { loadPolicy } = await import('../policy/policy.ts')
            const policy = loadPolicy(config.policyFile)
            return withStore(config, (client) =>
              auditStore(client, policy, {
                onPlan: ({ steps, rows }) => {
                  if (rows < 100_000) return
                  progress.bar = progressBar('auditing {bar} {value}/{total} steps | {label}')
                  progress.bar.start(steps, 0, { label: '' })
                },
                onProgress: ({ done, label }) => progress.bar?.update(done, { label }),
              }),
            )
          })()
      progress.bar?.stop()
      const logs = opts.log ? [{ file: opts.log, label: opts.log, kind: 'log' as const }] : []
      const { loadPolicy } = await import('../policy/policy.ts')
      const { policyPatterns } = await import('../audit/patterns.ts')
      const files = await auditFiles([...spoolFiles(config.dataDir), ...logs], undefined, policyPatterns(loadPolicy(config.policyFile)))
      const report = combineReports(store, files)
      console.log(formatAuditReport(report))
      process.exitCode = report.clean ? 0 : 1
    } catch (err) {
      progress.bar?.stop()
      console.error(`analytics audit: ${(err as Error).message}`)
      process.exitCode = 2
    }
  })

addTokenCommands(program, { serverApi, withStore })
addUserCommands(program, { serverApi, withStore })
addReportCommands(program, { serverApi, withStore })
addImportCommands(program, { serverApi, withStore })
addExportCommand(program, { withStore })

program
  .command('bench')
  .description('what `npm run bench` runs: the collector under load against a bare route, then the dashboard queries')
  .allowUnknownOption()
  .argument('[options...]', 'passed on, e.g. --no-queries, --no-nofsync, --profile')
  .action(async (options: string[]) => {
    const { spawnSync } = await import('node:child_process')
    const bench = new URL('../bench/index.ts', import.meta.url).pathname
    const r = spawnSync(process.execPath, ['--import', 'tsx', bench, ...options], { stdio: 'inherit' })
    process.exitCode = r.status ?? 1
  })

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`analytics: ${printable(err.message)}`)
  process.exit(1)
})
