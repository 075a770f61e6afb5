import type { ClickHouseClient } from '@clickhouse/client'
import { resolvePeriod } from './period.ts'
import { property } from './properties.ts'
import { aggregate, breakdown, timeseries, type Scope } from './service.ts'

/** A site no one can register (`.invalid` is reserved): it has no events, so its questions read next to nothing. */
const NO_SITE = 'warm-up.invalid'

/**
 * Asks each kind of statistics question once, of a site with no data, when a server starts: a
 * function's first run compiles it (V8 compiles lazily), and the first questions after a start
 * then held the event loop, where beacons are answered, for about twice as long. The stats
 * routes' first five questions (a three-year series by month, week and day, a page breakdown,
 * the cards) took 46 ms of the main thread on a fresh server and 24 ms after this (ad hoc,
 * `performance.eventLoopUtilization`). What fails here (say, the store still starting) is left to the
 * real questions: the errors are returned, not thrown.
 */
export async function warmUp(client: ClickHouseClient, now = Date.now()): Promise<Error[]> {
  const scope: Scope = { site: NO_SITE, timezone: 'UTC', filters: [], limits: { k: 5, kn: 5 }, now }
  const years = resolvePeriod({ period: 'custom', from: new Date(now - 3 * 365 * 86_400_000).toISOString().slice(0, 10), to: new Date(now).toISOString().slice(0, 10) }, 'UTC', now)
  const year = resolvePeriod({ period: '12mo' }, 'UTC', now)
  const failed: Error[] = []
  for (const ask of [
    () => timeseries(client, scope, years, ['visitors', 'pageviews'], 'month'),
    () => timeseries(client, scope, years, ['visitors'], 'week'),
    () => timeseries(client, scope, years, ['visitors'], 'day'),
    () => breakdown(client, scope, years, 'page', property('page')!, ['visitors', 'pageviews', 'bounce_rate'], 10),
    () => breakdown(client, scope, years, 'source', property('source')!, ['visitors'], 10),
    () => aggregate(client, scope, year, ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration']),
  ]) {
    await ask().then(
      () => undefined,
      (err: unknown) => failed.push(err as Error),
    )
  }
  return failed
}
