import type { ClickHouseClient } from '@clickhouse/client'
import { InputError } from '../../http/errors.ts'

/** Weekly and monthly reports, and the traffic-spike alert. */
export const REPORT_KINDS = ['weekly', 'monthly', 'spike'] as const
export type ReportKind = (typeof REPORT_KINDS)[number]

/** Who gets a site's report of one kind; for an alert, the visitors in an hour above which it is sent. */
export interface ReportSetting {
  site: string
  kind: ReportKind
  recipients: string[]
  /** The spike alert's threshold: more visitors than this in the last hour; null for reports. */
  threshold: number | null
  updated_at: string
}

export const MAX_RECIPIENTS = 20
/** One address, as RFC 5321 bounds it; no display names, no lists. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/

export class ReportError extends InputError {}

/**
 * Checked recipients, lower-cased and without repeats. An error says which one is wrong by its
 * place in the list, never by quoting it (an error message repeats no input).
 */
export function checkRecipients(input: unknown): string[] {
  if (!Array.isArray(input) || input.length === 0) throw new ReportError('to: give at least one e-mail address')
  if (input.length > MAX_RECIPIENTS) throw new ReportError(`to: at most ${MAX_RECIPIENTS} addresses`)
  const bad = input.findIndex((a) => typeof a !== 'string' || a.length > 254 || !ADDRESS.test(a.trim()))
  if (bad >= 0) throw new ReportError(`to: address ${bad + 1} of the list is not an e-mail address such as team@example.com`)
  return [...new Set(input.map((a: string) => a.trim().toLowerCase()))]
}

/**
 * A setting as the API and the CLI take it: a known kind, checked recipients, and a threshold
 * for the spike alert only (a whole number of visitors from 1).
 */
export function checkSetting(input: { kind: unknown; to: unknown; threshold?: unknown }): { kind: ReportKind; recipients: string[]; threshold: number | null } {
  const kind = input.kind as ReportKind
  if (!REPORT_KINDS.includes(kind)) throw new ReportError(`kind must be one of ${REPORT_KINDS.join(', ')}`)
  const { threshold } = input
  if (kind === 'spike' && threshold === undefined) throw new ReportError('a spike alert needs its threshold: the visitors in an hour above which it is sent')
  if (kind !== 'spike' && threshold !== undefined) throw new ReportError('threshold belongs to the spike alert only')
  if (threshold !== undefined && !(Number.isInteger(threshold) && (threshold as number) >= 1)) throw new ReportError('threshold is a whole number of visitors from 1')
  return { kind, recipients: checkRecipients(input.to), threshold: (threshold as number | undefined) ?? null }
}

interface SettingRow {
  site: string
  kind: ReportKind
  recipients: string[]
  threshold: number
  updated_ms: number
}

const toSetting = (r: SettingRow): ReportSetting => ({
  site: r.site,
  kind: r.kind,
  recipients: r.recipients,
  threshold: r.kind === 'spike' ? Number(r.threshold) : null,
  updated_at: new Date(Number(r.updated_ms)).toISOString(),
})

/**
 * Report settings in `report_settings` and what was sent in `report_sends` (migration 023); read
 * on every use, never cached, so processes sharing a store agree.
 */
export class ReportStore {
  constructor(private client: ClickHouseClient) {}

  /** Every site's settings, or one site's. */
  async list(site?: string): Promise<ReportSetting[]> {
    const rs = await this.client.query({
      query: `SELECT site, kind, recipients, threshold, toUnixTimestamp64Milli(updated_at) AS updated_ms
              FROM report_settings FINAL WHERE deleted = 0 ${site === undefined ? '' : 'AND site = {site:String}'} ORDER BY site, kind`,
      query_params: { site },
      format: 'JSONEachRow',
    })
    return (await rs.json<SettingRow>()).map(toSetting)
  }

  async set(site: string, kind: ReportKind, recipients: string[], threshold: number | null): Promise<ReportSetting> {
    const updated = Date.now()
    await this.client.insert({
      table: 'report_settings',
      values: [{ site, kind, recipients, threshold: threshold ?? 0, updated_at: updated, deleted: 0 }],
      format: 'JSONEachRow',
    })
    return toSetting({ site, kind, recipients, threshold: threshold ?? 0, updated_ms: updated })
  }

  /** Stops a report; false when there was none. */
  async remove(site: string, kind: ReportKind): Promise<boolean> {
    const [current] = (await this.list(site)).filter((s) => s.kind === kind)
    if (!current) return false
    await this.client.insert({
      table: 'report_settings',
      values: [{ site, kind, recipients: [], threshold: 0, updated_at: Date.now(), deleted: 1 }],
      format: 'JSONEachRow',
    })
    return true
  }

  /** When the schedule last sent this kind for the site (ms), and whether it sent it for `period`. */
  async lastSent(site: string, kind: ReportKind, period: string): Promise<{ at: number | null; period: boolean }> {
    const rs = await this.client.query({
      query: `SELECT toUnixTimestamp64Milli(max(sent_at)) AS at, countIf(period = {period:String}) AS n, count() AS sends
              FROM report_sends WHERE site = {site:String} AND kind = {kind:String}`,
      query_params: { site, kind, period },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<{ at: number; n: number; sends: number }>()
    return { at: Number(row.sends) > 0 ? Number(row.at) : null, period: Number(row.n) > 0 }
  }

  async recordSent(site: string, kind: ReportKind, period: string, at = Date.now()): Promise<void> {
    await this.client.insert({ table: 'report_sends', values: [{ site, kind, period, sent_at: at }], format: 'JSONEachRow' })
  }
}
