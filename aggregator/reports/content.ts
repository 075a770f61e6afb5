import type { ClickHouseClient } from '@clickhouse/client'
import type { Site } from '../../accounts/sites.ts'
import type { Policy } from '../../policy/policy.ts'
import { GoalStore } from '../goal-store.ts'
import { disclosureOf } from '../routes/stats.ts'
import { withheldReason } from '../stats/disclosure.ts'
import { goalConversions } from '../stats/goal-conversions.ts'
import { calendarDate, midnight, resolvePeriod, type Range } from '../stats/period.ts'
import { PROPERTIES } from '../stats/properties.ts'
import { aggregate, breakdown, type MetricValue, type Scope } from '../stats/service.ts'
import type { ReportKind } from './store.ts'

/**
 * What a report or an alert says, counted like a shared link's numbers: the policy's `shared`
 * k, networks and noise (a report leaves the server for inboxes, as a shared link does), by
 * the same statistics service, so every k rule holds. A withheld number is null.
 */
export interface ReportContent {
  site: string
  kind: ReportKind
  /** The period: the days it covers (`2026-11-23..2026-11-29`), or the last hour. */
  label: string
  /** The period's key in the send ledger: a week's Monday, a month, an alert's hour. */
  period: string
  totals: Record<'visitors' | 'pageviews' | 'bounce_rate', MetricValue>
  pages: Ranked[]
  sources: Ranked[]
  goals: { goal: string; visitors: number | null; conversion_rate: number | null }[]
  /** The reason, when some number of the report is withheld. */
  withheld?: string
  /** Whether its counts carry the shared audience's noise (the policy's `noise.shared_epsilon`). */
  noisy: boolean
}

export interface Ranked {
  name: string
  visitors: number | null
}

const DAY = 86_400_000
const HOUR = 3_600_000
const TOP = 10
const pad = (n: number) => String(n).padStart(2, '0')
const ymd = ([y, m, d]: [number, number, number]) => `${y}-${pad(m)}-${pad(d)}`

/** The last whole week (Monday to Sunday) in the site's time zone before `now`. */
export function lastWeek(tz: string, now = Date.now()): { range: Range; period: string } {
  const today = calendarDate(now, tz)
  const [y, m, d] = today
  // days since this week's Monday
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7
  const monday = calendarDate(midnight(...today, tz) - (weekday + 7) * DAY + DAY / 2, tz)
  const sunday = calendarDate(midnight(...monday, tz) + 6 * DAY + DAY / 2, tz)
  return { range: resolvePeriod({ period: 'custom', from: ymd(monday), to: ymd(sunday) }, tz, now), period: ymd(monday) }
}

/** The last whole calendar month in the site's time zone before `now`, compared with the month before it. */
export function lastMonth(tz: string, now = Date.now()): { range: Range; period: string } {
  const [y, m] = calendarDate(now, tz)
  const [py, pm] = m === 1 ? [y - 1, 12] : [y, m - 1]
  return { range: resolvePeriod({ period: 'month', date: ymd([py, pm, 1]) }, tz, now), period: `${py}-${pad(pm)}` }
}

/** The hour before `now` (to the minute, so that one minute's questions are one cell), compared with the hour before it. */
export function lastHour(now = Date.now()): { range: Range; period: string } {
  const to = Math.floor(now / 60_000) * 60_000
  const from = to - HOUR
  return { range: { from, to, previous: { from: from - HOUR, to: from }, label: 'the last hour' }, period: new Date(to).toISOString().slice(0, 13) }
}

/** A report's range and ledger key by its kind. */
export function reportPeriod(kind: ReportKind, tz: string, now = Date.now()): { range: Range; period: string } {
  return kind === 'weekly' ? lastWeek(tz, now) : kind === 'monthly' ? lastMonth(tz, now) : lastHour(now)
}

/** The scope of a report: the site with no filters, under the `shared` audience's limits and noise. */
export async function reportScope(client: ClickHouseClient, policy: Policy, site: Site): Promise<Scope> {
  const rules = policy.forSite(site.domain)
  return { site: site.domain, timezone: site.timezone, filters: [], ...(await disclosureOf(client, rules, 'shared', site.domain)) }
}

/** The largest values of a property, small ones folded into "(other)" as on every breakdown. */
async function top(client: ClickHouseClient, s: Scope, range: Range, name: 'page' | 'source'): Promise<{ rows: Ranked[]; withheld: boolean }> {
  const b = await breakdown(client, s, range, name, PROPERTIES[name], ['visitors'], TOP)
  return { rows: b.results.map((r) => ({ name: String(r[name]), visitors: r.visitors as number | null })), withheld: b.withheld !== undefined }
}

/** The numbers of one report of a site: totals with their change, top pages and sources, goals. */
export async function reportContent(client: ClickHouseClient, s: Scope, kind: ReportKind, when: { range: Range; period: string }): Promise<ReportContent> {
  const { range, period } = when
  const [totals, pages, sources, goals] = await Promise.all([
    aggregate(client, s, range, ['visitors', 'pageviews', 'bounce_rate']),
    top(client, s, range, 'page'),
    top(client, s, range, 'source'),
    new GoalStore(client).list(s.site).then((saved) => goalConversions(client, s, range, saved)),
  ])
  const withheld = Object.values(totals).some((v) => 'withheld' in v) || pages.withheld || sources.withheld || goals.results.some((g) => 'withheld' in g)
  return {
    site: s.site,
    kind,
    label: range.label,
    period,
    totals: totals as ReportContent['totals'],
    pages: pages.rows,
    sources: sources.rows,
    goals: goals.results.map((g) => ({ goal: g.goal, visitors: g.visitors, conversion_rate: g.conversion_rate })),
    ...(withheld ? { withheld: withheldReason(s.limits.k) } : {}),
    noisy: s.noise !== undefined,
  }
}
