import type { ClickHouseClient } from '@clickhouse/client'
import { listMigrations } from '../../store/migrate.ts'
import { utcDay } from '../../store/time.ts'

/**
 * Events stored before visits were cut at ingest (migration 015) have a visitor hash but no
 * visit (`visit_id` 0): they would count in pageviews and events only. This cuts them into visits
 * the way the collector does (a new visit after more than the timeout without an event, never
 * across a UTC day), stamps them with a visit id and flags, and writes them again, so the
 * `visits` view derives their visits at insert like any other; the unstamped copies are then
 * deleted. One UTC day at a time; a day's stamped copies and the deletion of the old ones are
 * one lightweight delete apart, so a reader may count that day's old events twice for that
 * moment (it runs once, at the first rollup run after an upgrade).
 */
export async function backfillVisits(client: ClickHouseClient, timeoutMinutes: number): Promise<string[]> {
  const rs = await client.query({
    query: 'SELECT DISTINCT toString(toDate(ts)) AS day FROM events WHERE visit_id = 0 AND visitor_id != 0 ORDER BY day',
    format: 'JSONEachRow',
  })
  const days = (await rs.json<{ day: string }>()).map((r) => r.day)
  for (const day of days) {
    await client.command({
      query: `INSERT INTO events
        SELECT * EXCEPT (gap, visit_no, nth, nth_pageview) REPLACE (
            cityHash64(site, visitor_id, toDate(ts), visit_no, 'backfilled visit') AS visit_id,
            toUInt8(bitOr(if(nth = 1, 1, 0), if(name = 'pageview' AND nth_pageview = 1, 2, 0))) AS visit_flags)
        FROM
        (
          SELECT *,
            row_number() OVER (PARTITION BY site, visitor_id, visit_no ORDER BY ts) AS nth,
            row_number() OVER (PARTITION BY site, visitor_id, visit_no, name = 'pageview' ORDER BY ts) AS nth_pageview
          FROM
          (
            SELECT *, sum(gap) OVER (PARTITION BY site, visitor_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS visit_no
            FROM
            (
              SELECT *,
                toUInt64(toUnixTimestamp64Milli(ts) - lagInFrame(toUnixTimestamp64Milli(ts), 1, toInt64(0)) OVER (PARTITION BY site, visitor_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) > {timeout:Int64}) AS gap
              FROM events
              WHERE toDate(ts) = {day:Date} AND visit_id = 0 AND visitor_id != 0
            )
          )
        )`,
      query_params: { day, timeout: timeoutMinutes * 60_000 },
    })
    await client.command({
      query: 'DELETE FROM events WHERE toDate(ts) = {day:Date} AND visit_id = 0 AND visitor_id != 0',
      query_params: { day },
      clickhouse_settings: { mutations_sync: '2' },
    })
  }
  await refillPageDays(client, days)
  return days
}

/**
 * Today's and yesterday's page rows kept at insert (`page_days`, migration 033) counted the
 * unstamped events and then their stamped copies: when a backfilled day is one of those two, both
 * are made again from the events by the statement that fills them in the latest migration that
 * makes the table (037, which keeps their networks up to 100; earlier days
 * are not read there and the purge drops them). As for the events above, a reader may find the
 * days' rows missing, or an event inserted in that moment counted twice, for the moment between
 * the drop and the insert (once, after an upgrade).
 */
async function refillPageDays(client: ClickHouseClient, days: string[]): Promise<void> {
  const kept = [utcDay(Date.now() - 86_400_000), utcDay(Date.now())]
  if (!days.some((d) => kept.includes(d))) return
  const fills = listMigrations().flatMap((m) => m.statements.filter((st) => /^INSERT INTO page_days\b/.test(st)))
  const fill = fills[fills.length - 1]
  for (const day of kept) await client.command({ query: 'ALTER TABLE page_days DROP PARTITION ID {id:String}', query_params: { id: day.replace(/-/g, '') } })
  await client.command({ query: fill })
}
