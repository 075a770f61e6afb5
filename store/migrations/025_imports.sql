-- Statistics brought over from another analytics tool (aggregator/imports/): one row per import
-- of a site, its id the hash of what was imported (so the same export imported again is the same
-- import), the tool it came from, the days it covers, its files and its state: `importing` while
-- rows are written, `complete` once every row is in (only then are its rows read), `failed`.
-- Like goals: a change writes the row again with a newer updated_at (deleted = 1 for a deletion);
-- readers take the newest with FINAL.
CREATE TABLE IF NOT EXISTS imports
(
    id          String,
    site        LowCardinality(String),
    source      LowCardinality(String),
    first_day   Date,
    last_day    Date,
    files       Array(String),
    state       LowCardinality(String),
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site, id);

-- The imported daily cells: per import, property (`visitors` for the day's totals, `page`,
-- `source`, `country`…), day (in the site's time zone, as the tool exported it) and value, the
-- counts the tool gave for that day. Never mixed with collected statistics: they are per-day
-- sums, not distinct counts.
CREATE TABLE IF NOT EXISTS imported_daily
(
    site            LowCardinality(String),
    import_id       String,
    property        LowCardinality(String),
    day             Date,
    value           String,
    visitors        UInt64,
    visits          UInt64,
    pageviews       UInt64,
    bounces         UInt64,
    visit_duration  UInt64,
    events          UInt64
)
ENGINE = MergeTree
ORDER BY (site, import_id, property, day, value);
