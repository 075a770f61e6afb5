-- Breakdowns gained a property (`hostname`, the host a visit entered on): days built before
-- have no rows for it. Forgetting the builds makes every day answered from events and visits
-- until the rollup job has built it again with every property, so no answer misses it.
TRUNCATE TABLE IF EXISTS rollup_builds;
