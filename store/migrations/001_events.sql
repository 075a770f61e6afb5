-- Non-personal events. No column can hold an IP address or a User-Agent string:
-- visitor_id is a keyed hash under a daily salt that is deleted after its day.
CREATE TABLE IF NOT EXISTS events
(
    site            LowCardinality(String),
    ts              DateTime64(3, 'UTC'),
    name            LowCardinality(String),
    visitor_id      UInt64,
    hostname        LowCardinality(String),
    pathname        String,
    query           String,
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
    engagement_ms   UInt32,
    props           Map(LowCardinality(String), String)
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (site, toDate(ts), visitor_id, ts)
SETTINGS non_replicated_deduplication_window = 10000;
