-- The daily rollup gained rows: page flow (dimension `flow`: each page's previous and next pages,
-- aggregator/stats/page-flow.ts) and the cube of the common filters (`country|page` and the like:
-- every property under each value of country, browser, OS and device, CUBE_FILTERS in
-- aggregator/stats/query.ts). Days built before have none. Forgetting the builds has every day
-- answered from events and visits until the rollup job has built it again with them (as 019 did).
TRUNCATE TABLE IF EXISTS rollup_builds;
