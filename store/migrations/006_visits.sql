-- Visits (sessions), derived in the store from events by the rollup job: one row per visit,
-- rebuilt per UTC day (the salt day, so a visitor hash never spans two of them). A visit ends
-- after the policy's visit timeout without events. Only the aggregator reads this table.
CREATE TABLE IF NOT EXISTS visits
(
    site            LowCardinality(String),
    day             Date,
    visitor_id      UInt64,
    start           DateTime64(3, 'UTC'),
    end             DateTime64(3, 'UTC'),
    pageviews       UInt32,
    events          UInt32,
    interactions    UInt32,
    engagement_ms   UInt64,
    entry_page      String,
    exit_page       String,
    pages           Array(String),
    event_names     Array(LowCardinality(String)),
    hostname        LowCardinality(String),
    referrer_host   LowCardinality(String),
    referrer_path   String,
    source          LowCardinality(String),
    channel         LowCardinality(String),
    utm_source      LowCardinality(String),
    utm_medium      LowCardinality(String),
    utm_campaign    LowCardinality(String),
    utm_content     LowCardinality(String),
    utm_term        LowCardinality(String),
    browser         LowCardinality(String),
    browser_version LowCardinality(String),
    os              LowCardinality(String),
    os_version      LowCardinality(String),
    device          LowCardinality(String),
    screen          LowCardinality(String),
    country         LowCardinality(String),
    region          LowCardinality(String),
    city            LowCardinality(String),
    network         LowCardinality(String),
    returning       UInt8
)
ENGINE = MergeTree
PARTITION BY day
ORDER BY (site, day, visitor_id, start);

-- Which UTC days the visits and rollups were built from, and from how many events: a day
-- whose events changed (late events, a replayed spool, a seed) is built again.
CREATE TABLE IF NOT EXISTS rollup_builds
(
    day        Date,
    events     UInt64,
    built_at   DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(built_at)
ORDER BY day;
