import type { ClickHouseClient } from '@clickhouse/client'
import { Params } from './filters.ts'
import { goalCondition, goalLabel, GoalMatchError, parseGoalMatch, type GoalMatch } from './goal-match.ts'
import { apart, apartFromEach, cellOf, minGroup, withheldReason } from './disclosure.ts'
import { ZERO, type Sums } from './metrics.ts'
import type { Range } from './period.ts'
import { baseParams, dayByDay, eventFilterSql, eventsTellVisits, NETWORK, networkCount, rangeDays, sumsByIndex, utcDays, type StatsQuestion, type SumsRow } from './query.ts'
import { anyQuestion, askConditions, askedTogether, flagName, foldFilters, readApart, withoutFilters } from './together.ts'
import { headcount, publishable, questionOf, shown, spanOf, type Scope } from './service.ts'
import { percent, visitsHolding } from './visit-events.ts'

export const MIN_STEPS = 2
export const MAX_STEPS = 8

export type FunnelStep =
  | { label: string; visitors: number; conversion_rate: number; dropoff: number; dropoff_rate: number }
  | { label: string; visitors: null; conversion_rate: null; dropoff: null; dropoff_rate: null; withheld: string }

/** `steps=[{"page":"/pricing"},{"event":"Signup","prop":{"key":"plan","value":"pro"}}]`; throws GoalMatchError. */
export function parseSteps(raw: string): GoalMatch[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw new GoalMatchError('steps must be a JSON array such as [{"page":"/pricing"},{"event":"Signup"}]')
  }
  if (!Array.isArray(parsed)) throw new GoalMatchError('steps must be a JSON array such as [{"page":"/pricing"},{"event":"Signup"}]')
  checkStepCount(parsed.length)
  return parsed.map((s, i) => {
    try {
      return parseGoalMatch(s)
    } catch (err) {
      if (err instanceof GoalMatchError) throw new GoalMatchError(`step ${i + 1}: ${err.message}`)
      throw err
    }
  })
}

export function checkStepCount(n: number): void {
  if (n < MIN_STEPS || n > MAX_STEPS) throw new GoalMatchError(`a funnel has ${MIN_STEPS} to ${MAX_STEPS} steps, not ${n}`)
}

/**
 * A funnel within visits: a visit reaches step i when it completed steps 1..i in this order
 * (other events may come in between). Per visit, its matching events are sorted by time and
 * folded: the level rises by one each time an event matches the next step, so one event
 * completes one step at most. (ClickHouse's `windowFunnel` was the first choice, but its
 * window is not needed inside a visit, and with `strict_increase` an event matching both
 * step 1 and step 2 restarts the chain instead of completing it.) `visitors` at a step are
 * the distinct visitors with a visit that reached it, per day, summed over days. The days are
 * worked out one by one and a built day's rows kept (dayByDay in query.ts): the same funnel
 * asked again reads only the days not built (today).
 *
 * R7 `funnel-step` (disclosure.ts): step 1 is a row of the question's total (R4), each later
 * step at least k visitors below the one before it and k visitors from kn networks (R1); after
 * a withheld step every later one is withheld, so a drop-off is only shown between two shown steps.
 */
export async function funnel(client: ClickHouseClient, s: Scope, range: Range, steps: GoalMatch[], windowMinutes: number | null = null): Promise<{ steps: FunnelStep[]; withheld?: string }> {
  checkStepCount(steps.length)
  const whole = headcount(client, s, range)
  // R3 step by step: each step against the same step without each filter (a step's visitors under
  // `country==US` within 1..k-1 of its visitors without it would tell the others who reached it)
  const [counts, total, open, ...neighbours] = await Promise.all([
    stepCounts(client, s, range, steps, windowMinutes),
    whole,
    publishable(client, s, range, whole, true),
    ...s.filters.map((f) => stepCounts(client, { ...s, filters: s.filters.filter((x) => x !== f) }, range, steps, windowMinutes)),
  ])
  const reason = withheldReason(s.limits.k)
  const span = spanOf(range)
  const out: FunnelStep[] = []
  let hidden = !open
  for (const [i, step] of steps.entries()) {
    const label = goalLabel(step)
    const before = i === 0 ? total : counts[i - 1]
    hidden ||= !minGroup(counts[i], s.limits) || !apart(before.visitors, counts[i].visitors, s.limits) || !apartFromEach(neighbours.map((n) => n[i].visitors), counts[i].visitors, s.limits)
    if (hidden) {
      out.push({ label, visitors: null, conversion_rate: null, dropoff: null, dropoff_rate: null, withheld: reason })
      continue
    }
    // the cell of a step: the visits that reached it
    const visitors = (j: number) => shown(s, cellOf(s.filters, span, { name: 'funnel', op: '==', values: [...steps.slice(0, j + 1).map(goalLabel), ...windowCell(windowMinutes)] }), counts[j]).visitors
    const now = visitors(i)
    const first = i === 0 ? now : visitors(0)
    const prev = i === 0 ? now : visitors(i - 1)
    out.push({ label, visitors: now, conversion_rate: percent(now, first), dropoff: prev - now, dropoff_rate: percent(prev - now, prev) })
  }
  return out[0] && out[0].visitors === null ? { steps: out, withheld: reason } : { steps: out }
}

/** The visitors and networks of a question that reached each step (one Sums a step, in order). */
async function stepCounts(client: ClickHouseClient, s: Scope, range: Range, steps: GoalMatch[], windowMinutes: number | null): Promise<Sums[]> {
  const q = questionOf(s, range)
  // the visitors and networks at each step, per day of the visits (a row per step and day: key = the step);
  // read with the neighbours asking the same days in this turn (together.ts)
  const perDay = (utc: string[]): Promise<SumsRow[]> =>
    askedTogether(client, JSON.stringify(['funnel', steps, windowMinutes, withoutFilters(q), utc]), q, (qs) => stepDays(client, qs, steps, windowMinutes, utc))
  const { utcFirst, utcLast } = rangeDays(range, s.timezone)
  const question = JSON.stringify({ funnel: steps, windowMinutes, site: s.site, timezone: s.timezone, range: [range.from, range.to], filters: s.filters, networksUpTo: q.networksUpTo })
  return sumsByIndex(await dayByDay(client, question, utcDays(utcFirst, utcLast), perDay), steps.length)
}

/**
 * stepCounts' rows of the UTC days `utc` for each question of `qs`, which differ only in their
 * filters: one read of the days' events (foldFilters) where every question's events tell its
 * visits (eventsTellVisits), each visit flagged by the filters the questions do not share, each
 * question's rows those of the visits its flags keep; else each question read alone.
 */
async function stepDays(client: ClickHouseClient, qs: StatsQuestion[], steps: GoalMatch[], windowMinutes: number | null, utc: string[]): Promise<SumsRow[][]> {
  const fold = foldFilters(qs)
  // Apart, too, when one question reads every event the fold would (its flags are none: `any`
  // null, a question under one filter and its neighbour without it): the other reads only its own
  // events, beside it on the other core. At ten million events, today live, the funnel under
  // `country==US` took 46-48 ms as one read against 29-31 and 20 ms apart (the SQL alone); under
  // two filters the fold spares two reads of three (`country==US;source==Google` 60 -> 64 ms,
  // `page==/pricing;event==Signup` 80 -> 73, `page!=/pricing;event==Signup` 94 -> 88, medians of
  // three rounds of five, alternating).
  if (qs.length > 1 && (anyQuestion(fold) === null || !qs.every((x) => eventsTellVisits(x, utc)))) return readApart(qs, (one) => stepDays(client, one, steps, windowMinutes, utc))
  const q = fold.q
  const params = new Params()
  const conds = steps.map((c) => goalCondition(c, params))
  // bit i of `mask` is set when the event matches step i + 1
  const mask = conds.map((c, i) => `toUInt16(${c}) * ${2 ** i}`).join(' + ')
  // each event as one number, its time in ms above its mask (16 bits; MAX_STEPS is 8), sorted by time and then mask
  // as (ts, mask) pairs would be: today's funnel at ten million events took about 15 % less than with pairs (A/B, medians of 9)
  const level = visitLevel(`arraySort(groupArray(toUInt64(toUnixTimestamp64Milli(ts)) * 65536 + (${mask})))`, windowMinutes, params)
  // a flag is the visit's: every event of it gives the same (its own value carried, or its visit's found among the
  // events); the events of no question's visits are left out as they are read, each flag named there (`x0`…) for its visit's
  const defs = fold.flags.map((f) => eventFilterSql(q, params, f, utc, false))
  const any = anyQuestion(fold, defs)
  // (each flag as the visit's: `v0`…)
  const visitFlag = (j: number) => `v${j}`
  const marks = Object.fromEntries(defs.map((def, j) => [visitFlag(j), `max(toUInt8(${any ? flagName(j) : def}))`]))
  const visits = visitsHolding(q, params, { net: `any(${NETWORK})`, level, ...marks }, any ? `(${conds.join(' OR ')}) AND ${any}` : conds.join(' OR '), utc)
  const nets = networkCount(q, params)
  const asks = askConditions(fold, visitFlag)
  const each = asks.flatMap((ask, a) => steps.map((_, i) => `uniqExactIf(visitor_id, level >= ${i + 1} AND ${ask}) AS s${a}_${i}, ${nets.countIf('net', `level >= ${i + 1} AND ${ask}`)} AS n${a}_${i}`))
  const sql = `SELECT toString(day) AS day, ${each.join(', ')}
    FROM (${visits})
    GROUP BY day, local_day`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const rows = await rs.json<Record<string, number | string>>()
  return asks.map((_, a) =>
    rows.flatMap((row) => steps.map((_, i): SumsRow => ({ ...ZERO, key: String(i), bucket: '', day: String(row.day), visitors: Number(row[`s${a}_${i}`]), networks: Number(row[`n${a}_${i}`]) }))),
  )
}

// ---- The conversion window of saved funnels (aggregator/funnel-store.ts); kept apart from the rules above.

/**
 * SQL of a visit's level (how many steps it completed in order) over `events`, its matching
 * events as a sorted array of numbers, each an event's time in ms times 65536 plus its mask (bit
 * i: it matches step i + 1; funnel above). Without a window, one fold from the first event:
 * each event completes the next step at most. With one, every event that completes step 1
 * starts a chain in which only events within `windowMinutes` of it count, and the visit's level
 * is the best of those chains (from a given start, taking each next step as early as possible
 * is best, so the best over all starts is exact).
 */
export function visitLevel(events: string, windowMinutes: number | null, params: Params): string {
  // level <= MAX_STEPS < 16: bitTest(e, level) reads the mask alone
  if (windowMinutes === null) return `arrayFold((level, e) -> level + bitTest(e, level), ${events}, toUInt64(0))`
  const windowMs = params.add('Int64', windowMinutes * 60_000)
  return `arrayMax(arrayMap(i -> if(bitTest(${events}[i], 0),
      arrayFold((level, e) -> level + (bitTest(e, level) AND toInt64(intDiv(e, 65536)) - toInt64(intDiv(${events}[i], 65536)) <= ${windowMs}), arraySlice(${events}, i), toUInt64(0)),
      toUInt64(0)), arrayEnumerate(${events})))`
}

/** A windowed funnel's steps are other sets than the same steps without it: their own cells for the noise. */
const windowCell = (windowMinutes: number | null) => (windowMinutes === null ? [] : [`(within ${windowMinutes} minutes)`])
