-- Each build of a day's rollup gets an id of its own: the statistics keep the rollup rows they
-- read for a question while the builds they came from are the current ones
-- (aggregator/stats/query.ts, `rollupRows`), so a rebuild of the same day within the same second
-- (a time zone changed) must not look like the build before it. Builds made before have no id
-- of their own (an added column's default is worked out anew at each read): forgetting them has
-- every day built again, with one, and answered from events and visits until then (as 019 did).
ALTER TABLE rollup_builds ADD COLUMN IF NOT EXISTS build_id UUID DEFAULT generateUUIDv4();

TRUNCATE TABLE IF EXISTS rollup_builds;
