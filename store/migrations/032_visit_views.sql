-- Each visit keeps its pageviews, (time, path) in the order they came (`views`), kept at insert as
-- its other columns are: page flow reads the pages viewed just before and after a page from the
-- visits holding it (`has(pages, …)`) instead of from today's events. At ten million events, the
-- flow of one page over today took 80-88 ms from events (two reads of today's pageviews and a
-- window over each visit's) and 40 ms from visits; at a hundred million, 670-920 ms against 203.
--
-- As in 031, the rows are copied into a new table, which then takes the place of `visits`
-- (EXCHANGE TABLES, atomic), and the view that keeps visits at insert is made again over it. The
-- copy is made a day at a time (a statement with `{day:Date}` runs once for each day `visits`
-- holds: store/migrate.ts), each visit's pageviews read from that day's events; a visit whose
-- events retention already deleted keeps an empty list. The copy of a day is inserted in the
-- table's order, so that its parts hold ranges of visits that do not overlap: FINAL then merges
-- nothing (today's flow at a hundred million events read 290 ms through FINAL with two copied
-- parts overlapping, 44 ms without FINAL). Run again after a crash at any point, the statements
-- give the same table: the copy is made afresh from whichever table is `visits` then.

DROP VIEW IF EXISTS visits_mv;

DROP TABLE IF EXISTS visits_with_views;

CREATE TABLE IF NOT EXISTS visits_with_views
(
    site            LowCardinality(String),
    day             Date,
    visitor_id      UInt64,
    visit_id        UInt64,
    network_id      SimpleAggregateFunction(max, UInt64),
    start           SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    end             SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    pageviews       SimpleAggregateFunction(sum, UInt64),
    events          SimpleAggregateFunction(sum, UInt64),
    interactions    SimpleAggregateFunction(sum, UInt64),
    engagement_ms   SimpleAggregateFunction(sum, UInt64),
    entry_page      SimpleAggregateFunction(max, String),
    exit            SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String)),
    pages           SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    event_names     SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    hostname        SimpleAggregateFunction(max, LowCardinality(String)),
    referrer_host   SimpleAggregateFunction(max, LowCardinality(String)),
    referrer_path   SimpleAggregateFunction(max, String),
    source          SimpleAggregateFunction(max, LowCardinality(String)),
    channel         SimpleAggregateFunction(max, LowCardinality(String)),
    utm_source      SimpleAggregateFunction(max, LowCardinality(String)),
    utm_medium      SimpleAggregateFunction(max, LowCardinality(String)),
    utm_campaign    SimpleAggregateFunction(max, LowCardinality(String)),
    utm_content     SimpleAggregateFunction(max, LowCardinality(String)),
    utm_term        SimpleAggregateFunction(max, LowCardinality(String)),
    browser         SimpleAggregateFunction(max, LowCardinality(String)),
    browser_version SimpleAggregateFunction(max, LowCardinality(String)),
    os              SimpleAggregateFunction(max, LowCardinality(String)),
    os_version      SimpleAggregateFunction(max, LowCardinality(String)),
    device          SimpleAggregateFunction(max, LowCardinality(String)),
    screen          SimpleAggregateFunction(max, LowCardinality(String)),
    country         SimpleAggregateFunction(max, LowCardinality(String)),
    region          SimpleAggregateFunction(max, LowCardinality(String)),
    city            SimpleAggregateFunction(max, LowCardinality(String)),
    network         SimpleAggregateFunction(max, LowCardinality(String)),
    returning       SimpleAggregateFunction(max, UInt8),
    scroll          SimpleAggregateFunction(maxMap, Tuple(Array(String), Array(UInt8))),
    views           SimpleAggregateFunction(groupArrayArray, Array(Tuple(DateTime64(3, 'UTC'), String)))
)
ENGINE = AggregatingMergeTree
PARTITION BY day
ORDER BY (site, day, visit_id, visitor_id);

INSERT INTO visits_with_views
SELECT v.site, v.day, v.visitor_id, v.visit_id, v.network_id, v.start, v.end, v.pageviews, v.events, v.interactions, v.engagement_ms, v.entry_page, v.exit, v.pages, v.event_names, v.hostname, v.referrer_host, v.referrer_path, v.source, v.channel, v.utm_source, v.utm_medium, v.utm_campaign, v.utm_content, v.utm_term, v.browser, v.browser_version, v.os, v.os_version, v.device, v.screen, v.country, v.region, v.city, v.network, v.returning, v.scroll, e.views
FROM (SELECT * FROM visits FINAL WHERE day = {day:Date}) AS v
LEFT JOIN
(
    SELECT visit_id, groupArray((ts, toString(pathname))) AS views
    FROM events
    WHERE toDate(ts) = {day:Date} AND visit_id != 0 AND name = 'pageview'
    GROUP BY visit_id
) AS e ON v.visit_id = e.visit_id
ORDER BY v.site, v.day, v.visit_id, v.visitor_id;

EXCHANGE TABLES visits AND visits_with_views;

DROP TABLE IF EXISTS visits_with_views;

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
    groupArrayIf((ts, toString(pathname)), name = 'pageview') AS views
FROM events
WHERE visit_id != 0
GROUP BY site, day, visitor_id, visit_id;
