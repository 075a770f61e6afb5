import type { ClickHouseClient } from '@clickhouse/client'
import { SiteError, type Sites } from '../../accounts/sites.ts'
import type { Policy } from '../../policy/policy.ts'
import { reportContent, reportPeriod, reportScope } from './content.ts'
import { NoSmtp, type Mailer } from './mailer.ts'
import { renderReport } from './render.ts'
import type { ReportKind } from './store.ts'

/** What sending a report needs: the store, the registered sites, the policy in force, and SMTP (null when not configured). */
export interface ReportDeps {
  client: ClickHouseClient
  sites: Sites
  policy: () => Policy
  mailer: Mailer | null
}

export interface Sent {
  site: string
  kind: ReportKind
  /** The days the report covers. */
  label: string
  /** The period's key: a week's Monday, a month, an alert's hour. */
  period: string
  subject: string
  recipients: number
}

/**
 * Builds a site's report of the last whole week or month (or an alert about the last hour) and
 * mails it to `to`. An unknown site is a SiteError (404); no SMTP server configured, NoSmtp (400).
 */
export async function sendReport(deps: ReportDeps, domain: string, kind: ReportKind, to: string[], opts: { threshold?: number | null; now?: number } = {}): Promise<Sent> {
  const site = deps.sites.get(domain)
  if (!site) throw SiteError.unknown()
  if (!deps.mailer) throw new NoSmtp()
  const scope = await reportScope(deps.client, deps.policy(), site)
  const content = await reportContent(deps.client, scope, kind, reportPeriod(kind, site.timezone, opts.now))
  const message = renderReport(content, opts.threshold ?? null)
  await deps.mailer.send(to, message)
  return { site: site.domain, kind, label: content.label, period: content.period, subject: message.subject, recipients: to.length }
}
