-- Events without a visit (no visitor hash: visit_id = 0) per UTC day, kept at insert as
-- event_counts is: a day without any lets a question's live read of its visits leave out the
-- events branch that counts them as visits of their own (some 5 ms of every read, issue 11).
-- Counted over every site. The view comes before the backfill, so an event inserted meanwhile
-- may be counted twice (the branch is then read for nothing), never missed.
CREATE TABLE IF NOT EXISTS visitless_counts
(
    day    Date,
    events UInt64
)
ENGINE = SummingMergeTree
ORDER BY day;

CREATE MATERIALIZED VIEW IF NOT EXISTS visitless_counts_mv TO visitless_counts AS
SELECT toDate(ts) AS day, count() AS events FROM events WHERE visit_id = 0 GROUP BY day;

INSERT INTO visitless_counts SELECT toDate(ts) AS day, count() AS events FROM events WHERE visit_id = 0 GROUP BY day;
