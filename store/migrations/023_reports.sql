-- Scheduled e-mail reports and traffic-spike alerts of a site (aggregator/reports/): the
-- addresses an admin set for each kind (`weekly`, `monthly`, `spike`; never a visitor's) and,
-- for an alert, the visitors in an hour above which it is sent. Like goals: a change writes the
-- row again with a newer updated_at (deleted = 1 for a removal); readers take the newest with FINAL.
CREATE TABLE IF NOT EXISTS report_settings
(
    site        LowCardinality(String),
    kind        LowCardinality(String),
    recipients  Array(String),
    threshold   UInt32 DEFAULT 0,
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site, kind);

-- What the schedule sent: one row per site, kind and period (a week's Monday, a month, an
-- alert's hour), so that each period's report goes out once, after a restart too.
CREATE TABLE IF NOT EXISTS report_sends
(
    site     LowCardinality(String),
    kind     LowCardinality(String),
    period   String,
    sent_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(sent_at)
ORDER BY (site, kind, period);
