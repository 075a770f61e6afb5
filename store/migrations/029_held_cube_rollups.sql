-- The daily rollup gained the held cubes (dimensions `page|`, `page|<visit property>`, `event|`…: the
-- totals and every visit property over the visits that viewed each page or sent each event, HELD_CUBES in
-- aggregator/stats/query.ts). Days built before have none, and a question under one page or event would
-- read them as empty. Forgetting the builds has every day answered from events and visits until
-- the rollup job has built it again with them (as 019 and 028 did).
TRUNCATE TABLE IF EXISTS rollup_builds;
