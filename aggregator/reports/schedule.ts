import type { FastifyBaseLogger } from 'fastify'
import { aggregate } from '../stats/service.ts'
import { lastHour, reportPeriod, reportScope } from './content.ts'
import { sendReport, type ReportDeps } from './send.ts'
import { ReportStore, type ReportSetting } from './store.ts'

/** How often the schedule looks for reports due and for spikes. */
const EVERY_MS = 60_000
/** After a spike alert, the next one for the site waits this long: a surge is one message, not one an hour. */
export const SPIKE_QUIET_MS = 12 * 3_600_000

export interface ReportScheduleOptions {
  deps: ReportDeps
  /** Whether this process runs the scheduled jobs now (the `jobs` lease): one process sends, however many run. */
  active: () => boolean
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>
  now?: () => number
  everyMs?: number
}

/** A failure as it may be logged: its kind and the SMTP server's code, never a message that could quote an address. */
const failure = (err: unknown) => {
  const e = err as { code?: string; responseCode?: number; name?: string }
  return { code: e.code ?? e.name, responseCode: e.responseCode }
}

/**
 * The server's reports: every minute, each site's weekly report once its week (Monday to
 * Sunday, in the site's time zone) has ended, its monthly report once its month has, and a
 * traffic-spike alert when the last hour's visitors, as a shared link would show them, are more
 * than the threshold set (at most one alert per site every 12 hours). Each period's report is
 * sent once: the ledger (`report_sends`) remembers it across restarts. Sent as soon as the period
 * ends, so the day after it (which the add-day rule looks at) has barely begun.
 */
export class ReportSchedule {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> = Promise.resolve()
  private stopped = false
  private warnedNoSmtp = false
  private readonly store: ReportStore

  constructor(private opts: ReportScheduleOptions) {
    this.store = new ReportStore(opts.deps.client)
  }

  start(): void {
    if (this.timer || this.stopped) return
    this.timer = setInterval(() => {
      if (!this.opts.active()) return
      this.running = this.running.then(() => this.runOnce()).catch((err) => this.opts.log.warn({ err: failure(err) }, 'reports: the schedule failed; retried in a minute'))
    }, this.opts.everyMs ?? EVERY_MS)
    this.timer.unref()
  }

  /** One look at every report setting: sends what is due. */
  async runOnce(now = this.opts.now?.() ?? Date.now()): Promise<void> {
    const settings = await this.store.list()
    if (settings.length === 0) return
    if (!this.opts.deps.mailer) {
      if (!this.warnedNoSmtp) this.opts.log.warn('reports: reports are set but no SMTP server is configured (SMTP_URL or SMTP_HOST, and SMTP_FROM): none is sent')
      this.warnedNoSmtp = true
      return
    }
    for (const setting of settings) {
      if (this.stopped) return
      await this.due(setting, now).catch((err) => this.opts.log.warn({ site: setting.site, kind: setting.kind, err: failure(err) }, 'reports: sending failed; retried in a minute'))
    }
  }

  private async due(setting: ReportSetting, now: number): Promise<void> {
    const { site: domain, kind } = setting
    const site = this.opts.deps.sites.get(domain)
    if (!site) return
    if (kind === 'spike') {
      const last = await this.store.lastSent(domain, kind, '')
      if (last.at !== null && now - last.at < SPIKE_QUIET_MS) return
      const scope = await reportScope(this.opts.deps.client, this.opts.deps.policy(), site)
      const { visitors } = await aggregate(this.opts.deps.client, scope, lastHour(now).range, ['visitors'])
      // a withheld number (fewer than k) is never above a threshold: the alert tells nothing about small groups
      if (visitors.value === null || visitors.value <= (setting.threshold ?? 0)) return
    } else if ((await this.store.lastSent(domain, kind, reportPeriod(kind, site.timezone, now).period)).period) return
    const sent = await sendReport(this.opts.deps, domain, kind, setting.recipients, { threshold: setting.threshold, now })
    await this.store.recordSent(domain, kind, sent.period, now)
    this.opts.log.info({ site: domain, kind, period: sent.period, recipients: sent.recipients }, 'reports: sent')
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.running
  }
}
