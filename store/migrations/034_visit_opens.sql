-- A visit's row holding its first event is marked (`opens`, 1 there and 0 on its other rows as
-- inserted; 1 once merged): a visit's properties (source, country, browser…), its visitor,
-- network and start are that row's, so a question asking only visitors and networks by or under
-- such properties reads those rows alone, without the merge FINAL makes of every row of today's
-- visits (query.ts `firstEventOnly`). At ten million events, live, the country panel took 45-50 ms
-- through FINAL and 27 ms so; the source panel under `page==/pricing`, which read today's visits
-- through FINAL twice (the question and its unfiltered neighbour, R3), 72-78 against 53-62.
--
-- Rows stored before have no mark: read as 1 (the column's default), which is right for a merged
-- row, the whole visit. So every day whose visits are in several parts is merged first
-- (OPTIMIZE … FINAL, a day in one part is left as it is); the view that keeps visits at insert is
-- dropped before and made again after, with the mark. Run again after a crash at any point, the
-- statements give the same table. On a cluster, stop the collectors while this runs (README,
-- "A ClickHouse cluster"): an event inserted while the view is dropped is missed.

DROP VIEW IF EXISTS visits_mv;

ALTER TABLE visits ADD COLUMN IF NOT EXISTS opens SimpleAggregateFunction(max, UInt8) DEFAULT 1;

OPTIMIZE TABLE visits FINAL SETTINGS optimize_skip_merged_partitions = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_mv TO visits AS
SELECT
    site,
    toDate(ts) AS day,
    visitor_id,
    visit_id,
    max(network_id) AS network_id,
    min(ts) AS start,
    max(ts) AS end,
    countIf(name = 'pageview') AS pageviews,
    countIf(name != 'engagement') AS events,
    countIf(name NOT IN ('pageview', 'engagement')) AS interactions,
    sumIf(engagement_ms, name = 'engagement') AS engagement_ms,
    max(if(bitAnd(visit_flags, 2) != 0, pathname, '')) AS entry_page,
    max(if(name = 'pageview', (ts, pathname), (toDateTime64(0, 3, 'UTC'), ''))) AS exit,
    groupUniqArrayIf(pathname, name = 'pageview') AS pages,
    groupUniqArrayIf(toString(name), name NOT IN ('pageview', 'engagement')) AS event_names,
    max(if(bitAnd(visit_flags, 1) != 0, hostname, '')) AS hostname,
    max(if(bitAnd(visit_flags, 1) != 0, referrer_host, '')) AS referrer_host,
    max(if(bitAnd(visit_flags, 1) != 0, referrer_path, '')) AS referrer_path,
    max(if(bitAnd(visit_flags, 1) != 0, source, '')) AS source,
    max(if(bitAnd(visit_flags, 1) != 0, channel, '')) AS channel,
    max(if(bitAnd(visit_flags, 1) != 0, utm_source, '')) AS utm_source,
    max(if(bitAnd(visit_flags, 1) != 0, utm_medium, '')) AS utm_medium,
    max(if(bitAnd(visit_flags, 1) != 0, utm_campaign, '')) AS utm_campaign,
    max(if(bitAnd(visit_flags, 1) != 0, utm_content, '')) AS utm_content,
    max(if(bitAnd(visit_flags, 1) != 0, utm_term, '')) AS utm_term,
    max(if(bitAnd(visit_flags, 1) != 0, browser, '')) AS browser,
    max(if(bitAnd(visit_flags, 1) != 0, browser_version, '')) AS browser_version,
    max(if(bitAnd(visit_flags, 1) != 0, os, '')) AS os,
    max(if(bitAnd(visit_flags, 1) != 0, os_version, '')) AS os_version,
    max(if(bitAnd(visit_flags, 1) != 0, device, '')) AS device,
    max(if(bitAnd(visit_flags, 1) != 0, screen, '')) AS screen,
    max(if(bitAnd(visit_flags, 1) != 0, country, '')) AS country,
    max(if(bitAnd(visit_flags, 1) != 0, region, '')) AS region,
    max(if(bitAnd(visit_flags, 1) != 0, city, '')) AS city,
    max(if(bitAnd(visit_flags, 1) != 0, network, '')) AS network,
    max(if(bitAnd(visit_flags, 1) != 0, returning, 0)) AS returning,
    maxMapIf([pathname], [scroll_depth], name = 'engagement' AND scroll_depth <= 100) AS scroll,
    groupArrayIf((ts, toString(pathname)), name = 'pageview') AS views,
    max(toUInt8(bitAnd(visit_flags, 1) != 0)) AS opens
FROM events
WHERE visit_id != 0
GROUP BY site, day, visitor_id, visit_id;
