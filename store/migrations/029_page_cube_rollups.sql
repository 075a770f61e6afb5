-- The daily rollup gained the page cube (dimensions `page|` and `page|<visit property>`: the
-- totals and every visit property over the visits that viewed each page, PAGE_CUBE in
-- aggregator/stats/query.ts). Days built before have none, and a question under one page would
-- read them as empty. Forgetting the builds has every day answered from events and visits until
-- the rollup job has built it again with them (as 019 and 028 did).
TRUNCATE TABLE IF EXISTS rollup_builds;
