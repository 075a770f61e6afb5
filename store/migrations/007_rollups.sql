-- Daily statistics per dimension value, in each site's time zone, built by the rollup job
-- from `visits` (visit dimensions) and `events` (pages, event names, props, links). Partitioned
-- by the UTC day they were built from, so a day is rebuilt by replacing one partition.
-- Dashboards read this table; raw events can be purged while it stays.
-- `visitors` is exact per row: distinct visitor hashes on that day. Visitor hashes change with
-- the daily salt, so visitors over several days are the sum of the days (as with every
-- daily-salted count): rows simply add up.
CREATE TABLE IF NOT EXISTS rollup_daily
(
    site          LowCardinality(String),
    build_day     Date,
    day           Date,
    dim           LowCardinality(String),
    value         String,
    visitors      UInt64,
    visits        UInt64,
    pageviews     UInt64,
    events        UInt64,
    bounces       UInt64,
    duration_ms   UInt64,
    engagement_ms UInt64
)
ENGINE = SummingMergeTree
PARTITION BY build_day
ORDER BY (site, dim, day, value);

-- Staging copies: a day is built here, then swapped in with REPLACE PARTITION (atomic).
CREATE TABLE IF NOT EXISTS visits_stage AS visits;
CREATE TABLE IF NOT EXISTS rollup_daily_stage AS rollup_daily;
