-- What a site's users save beside goals: segments (named filter sets in the stats API's
-- `filters` syntax), funnels (named steps as /api/v1/funnel takes them, as JSON, with an
-- optional conversion window; 0 = none) and annotations (a dated note on the site's chart).
-- Like goals: a change or a deletion writes the row again with a newer updated_at
-- (deleted = 1 for a deletion), and readers take the newest with FINAL.
CREATE TABLE IF NOT EXISTS segments
(
    id          String,
    site        LowCardinality(String),
    name        String,
    filters     String,
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site, id);

CREATE TABLE IF NOT EXISTS funnels
(
    id              String,
    site            LowCardinality(String),
    name            String,
    steps           String,
    window_minutes  UInt32 DEFAULT 0,
    created_at      DateTime64(3, 'UTC'),
    updated_at      DateTime64(3, 'UTC'),
    deleted         UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site, id);

CREATE TABLE IF NOT EXISTS annotations
(
    id          String,
    site        LowCardinality(String),
    date        Date,
    note        String,
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site, id);
