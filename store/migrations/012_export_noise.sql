-- Noise for exports (policy `noise.export_epsilon`), see aggregator/export/noise.ts.
-- One random secret per site: the noise of an export is drawn from HMAC-SHA-256 under this key
-- over the question and its true answer, so the same export asked twice gets the same noise and
-- averaging repeats cannot strip it. Plain MergeTree, never replaced: if two collectors create a
-- key at once, every reader takes the oldest, for ever. base64url, 32 bytes.
CREATE TABLE IF NOT EXISTS export_noise_keys
(
    site       LowCardinality(String),
    key        String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (site, created_at);

-- The privacy budget spent by noisy exports: one row per distinct answer (a keyed hash of the
-- question and its true numbers, never the question itself) and calendar month of data it
-- covers, with the epsilon it cost. An answer already here is free to ask again.
CREATE TABLE IF NOT EXISTS export_budget
(
    site     LowCardinality(String),
    month    String,
    answer   String,
    kind     LowCardinality(String),
    epsilon  Float64,
    asked_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(asked_at)
ORDER BY (site, month, answer);
