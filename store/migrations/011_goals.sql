-- Goals per site: a page path pattern (`/signup/*`, `*` is a wildcard) or a custom event name,
-- optionally with one custom prop that must match. `pattern` holds the path pattern or the
-- event name. Deleting writes the row again with deleted = 1 and a newer updated_at.
CREATE TABLE IF NOT EXISTS goals
(
    id          String,
    site        LowCardinality(String),
    kind        Enum8('page' = 1, 'event' = 2),
    pattern     String,
    prop_key    String DEFAULT '',
    prop_value  String DEFAULT '',
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site, id);
