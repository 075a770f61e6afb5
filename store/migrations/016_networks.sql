-- k counts people, not browsers: every event carries its network (the address's /24 or /48,
-- hashed by the collector under the visitor hash's daily salt; 0 for events stored before), so
-- the aggregator can require k distinct networks beside k distinct visitors behind a number.
ALTER TABLE events ADD COLUMN IF NOT EXISTS network_id UInt64 DEFAULT 0 AFTER visitor_id;

-- A visit's network: one visitor hash is one address, so any of its events gives it.
ALTER TABLE visits ADD COLUMN IF NOT EXISTS network_id SimpleAggregateFunction(max, UInt64) AFTER visit_id;

DROP VIEW IF EXISTS visits_mv;

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
    max(if(bitAnd(visit_flags, 1) != 0, returning, 0)) AS returning
FROM events
WHERE visit_id != 0
GROUP BY site, day, visitor_id, visit_id;

-- Distinct networks per rollup row; rows built before count each visitor as a network.
ALTER TABLE rollup_daily ADD COLUMN IF NOT EXISTS networks UInt64 DEFAULT visitors AFTER visitors;
ALTER TABLE rollup_daily_stage ADD COLUMN IF NOT EXISTS networks UInt64 DEFAULT visitors AFTER visitors;
