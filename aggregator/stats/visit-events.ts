import { Params } from './filters.ts'
import { carriedFiltersSql, eventsTellVisits, foundFiltersSql, ownVisitSql, rangeDays, scopedVisitsSql, utcDays, type StatsQuestion } from './query.ts'

/**
 * SQL for questions about what happened inside one visit (goals, funnels; page flow reads each
 * visit's pageviews from `visits`: page-flow.ts).
 *
 * Every event carries its visit (`visit_id`, given by the collector as it takes the event), and
 * `visits` holds each visit's start, end and dimensions, kept current at insert: an event
 * belongs to the visits of the question when its visit does.
 */

/** The visits a question is about: its site, starting in its range, matching its filters; with the local day they count on. */
export function scopedVisits(q: StatsQuestion, params: Params, utc?: string[]): string {
  return `SELECT visitor_id, visit_id, day, start, end, toDate(start, ${params.add('String', q.timezone)}) AS local_day
    FROM ${scopedVisitsSql(q, params, true, utc)}`
}

/**
 * The events of the site in a visit on the question's UTC days (or `utc`), as a condition on an
 * `events` row: the filters on what every event of a visit carries (country…) already narrow them.
 */
function inVisitsOnDays(q: StatsQuestion, params: Params, utc?: string[]): string {
  return `site = {site:String} AND toDate(ts) IN ${params.add('Array(Date)', utc ?? daysOf(q))} AND visit_id != 0${carriedFiltersSql(q, params)}`
}

/** The UTC days that may hold the question's events. */
function daysOf(q: StatsQuestion): string[] {
  const days = rangeDays(q.range, q.timezone)
  return utcDays(days.utcFirst, days.utcLast)
}

/**
 * The visits of the question holding an event for which `where` holds, one row each: visitor_id,
 * visit_id, day (UTC), local_day, and the `perVisit` columns (alias → an aggregate over those
 * events of the visit, say a funnel's level). The events are grouped by visit before they meet
 * the visits, so the join holds a row per visit rather than per event: a funnel over 30 days at
 * ten million events (2.3 million matching events in 1.8 million visits, joined with 3.3 million
 * visits) took 3.7 s against 5.0 s joining the events one by one.
 */
export function visitsHolding(q: StatsQuestion, params: Params, perVisit: Record<string, string>, where: string, utc?: string[]): string {
  const own = Object.entries(perVisit)
  const read = utc ?? daysOf(q)
  if (eventsTellVisits(q, read)) {
    // every visit of those days that holds what the filters name is one of the question's
    // (eventsTellVisits), on its events' UTC day (a funnel over today at ten million events: 90
    // ms joining the visits). Under a page filter, its visits are found among the events, every
    // condition checked before the other columns are read (PREWHERE, as eventsInScope in
    // query.ts): today's funnel under `page==/pricing` at a hundred million events took 184 ms
    // so, 362 with the same conditions in WHERE.
    const found = foundFiltersSql(q, params, read)
    return `SELECT visitor_id, visit_id, day, day AS local_day${own.map(([alias]) => `, ${alias}`).join('')}
      FROM
      (
        SELECT visit_id, visitor_id, toDate(min(ts)) AS day${own.map(([alias, expr]) => `, ${expr} AS ${alias}`).join('')}
        FROM events
        ${found ? 'PREWHERE' : 'WHERE'} ${inVisitsOnDays(q, params, utc)} AND (${where})${found}
        GROUP BY visit_id, visitor_id
      )`
  }
  return `SELECT v.visitor_id AS visitor_id, v.visit_id AS visit_id, v.day AS day, v.local_day AS local_day${own.map(([alias]) => `, e.${alias} AS ${alias}`).join('')}
    FROM
    (
      SELECT visit_id, visitor_id${own.map(([alias, expr]) => `, ${expr} AS ${alias}`).join('')}
      FROM events
      WHERE ${inVisitsOnDays(q, params, utc)} AND (${where})
      GROUP BY visit_id, visitor_id
    ) AS e
    INNER JOIN (${scopedVisits(q, params, utc)}) AS v ON e.visit_id = v.visit_id AND e.visitor_id = v.visitor_id`
}

/**
 * Events for which `where` holds, each with what it counts in (for goals): `in_visits`, it
 * belongs to a visit of the question (visitor_id, day, local_day of that visit);
 * `counted`, it is one of the events the question counts (as `eventsInScope` in query.ts picks
 * them: in the range, of a visit the filters keep whenever it started, or without a visit
 * matching them itself). One read of the events and one join, with the visits the filters keep
 * on the days around the range: a visit that started before the range keeps its events in it counted.
 * `utc_day`: the event's UTC day, its visit's. `utc`: only those UTC days (the events of a day
 * belong to visits of that day). `visitless` false: those days hold no event without a visit
 * (KnownDay), and nothing is asked of one, so its columns (its own source, its properties) are
 * not read: the goals' read of today under `source==Google;event==Signup` at a hundred million
 * events, alone, 101-114 ms with that part against 38-43 without. `also`: a condition on the
 * columns (their aliases) every row read must meet besides, for events that tell their visits
 * (eventsTellVisits): a read folded with its neighbours keeps so the rows of some question
 * (together.ts).
 */
export function eventsInAndOutOfVisits(q: StatsQuestion, params: Params, columns: Record<string, string>, where: string, utc?: string[], visitless = true, also?: string): string {
  const own = Object.entries(columns)
  const read = utc ?? daysOf(q)
  const inRange = (c: string) => `${c} >= fromUnixTimestamp64Milli({from:Int64}) AND ${c} < fromUnixTimestamp64Milli({to:Int64})`
  const events = (found = '') => `FROM events
      ${found ? 'PREWHERE' : 'WHERE'} site = {site:String} AND toDate(ts) IN ${params.add('Array(Date)', read)}${carriedFiltersSql(q, params)} AND (${where})${found}`
  if (eventsTellVisits(q, read)) {
    // every event read is in the range, and one with a visit is in a visit of the question (under
    // a filter on what a visit holds or its first event gives, those read are: foundFiltersSql),
    // on its own UTC and local day: the same rows without the join, which held every visit of the
    // days (goals asked live over today at ten million events: 52 ms with it)
    const found = foundFiltersSql(q, params, read)
    const counted = visitless ? `visit_id != 0 OR (visit_id = 0 AND ${ownVisitSql(q, params)})` : 'visit_id != 0'
    const kept = found && (visitless ? ` AND (visit_id = 0 OR (visit_id != 0${found}))` : ` AND visit_id != 0${found}`)
    return `SELECT visitor_id, toDate(ts) AS day, day AS local_day, ts, day AS utc_day, visit_id != 0 AS in_visits,
        ${counted} AS counted ${own.map(([alias, expr]) => `, ${expr} AS ${alias}`).join('')}
      ${events(`${kept}${also ? ` AND ${also}` : ''}`)}`
  }
  if (also) throw new Error('a condition on the columns (`also`) is for events that tell their visits (eventsTellVisits)')
  return `SELECT e.visitor_id AS visitor_id, v.day AS day, v.local_day AS local_day, e.ts AS ts, toDate(e.ts) AS utc_day,
      v.visit_id != 0 AND ${inRange('v.start')} AS in_visits,
      ${inRange('e.ts')} AND (v.visit_id != 0 OR e.alone) AS counted
      ${own.map(([alias]) => `, e.${alias} AS ${alias}`).join('')}
    FROM
    (
      SELECT visit_id, visitor_id, ts, ${visitless ? `visit_id = 0 AND ${ownVisitSql(q, params)}` : '0'} AS alone ${own.map(([alias, expr]) => `, ${expr} AS ${alias}`).join('')}
      ${events()}
    ) AS e
    LEFT JOIN
    (
      SELECT visit_id, day, start, toDate(start, ${params.add('String', q.timezone)}) AS local_day FROM ${scopedVisitsSql(q, params, false, utc)}
    ) AS v ON e.visit_id = v.visit_id`
}

/** A percentage with one decimal. */
export const percent = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0)
