/**
 * The SQL of the rollup job. Parameters: {site:String}, {day:Date} (the UTC day built),
 * {tz:String} (the site's time zone), {timeout_ms:Int64} (the policy's visit timeout).
 */

/** Visit dimensions: the value of each, taken from the visit's first event. */
export const VISIT_DIMENSIONS = [
  'hostname', 'referrer_host', 'referrer_path', 'source', 'channel',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term',
  'browser', 'browser_version', 'os', 'os_version', 'device', 'screen',
  'country', 'region', 'city', 'network', 'returning',
] as const

/**
 * Sessions of one site and UTC day: a new visit starts at a visitor's first event and after
 * every gap longer than the timeout. Events without a visitor hash (a consent stance) form no visits.
 */
export const BUILD_VISITS = `
INSERT INTO visits_stage
SELECT
    site,
    {day:Date} AS day,
    visitor_id,
    min(ts) AS start,
    max(ts) AS end,
    countIf(name = 'pageview') AS pageviews,
    countIf(name != 'engagement') AS events,
    countIf(name NOT IN ('pageview', 'engagement')) AS interactions,
    sumIf(engagement_ms, name = 'engagement') AS engagement_ms,
    argMinIf(pathname, ts, name = 'pageview') AS entry_page,
    argMaxIf(pathname, ts, name = 'pageview') AS exit_page,
    groupUniqArrayIf(pathname, name = 'pageview') AS pages,
    groupUniqArrayIf(name, name NOT IN ('pageview', 'engagement')) AS event_names,
    ${VISIT_DIMENSIONS.map((d) => `argMin(${d}, ts) AS ${d}`).join(',\n    ')}
FROM
(
    SELECT *, sum(starts_visit) OVER (PARTITION BY visitor_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM
    (
        SELECT *,
            toUnixTimestamp64Milli(ts)
              - toUnixTimestamp64Milli(lagInFrame(ts, 1, ts) OVER (PARTITION BY visitor_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW))
              > {timeout_ms:Int64} AS starts_visit
        FROM events
        WHERE site = {site:String} AND toDate(ts) = {day:Date} AND visitor_id != 0
    )
)
GROUP BY site, visitor_id, visit_no`

/** Visit dimensions as rollup rows; `''` is the site's totals. */
const VISIT_DIMS_FOR_ROLLUP: [string, string][] = [
  ['', "''"],
  ['source', 'v.source'],
  ['referrer', "if(v.referrer_host = '', '', concat(v.referrer_host, v.referrer_path))"],
  ['referrer_host', 'v.referrer_host'],
  ['channel', 'v.channel'],
  ['utm_source', 'v.utm_source'],
  ['utm_medium', 'v.utm_medium'],
  ['utm_campaign', 'v.utm_campaign'],
  ['utm_content', 'v.utm_content'],
  ['utm_term', 'v.utm_term'],
  ['country', 'v.country'],
  ['region', "if(v.region = '', '', concat(v.country, '|', v.region))"],
  ['city', "if(v.city = '', '', concat(v.country, '|', v.region, '|', v.city))"],
  ['browser', 'v.browser'],
  ['browser_version', "if(v.browser_version = '', '', concat(v.browser, ' ', v.browser_version))"],
  ['os', 'v.os'],
  ['os_version', "if(v.os_version = '', '', concat(v.os, ' ', v.os_version))"],
  ['device', 'v.device'],
  ['screen', 'v.screen'],
  ['network', 'v.network'],
  ['entry_page', 'v.entry_page'],
  ['exit_page', 'v.exit_page'],
  ['new_vs_returning', "multiIf(v.returning = 0, 'new', v.returning = 1, 'v.returning', '')"],
]

export const ROLLUP_DIMENSIONS = [...VISIT_DIMS_FOR_ROLLUP.map(([d]) => d).filter(Boolean), 'page', 'event', 'outbound', 'download'] as const

/** Visit-level statistics per dimension value and local day. */
export const BUILD_VISIT_ROLLUP = `
INSERT INTO rollup_daily_stage
SELECT v.site, {day:Date} AS build_day, toDate(v.start, {tz:String}) AS day, d.1 AS dim, d.2 AS value,
    uniqExact(v.visitor_id) AS visitors,
    count() AS visits,
    -- the totals row takes pageviews and events from the event rollup (unhashed events count there)
    sumIf(v.pageviews, d.1 != '') AS pageviews,
    sumIf(v.events, d.1 != '') AS events,
    countIf(v.pageviews <= 1 AND v.interactions = 0) AS bounces,
    sum(toUnixTimestamp64Milli(v.end) - toUnixTimestamp64Milli(v.start)) AS duration_ms,
    sum(v.engagement_ms) AS engagement_ms
FROM visits_stage AS v
ARRAY JOIN [${VISIT_DIMS_FOR_ROLLUP.map(([d, e]) => `('${d}', ${e})`).join(', ')}] AS d
WHERE v.site = {site:String} AND v.day = {day:Date}
GROUP BY v.site, day, dim, value`

/**
 * Event-level statistics: pages (views, visitors, time on page), event names, clicked links.
 * The totals row's pageviews and events come from here too, so events without a visitor hash count.
 */
export const BUILD_EVENT_ROLLUP = `
INSERT INTO rollup_daily_stage
SELECT e.site, {day:Date} AS build_day, toDate(e.ts, {tz:String}) AS day, d.1 AS dim, d.2 AS value,
    uniqExactIf(e.visitor_id, e.visitor_id != 0 AND d.1 != '') AS visitors,
    0 AS visits,
    countIf(e.name = 'pageview' AND d.1 IN ('', 'page')) AS pageviews,
    countIf(e.name != 'engagement' AND d.1 != 'page') AS events,
    0 AS bounces,
    0 AS duration_ms,
    sumIf(e.engagement_ms, e.name = 'engagement') AS engagement_ms
FROM events AS e
ARRAY JOIN arrayFilter(x -> x.1 != '-', [
    ('', ''),
    (if(e.name IN ('pageview', 'engagement'), 'page', '-'), e.pathname),
    (if(e.name NOT IN ('pageview', 'engagement'), 'event', '-'), e.name),
    (if(e.name = 'Outbound Link: Click', 'outbound', '-'), e.props['url']),
    (if(e.name = 'File Download', 'download', '-'), e.props['url'])
]) AS d
WHERE e.site = {site:String} AND toDate(e.ts) = {day:Date}
GROUP BY e.site, day, dim, value`

/** Custom props, one dimension per key: `prop:<key>`. */
export const BUILD_PROP_ROLLUP = `
INSERT INTO rollup_daily_stage
SELECT site, {day:Date} AS build_day, toDate(ts, {tz:String}) AS day, concat('prop:', p.1) AS dim, p.2 AS value,
    uniqExactIf(visitor_id, visitor_id != 0) AS visitors,
    0 AS visits, 0 AS pageviews, count() AS events, 0 AS bounces, 0 AS duration_ms, 0 AS engagement_ms
FROM events
ARRAY JOIN CAST(props, 'Array(Tuple(String, String))') AS p
WHERE site = {site:String} AND toDate(ts) = {day:Date} AND name NOT IN ('pageview', 'engagement') AND p.1 != 'url'
GROUP BY site, day, dim, value`
