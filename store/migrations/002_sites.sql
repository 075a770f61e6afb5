-- Registered sites: beacons for any other domain are dropped.
CREATE TABLE IF NOT EXISTS sites
(
    domain      String,
    timezone    LowCardinality(String) DEFAULT 'UTC',
    created_at  DateTime DEFAULT now(),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY domain;
