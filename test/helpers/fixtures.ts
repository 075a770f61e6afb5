import type { ClickHouseClient } from '@clickhouse/client'
import { VisitTracker } from '../../collector/visits.ts'
import { utcDay } from '../../store/time.ts'

/**
 * Synthetic stores whose statistics are computed by hand in the tests. Rows go straight into
 * `events`, as the pipeline writes them; timestamps fall on one UTC day, two days ago.
 */
const DAY = 86_400_000

export const dayStart = Math.floor(Date.now() / DAY) * DAY - 2 * DAY
/** A time of that day. */
export const at = (h: number, m = 0, s = 0) => dayStart + ((h * 60 + m) * 60 + s) * 1000
/** The UTC day of an instant (now by default), as an ISO date. */
export { utcDay }
/** That day, and the one before it, as ISO dates. */
export const day = utcDay(dayStart)
export const dayBefore = utcDay(dayStart - DAY)

/** One `events` row: a pageview by default. */
export function eventRow(site: string, visitor: number, ts: number, pathname: string, extra: Record<string, unknown> = {}) {
  return { site, ts, name: 'pageview', visitor_id: String(visitor), hostname: site, pathname, browser: 'Firefox', os: 'Linux', device: 'Desktop', props: {}, ...extra }
}

/**
 * 19 visitors in 25 visits: 10 from Germany via Google (two pages a minute apart, Firefox 132),
 * 3 from France (one page each: bounces), 6 from the US via a newsletter (three pages over two
 * minutes, then a second visit 40 minutes later), plus a Signup and an engagement ping.
 */
export function handCountedVisits(site: string) {
  const event = (visitor: number, ts: number, pathname: string, extra: Record<string, unknown> = {}) => eventRow(site, visitor, ts, pathname, extra)
  return [
    ...Array.from({ length: 10 }, (_, i) => [
      event(1000 + i, at(9, i), '/', { country: 'DE', source: 'Google', channel: 'search', referrer_host: 'google.com', browser_version: '132' }),
      event(1000 + i, at(9, i, 60), '/pricing', { country: 'DE', browser_version: '132' }),
    ]).flat(),
    ...Array.from({ length: 3 }, (_, i) => [event(2000 + i, at(10, i), '/blog', { country: 'FR', region: 'Bretagne', city: 'Rennes' })]).flat(),
    ...Array.from({ length: 6 }, (_, i) => [
      event(3000 + i, at(11, i), '/', { country: 'US', utm_source: 'newsletter', source: 'newsletter' }),
      event(3000 + i, at(11, i, 60), '/pricing', { country: 'US' }),
      event(3000 + i, at(11, i, 120), '/signup', { country: 'US' }),
      event(3000 + i, at(11, 42 + i), '/blog', { country: 'US' }),
    ]).flat(),
    event(3000, at(11, 0, 130), '/signup', { name: 'Signup', props: { plan: 'pro' } }),
    event(3000, at(11, 0, 140), '/signup', { name: 'engagement', engagement_ms: 9000 }),
  ]
}

/** The collector's own visit cutting, shared by every insert of a test file: a later insert continues a visit. */
const visits = new VisitTracker()

/**
 * Rows as the collector writes them: each stamped, in time order, with its visit (`visit_id`,
 * `visit_flags`) by the collector's VisitTracker (the strict policy's 30-minute timeout unless
 * told), then inserted into `events`.
 */
export function withVisits(rows: Record<string, unknown>[], timeoutMs = 30 * 60_000) {
  const out: Record<string, unknown>[] = rows.map((r) => ({ ...r, visit_id: '0', visit_flags: 0 }))
  const ts = (r: Record<string, unknown>) => Number(r.ts)
  for (const r of [...out].sort((a, b) => ts(a) - ts(b))) {
    const visitor = String(r.visitor_id ?? '0')
    if (visitor === '0') continue
    const a = visits.assign(String(r.site), visitor, ts(r), timeoutMs, (r.name ?? 'pageview') === 'pageview')
    r.visit_id = a.visitId
    r.visit_flags = a.flags
  }
  return out
}

export async function insertEvents(client: ClickHouseClient, rows: Record<string, unknown>[], timeoutMs?: number): Promise<void> {
  await client.insert({ table: 'events', values: withVisits(rows, timeoutMs), format: 'JSONEachRow' })
}
