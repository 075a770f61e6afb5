import type { ClickHouseClient } from '@clickhouse/client'
import { compare, Params, propExpr, type Filter } from './filters.ts'
import type { Sums } from './metrics.ts'
import { calendarDate, type Range } from './period.ts'
import type { Property } from './properties.ts'

export type Interval = 'minute' | 'hour' | 'day' | 'week' | 'month'

/** One statistics question: a site, a range in its time zone, filters, and how to group. */
export interface StatsQuestion {
  site: string
  timezone: string
  range: { from: number; to: number }
  filters: Filter[]
  property?: Property & { propKey?: string }
  interval?: Interval
}

export interface SumsRow extends Sums {
  key: string
  bucket: string
}

const fmtDate = ([y, m, d]: [number, number, number]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`

/** The local days a range covers, and the UTC days that may hold its events (one either side). */
export function rangeDays(range: { from: number; to: number }, tz: string) {
  return {
    first: fmtDate(calendarDate(range.from, tz)),
    last: fmtDate(calendarDate(range.to - 1, tz)),
    utcFirst: new Date(range.from - 86_400_000).toISOString().slice(0, 10),
    utcLast: new Date(range.to + 86_400_000).toISOString().slice(0, 10),
  }
}

function localBucket(interval: Interval | undefined, column: string, tz: string, params: Params): string {
  const zone = params.add('String', tz)
  switch (interval) {
    case undefined:
      return "''"
    case 'minute':
      return `formatDateTime(toStartOfMinute(${column}), '%Y-%m-%d %H:%i:00', ${zone})`
    case 'hour':
      return `formatDateTime(toStartOfHour(${column}), '%Y-%m-%d %H:00:00', ${zone})`
    case 'day':
      return `toString(toDate(${column}, ${zone}))`
    case 'week':
      return `toString(toMonday(toDate(${column}, ${zone})))`
    case 'month':
      return `toString(toStartOfMonth(toDate(${column}, ${zone})))`
  }
}

function dayBucket(interval: Interval | undefined): string {
  switch (interval) {
    case undefined:
      return "''"
    case 'day':
      return 'toString(day)'
    case 'week':
      return 'toString(toMonday(day))'
    case 'month':
      return 'toString(toStartOfMonth(day))'
    default:
      throw new Error('rollups hold days, not ' + interval)
  }
}

const SUMS = `sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews, sum(events) AS events,
    sum(bounces) AS bounces, sum(duration_ms) AS duration_ms, sum(engagement_ms) AS engagement_ms`
// Inner queries name their sums s_*: an alias equal to a column name would shadow the column.
const OUTER = `sum(s_visitors) AS visitors, sum(s_visits) AS visits, sum(s_pageviews) AS pageviews, sum(s_events) AS events,
    sum(s_bounces) AS bounces, sum(s_duration_ms) AS duration_ms, sum(s_engagement_ms) AS engagement_ms`

/** Whether the daily rollup can answer: no filters, whole days, a property it holds. */
export function rollupAnswers(q: StatsQuestion): boolean {
  return q.filters.length === 0 && (q.interval === undefined || ['day', 'week', 'month'].includes(q.interval))
}

/**
 * The visits matching every filter, as SQL conditions on `visits` rows. Filters on event
 * properties go through the visit's arrays (pages, event names) or an events subquery.
 */
export function visitConditions(q: StatsQuestion, params: Params, skip?: string): string[] {
  const conds: string[] = []
  for (const f of q.filters) {
    if (f.name === skip) continue
    const p = f.prop
    if (p.level === 'visit') {
      conds.push(compare(p.filterExpr ?? p.expr, f, params))
      continue
    }
    if (p.visitArray) {
      const positive = { ...f, op: f.op === '!=' ? ('==' as const) : f.op }
      const any = `arrayExists(a -> ${compare('a', positive, params)}, ${p.visitArray})`
      conds.push(f.op === '!=' ? `NOT ${any}` : any)
      continue
    }
    const positive = { ...f, op: f.op === '!=' ? ('==' as const) : f.op }
    const expr = f.prop.propKey ? propExpr(f.prop.propKey, params) : p.expr
    const sub = `(visitor_id, day) ${f.op === '!=' ? 'NOT IN' : 'IN'} (
        SELECT visitor_id, toDate(ts) FROM events
        WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})
          AND ${p.where} AND ${compare(expr, positive, params)})`
    conds.push(sub)
  }
  return conds
}

/** Sums per (key, bucket) for a question, from whichever table answers it fastest. */
export async function querySums(client: ClickHouseClient, q: StatsQuestion): Promise<SumsRow[]> {
  const params = new Params()
  const days = rangeDays(q.range, q.timezone)
  const base = { site: q.site, from: q.range.from, to: q.range.to, d0: days.first, d1: days.last, u0: days.utcFirst, u1: days.utcLast }
  let sql: string
  const prop = q.property
  if (rollupAnswers(q)) {
    const dim = prop ? params.add('String', prop.dim) : "''"
    sql = `SELECT ${prop ? 'value' : "''"} AS key, ${dayBucket(q.interval)} AS bucket, ${SUMS}
      FROM rollup_daily
      WHERE site = {site:String} AND dim = ${dim} AND day BETWEEN {d0:Date} AND {d1:Date}
      GROUP BY key, bucket`
  } else if (!prop || prop.level === 'visit') {
    const conds = visitConditions(q, params)
    sql = `SELECT key, bucket, ${OUTER} FROM (
      SELECT ${prop ? prop.expr : "''"} AS key, ${localBucket(q.interval, 'start', q.timezone, params)} AS bucket,
        uniqExact(visitor_id) AS s_visitors, count() AS s_visits, sum(pageviews) AS s_pageviews, sum(events) AS s_events,
        countIf(pageviews <= 1 AND interactions = 0) AS s_bounces,
        sum(toUnixTimestamp64Milli(end) - toUnixTimestamp64Milli(start)) AS s_duration_ms, sum(engagement_ms) AS s_engagement_ms
      FROM visits
      WHERE site = {site:String} AND day BETWEEN {u0:Date} AND {u1:Date}
        AND start >= fromUnixTimestamp64Milli({from:Int64}) AND start < fromUnixTimestamp64Milli({to:Int64})
        ${conds.map((c) => `AND ${c}`).join('\n        ')}
      GROUP BY key, bucket, day, toDate(start, ${params.add('String', q.timezone)})
    ) GROUP BY key, bucket`
  } else {
    // Event properties: filters on the property itself select rows; the others select visits.
    // Page rows count pageviews, not events, exactly as the rollup does.
    const own = q.filters.filter((f) => f.name === (prop.propKey ? `prop:${prop.propKey}` : prop.dim))
    const expr = prop.propKey ? propExpr(prop.propKey, params) : prop.expr
    const ownConds = own.map((f) => compare(expr, f, params))
    const visitConds = visitConditions(q, params, own[0]?.name)
    const inVisits = visitConds.length
      ? `AND (visitor_id, toDate(ts)) IN (SELECT visitor_id, day FROM visits WHERE site = {site:String} AND day BETWEEN {u0:Date} AND {u1:Date} AND ${visitConds.join(' AND ')})`
      : ''
    const keyed = prop.propKey ? `AND mapContains(props, ${params.add('String', prop.propKey)})` : ''
    sql = `SELECT key, bucket, ${OUTER} FROM (
      SELECT ${expr} AS key, ${localBucket(q.interval, 'ts', q.timezone, params)} AS bucket,
        uniqExactIf(visitor_id, visitor_id != 0) AS s_visitors, 0 AS s_visits,
        countIf(name = 'pageview') AS s_pageviews, ${prop.dim === 'page' ? '0' : "countIf(name != 'engagement')"} AS s_events, 0 AS s_bounces, 0 AS s_duration_ms,
        sumIf(engagement_ms, name = 'engagement') AS s_engagement_ms
      FROM events
      WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})
        AND ${prop.where} ${keyed} ${ownConds.map((c) => `AND ${c}`).join(' ')} ${inVisits}
      GROUP BY key, bucket, toDate(ts), toDate(ts, ${params.add('String', q.timezone)})
    ) GROUP BY key, bucket`
  }
  const rs = await client.query({ query: sql, query_params: { ...base, ...params.values }, format: 'JSONEachRow' })
  const rows = await rs.json<SumsRow>()
  return rows.map((r) => ({
    key: String(r.key),
    bucket: String(r.bucket),
    visitors: Number(r.visitors),
    visits: Number(r.visits),
    pageviews: Number(r.pageviews),
    events: Number(r.events),
    bounces: Number(r.bounces),
    duration_ms: Number(r.duration_ms),
    engagement_ms: Number(r.engagement_ms),
  }))
}

export type { Range }
