-- Visitor-hash salts, only for policies with visitor_hash.persist_salt: true, so a restart or a
-- second collector keeps counting the same visitor. One partition per salt period: an expired
-- salt is removed by dropping its partition, and its files are deleted seconds later (see 014).
CREATE TABLE IF NOT EXISTS salts
(
    period_hours UInt32,
    period       UInt64,
    salt         String,
    created_at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY (period_hours, period)
ORDER BY (period_hours, period, created_at)
SETTINGS old_parts_lifetime = 1, cleanup_delay_period = 1, cleanup_delay_period_random_add = 0;
