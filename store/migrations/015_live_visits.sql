-- Visits kept current as events arrive. The collector cuts visits as it takes events (see
-- collector/visits.ts) and stamps each event with its visit and what it is to that visit;
-- the store derives each visit's numbers at insert, through a materialised view, so a
-- statistic counts an event as soon as it is inserted and nothing is rebuilt on a timer.
ALTER TABLE events ADD COLUMN IF NOT EXISTS visit_id UInt64 DEFAULT 0 AFTER visitor_id;
-- 1: the visit's first event (it gives the visit its dimensions); 2: the visit's first pageview (its entry page).
ALTER TABLE events ADD COLUMN IF NOT EXISTS visit_flags UInt8 DEFAULT 0 AFTER visit_id;

-- The visits the rollup job used to rebuild every minute give way to the live ones.
DROP TABLE IF EXISTS visits_stage;
DROP TABLE IF EXISTS visits;

-- One row per visit once merged (a query reads it with FINAL). Partitioned by the UTC day, the
-- visitor hash's day: a visit never spans two, and retention drops a day's visits with its events.
CREATE TABLE IF NOT EXISTS visits
(
    site            LowCardinality(String),
    day             Date,
    visitor_id      UInt64,
    visit_id        UInt64,
    start           SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    end             SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    pageviews       SimpleAggregateFunction(sum, UInt64),
    events          SimpleAggregateFunction(sum, UInt64),
    interactions    SimpleAggregateFunction(sum, UInt64),
    engagement_ms   SimpleAggregateFunction(sum, UInt64),
    entry_page      SimpleAggregateFunction(max, String),
    -- the latest pageview's (time, path): its path is the exit page
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
    returning       SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY day
ORDER BY (site, day, visitor_id, visit_id);

-- A visit's dimensions come from its first event and its entry page from its first pageview:
-- the other events of the visit give '' (or 0), which `max` passes over.
CREATE MATERIALIZED VIEW IF NOT EXISTS visits_mv TO visits AS
SELECT
    site,
    toDate(ts) AS day,
    visitor_id,
    visit_id,
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
    max(if(bitAnd(visit_flags, 1) != 0, returning, 0)) AS returning
FROM events
WHERE visit_id != 0
GROUP BY site, day, visitor_id, visit_id;

-- A bounce rate's denominator: all visits of a row, or for a page the visits entering on it.
ALTER TABLE rollup_daily ADD COLUMN IF NOT EXISTS entries UInt64 DEFAULT visits;
ALTER TABLE rollup_daily_stage ADD COLUMN IF NOT EXISTS entries UInt64 DEFAULT visits;

-- Events per UTC day, kept at insert: the statistics engine compares it with what each day's
-- rollup was built from, so a day whose events changed is answered from events, never from a
-- rollup that misses some. Dropping or deleting events (retention) never lowers it.
CREATE TABLE IF NOT EXISTS event_counts
(
    day    Date,
    events UInt64
)
ENGINE = SummingMergeTree
ORDER BY day;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_counts_mv TO event_counts AS
SELECT toDate(ts) AS day, count() AS events FROM events GROUP BY day;

INSERT INTO event_counts SELECT toDate(ts) AS day, count() AS events FROM events GROUP BY day;
