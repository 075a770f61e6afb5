import type { ClickHouseClient } from '@clickhouse/client'

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
  return days
}
