-- The daily rollup's cube gained two filters a visit's first event gives (`source|…`, `channel|…`:
-- every property's rows per source and per channel, OPENER_CUBE_FILTERS in
-- aggregator/stats/query.ts). Days built before have none, and a question under one source or
-- channel would read them as empty. Forgetting the builds has every day answered from events and
-- visits until the rollup job has built it again with them (as 019, 028 and 029 did).
TRUNCATE TABLE IF EXISTS rollup_builds;
