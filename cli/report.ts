import { InvalidArgumentError, type Command } from 'commander'
import { loadConfig, type Config } from '../server/config.ts'
import type { ReportSetting } from '../aggregator/reports/store.ts'
import type { Sent } from '../aggregator/reports/send.ts'
import { printable } from './terminal.ts'
import type { StoreAccess } from './tokens.ts'

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean)

function threshold(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of visitors from 1')
  return n
}

/** Sends a report now with the store opened here (no server running): the SMTP settings of this environment. */
async function sendHere(config: Config, io: StoreAccess, site: string, kind: 'weekly' | 'monthly', to: string[]): Promise<Sent> {
  const { Sites } = await import('../accounts/sites.ts')
  const { loadPolicy } = await import('../policy/policy.ts')
  const { checkRecipients } = await import('../aggregator/reports/store.ts')
  const { Mailer } = await import('../aggregator/reports/mailer.ts')
  const { sendReport } = await import('../aggregator/reports/send.ts')
  const recipients = checkRecipients(to)
  const policy = loadPolicy(config.policyFile)
  const mailer = config.smtp ? new Mailer(config.smtp) : null
  try {
    return await io.withStore(config, async (client) => {
      const sites = new Sites(client)
      await sites.refresh()
      return sendReport({ client, sites, policy: () => policy, mailer }, site, kind, recipients)
    })
  } finally {
    mailer?.close()
  }
}

/** `analytics report send|set|list|remove`: e-mail reports and spike alerts (see README, Reports and alerts). */
export function addReportCommands(program: Command, io: StoreAccess): void {
  const report = program.command('report').description('weekly and monthly e-mail reports and traffic-spike alerts')
  report
    .command('send')
    .description("send a site's report of the last whole week (or month) now")
    .requiredOption('--site <domain>', 'the site')
    .requiredOption('--to <addresses>', 'comma-separated e-mail addresses')
    .option('--kind <kind>', 'weekly or monthly', 'weekly')
    .action(async (opts: { site: string; to: string; kind: string }) => {
      if (opts.kind !== 'weekly' && opts.kind !== 'monthly') throw new InvalidArgumentError('--kind must be weekly or monthly')
      const config = loadConfig()
      const site = opts.site.toLowerCase()
      const api = io.serverApi(config)
      const sent = api
        ? ((await api('POST', '/api/v1/reports/send', { site, kind: opts.kind, to: list(opts.to) })) as unknown as Sent)
        : await sendHere(config, io, site, opts.kind, list(opts.to))
      console.log(`sent "${printable(sent.subject)}" to ${sent.recipients} address${sent.recipients === 1 ? '' : 'es'}`)
    })
  report
    .command('set')
    .description('who gets a report (weekly, monthly) or the spike alert (with --threshold), sent by the server')
    .requiredOption('--site <domain>', 'the site')
    .requiredOption('--kind <kind>', 'weekly, monthly or spike')
    .requiredOption('--to <addresses>', 'comma-separated e-mail addresses')
    .option('--threshold <visitors>', 'spike: more visitors than this in an hour sends the alert', threshold)
    .action(async (opts: { site: string; kind: string; to: string; threshold?: number }) => {
      const body = { site: opts.site.toLowerCase(), kind: opts.kind, to: list(opts.to), ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }) }
      const s = (await settings(io, 'PUT', body)) as unknown as ReportSetting
      console.log(`${s.kind} for ${printable(s.site)}: ${s.recipients.length} address${s.recipients.length === 1 ? '' : 'es'}${s.threshold === null ? '' : `, above ${s.threshold} visitors an hour`}`)
    })
  report
    .command('list')
    .description('the reports and alerts set')
    .option('--site <domain>', 'only this site')
    .action(async (opts: { site?: string }) => {
      const { reports } = (await settings(io, 'GET', opts.site ? { site: opts.site.toLowerCase() } : {})) as { reports: ReportSetting[] }
      for (const s of reports) console.log([s.site, s.kind, s.recipients.join(','), s.threshold ?? '-'].map((v) => printable(String(v))).join('\t'))
    })
  report
    .command('remove')
    .description('stop a report or alert')
    .requiredOption('--site <domain>', 'the site')
    .requiredOption('--kind <kind>', 'weekly, monthly or spike')
    .action(async (opts: { site: string; kind: string }) => {
      await settings(io, 'DELETE', { site: opts.site.toLowerCase(), kind: opts.kind })
      console.log(`stopped the ${printable(opts.kind)} report of ${printable(opts.site)}`)
    })
}

/** The settings routes: through the running server, or the admin app built here on the data directory. */
async function settings(io: StoreAccess, method: 'GET' | 'PUT' | 'DELETE', params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const config = loadConfig()
  const api = io.serverApi(config)
  const query = method === 'PUT' ? '' : `?${new URLSearchParams(params as Record<string, string>)}`
  if (api) return api(method, `/api/v1/reports${query}`, method === 'PUT' ? params : undefined)
  const { ReportStore, checkSetting, REPORT_KINDS } = await import('../aggregator/reports/store.ts')
  const { Sites } = await import('../accounts/sites.ts')
  return io.withStore(config, async (client) => {
    const store = new ReportStore(client)
    const sites = new Sites(client)
    await sites.refresh()
    const site = params.site as string | undefined
    if (site !== undefined && !sites.has(site)) throw new Error('there is no such site')
    if (method === 'GET') return { reports: await store.list(site) }
    if (method === 'DELETE') {
      const kind = params.kind as (typeof REPORT_KINDS)[number]
      if (!REPORT_KINDS.includes(kind)) throw new Error(`--kind must be one of ${REPORT_KINDS.join(', ')}`)
      if (!(await store.remove(site!, kind))) throw new Error('this site has no such report')
      return { removed: true }
    }
    const { kind, recipients, threshold } = checkSetting({ kind: params.kind, to: params.to, threshold: params.threshold })
    return (await store.set(site!, kind, recipients, threshold)) as unknown as Record<string, unknown>
  })
}
