-- A page's path as LowCardinality: a site has far fewer paths than events, so a filter or a
-- goal on a path is worked out once per distinct path, not once per row. Page filters, goals,
-- funnels and page flow all test the path of every event in their range: at ten million
-- events the test of a funnel's three steps took 1.0 s on one thread with `String`, 0.4 s
-- with this, and the column is 4.5 times smaller on disk (44 -> 9.6 MB compressed). Existing
-- parts are rewritten in the background; until then they are read as they are.
ALTER TABLE events MODIFY COLUMN pathname LowCardinality(String);
