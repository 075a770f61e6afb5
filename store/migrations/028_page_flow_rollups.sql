-- Page flow gained rows in the daily rollup (dimension `flow`: each page's previous and next pages,
-- aggregator/stats/page-flow.ts): days built before have none. Forgetting the builds has every day
-- answered from events and visits until the rollup job has built it again with them (as 019 did).
TRUNCATE TABLE IF EXISTS rollup_builds;
