/**
 * Synthetic events made by ClickHouse itself, for the query bench (bench/queries.ts) and the
 * upkeep bench (bench/upkeep.ts): pages, referrers, countries, browsers, visits of about three
 * events 45 s apart with the collector's time-ordered visit ids. Parameters: site, start (ms,
 * the first of the 30 days), events (over the 30 days), visitors_per_day, and lo/hi (ms after
 * start: only the events in that window are inserted).
 */
export function generateEventsSql(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`)
  return `
INSERT INTO ${table} (site, ts, name, visitor_id, network_id, visit_id, visit_flags, hostname, pathname, referrer_host, source, channel, utm_source, utm_medium, utm_campaign,
                    browser, browser_version, os, os_version, device, screen, country, region, city, engagement_ms, scroll_depth, props)
SELECT
    {site:String},
    fromUnixTimestamp64Milli(toInt64({start:Int64} + at_ms)),
    if(step_kind < 85, 'pageview', if(step_kind < 95, 'engagement', ['Signup', 'Outbound Link: Click', 'File Download'][1 + step_kind % 3])),
    cityHash64(visitor, intDiv(at_ms, 86400000)) AS vid,
    -- about three visitors share a network (an address block)
    cityHash64(intDiv(visitor, 3), intDiv(at_ms, 86400000), 'network'),
    -- the collector's visit: its first event gives its dimensions, its first pageview its entry page
    -- the collector's time-ordered visit id (collector/visits.ts): the second the visit started since 2020, above 31 random bits
    bitOr(bitShiftLeft(toUInt64(intDiv({start:Int64} + visit_start_ms, 1000) - 1577836800), 31), cityHash64(visit, 'visit') % 2147483648) AS visit_id,
    bitOr(if(step = 0, 1, 0), if(step_kind < 85 AND NOT (step >= 1 AND pv0) AND NOT (step >= 2 AND pv1), 2, 0)),
    {site:String},
    ['/', '/', '/pricing', '/features', '/blog', '/blog/launch', '/blog/privacy', '/docs', '/docs/install', '/docs/api', '/about', '/signup'][1 + (cityHash64(visit, step) % 12)],
    if(step = 0, ['', '', 'google.com', 'bing.com', 't.co', 'news.ycombinator.com', 'reddit.com', 'blog.example.org'][1 + visit % 8], ''),
    if(step = 0, ['', '', 'Google', 'Bing', 'Twitter', 'Hacker News', 'Reddit', 'blog.example.org'][1 + visit % 8], ''),
    if(step = 0, ['direct', 'direct', 'search', 'search', 'social', 'social', 'social', 'referral'][1 + visit % 8], ''),
    if(step = 0 AND visit % 11 = 0, 'newsletter', ''), if(step = 0 AND visit % 11 = 0, 'email', ''), if(step = 0 AND visit % 11 = 0, 'november', ''),
    ['Chrome', 'Safari', 'Firefox', 'Edge', 'Mobile Safari', 'Chrome Mobile'][1 + visitor % 6],
    toString(120 + visitor % 12),
    ['Windows', 'Mac OS', 'Linux', 'Windows', 'iOS', 'Android'][1 + visitor % 6],
    toString(10 + visitor % 5),
    ['Desktop', 'Desktop', 'Desktop', 'Desktop', 'Mobile', 'Mobile'][1 + visitor % 6],
    ['Laptop', 'Desktop', 'Laptop', 'Desktop', 'Mobile', 'Mobile'][1 + visitor % 6],
    ['US', 'DE', 'GB', 'FR', 'IN', 'BR', 'JP', 'CA', 'NL', 'ES', 'IT', 'SE', 'PL', 'AU', 'MX'][1 + (visitor * 7) % 15],
    concat('Region ', toString(visitor % 40)),
    concat('City ', toString(visitor % 400)),
    if(step_kind >= 85 AND step_kind < 95, 5000 + (visit % 60000), 0),
    -- an engagement ping's deepest scroll (255: none reported, as older trackers send)
    if(step_kind >= 85 AND step_kind < 95, if(visit % 10 = 0, 255, cityHash64(visit, step, 'sd') % 101), 255),
    if(step_kind >= 95, map('url', 'https://docs.example.org/guide', 'plan', ['free', 'pro'][1 + visit % 2]), map())
FROM
(
    SELECT number AS n,
        intDiv(n, 3) AS visit,                         -- about 3 events a visit
        n % 3 AS step,
        cityHash64(n) % 100 AS step_kind,
        cityHash64(visit * 3) % 100 < 85 AS pv0,
        cityHash64(visit * 3 + 1) % 100 < 85 AS pv1,
        -- a visit starts on any of the 30 days (never so late that it runs past midnight); its events follow 45 s apart
        ((cityHash64(visit) % 30) * 86400 + cityHash64(visit, 2) % 86000) * 1000 AS visit_start_ms,
        visit_start_ms + step * 45000 AS at_ms,
        cityHash64(visit, 1) % {visitors_per_day:UInt64} AS visitor
    FROM numbers({events:UInt64})
)
WHERE at_ms >= {lo:Int64} AND at_ms < {hi:Int64}`
}

/** An `events` row as the spool writer holds it (an EventRow: times in ms, UInt64s as decimal strings), read back with JSONEachRow: `${AS_EVENT_ROWS} FROM …`. */
export const AS_EVENT_ROWS = `SELECT * REPLACE (toUnixTimestamp64Milli(ts) AS ts, toString(visitor_id) AS visitor_id, toString(network_id) AS network_id,
    toString(visit_id) AS visit_id, toString(revenue_amount) AS revenue_amount)`
