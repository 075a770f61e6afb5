-- Revenue and scroll depth (issue 14).
--
-- An event may carry revenue: its amount in ten-thousandths of the currency's unit (10.5 EUR is
-- 105000: exact sums, and every ISO 4217 currency has at most four minor digits) and its ISO
-- 4217 code; 0 and '' when it carries none. Amounts are kept in the currency they were sent in,
-- never converted: a revenue goal counts only its own currency's.
ALTER TABLE events ADD COLUMN IF NOT EXISTS revenue_amount UInt64 DEFAULT 0;
ALTER TABLE events ADD COLUMN IF NOT EXISTS revenue_currency LowCardinality(String) DEFAULT '';

-- An engagement ping's deepest scroll of its page view so far, in percent (0..100); 255 when it
-- reports none (any other event, a ping sent before trackers reported it, a Plausible tracker's
-- missing `sd`), so that "not reported" is never averaged as 0.
ALTER TABLE events ADD COLUMN IF NOT EXISTS scroll_depth UInt8 DEFAULT 255;

-- A revenue goal is an event goal with the currency its revenue is counted in ('' for none).
ALTER TABLE goals ADD COLUMN IF NOT EXISTS currency LowCardinality(String) DEFAULT '';

-- Each visit's deepest scroll per page (the pages' paths and their depths; a page viewed twice in
-- a visit counts once, at its deepest), kept as events arrive like the rest of the visit, so a
-- page's scroll depth is read from its visits instead of grouping every engagement ping again.
ALTER TABLE visits ADD COLUMN IF NOT EXISTS scroll SimpleAggregateFunction(maxMap, Tuple(Array(String), Array(UInt8)));

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
    max(if(bitAnd(visit_flags, 1) != 0, returning, 0)) AS returning,
    maxMapIf([pathname], [scroll_depth], name = 'engagement' AND scroll_depth <= 100) AS scroll
FROM events
WHERE visit_id != 0
GROUP BY site, day, visitor_id, visit_id;

-- Scroll depth per rollup row: the deepest scroll of each (visit, page) summed, how many such
-- page views reported one, and the distinct visitors and networks behind them (k applies to
-- them). Revenue is not rolled up: it is only asked with a goal filter, which the rollup never answers.
ALTER TABLE rollup_daily ADD COLUMN IF NOT EXISTS scroll_sum UInt64 DEFAULT 0;
ALTER TABLE rollup_daily ADD COLUMN IF NOT EXISTS scroll_views UInt64 DEFAULT 0;
ALTER TABLE rollup_daily ADD COLUMN IF NOT EXISTS scroll_visitors UInt64 DEFAULT 0;
ALTER TABLE rollup_daily ADD COLUMN IF NOT EXISTS scroll_networks UInt64 DEFAULT 0;
ALTER TABLE rollup_daily_stage ADD COLUMN IF NOT EXISTS scroll_sum UInt64 DEFAULT 0;
ALTER TABLE rollup_daily_stage ADD COLUMN IF NOT EXISTS scroll_views UInt64 DEFAULT 0;
ALTER TABLE rollup_daily_stage ADD COLUMN IF NOT EXISTS scroll_visitors UInt64 DEFAULT 0;
ALTER TABLE rollup_daily_stage ADD COLUMN IF NOT EXISTS scroll_networks UInt64 DEFAULT 0;

-- Days built before hold no scroll depth: forgetting the builds answers every day from events
-- and visits until the rollup job has built it again with the new columns.
TRUNCATE TABLE IF EXISTS rollup_builds;
