import type { ClickHouseClient } from '@clickhouse/client'
import { Params, type Filter } from './filters.ts'
import { goalCondition, goalLabel, GoalMatchError, parseGoalMatch, type GoalMatch } from './goal-match.ts'
import { apart, apartFromEach, APART, cellOf, minGroup, settledApart, withheldReason } from './disclosure.ts'
import { addSums, ZERO, type Sums } from './metrics.ts'
import type { Range } from './period.ts'
import { baseParams, dayByDay, eventFilterSql, eventsTellVisits, inOneLook, keptDayRows, lookedDays, NETWORK, networkCount, rangeDays, sumsByIndex, utcDays, type StatsQuestion, type SumsRow } from './query.ts'
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
  // one look at the days for the steps, their neighbours and what is kept of them (settledApart)
  return inOneLook(async () => {
    const whole = headcount(client, s, range)
    const known = await lookedDays(client)
    const { utcFirst, utcLast } = rangeDays(range, s.timezone)
    const utc = utcDays(utcFirst, utcLast)
    // the days whose steps are kept already (no read), the same rows for the steps and for R3 below
    const mine = keptDayRows(client, stepQuestion(s, range, steps, windowMinutes), utc, known)
    const rest = utc.filter((d) => !mine.days.includes(d))
    // R3 step by step: each step against the same step without each filter (a step's visitors under
    // `country==US` within 1..k-1 of its visitors without it would tell the others who reached it).
    // A neighbour is not read where it is settled apart (settledApart) at every step that may be
    // shown: one settled at every step at once, one settled but at steps the kept days give fewer than
    // k visitors (R1 is likely to withhold them, and every step after) once the steps are counted;
    // with no day kept, every neighbour is read beside the steps (and with them: together.ts).
    const withouts = s.filters.map((f): Scope => ({ ...s, filters: s.filters.filter((x) => x !== f) }))
    const keptSteps = sumsByIndex(mine.rows, steps.length)
    const settled = withouts.map((w, at) => {
      const theirs = keptDayRows(client, stepQuestion(w, range, steps, windowMinutes), mine.days, known)
      // a step the left-out filter holds at, or one no visit reaches under the filters kept: the same visitors
      const equal = steps.map((_, i) => steps.slice(0, i + 1).some((step) => stepMeets(step, s.filters[at], '==') || w.filters.some((g) => stepMeets(step, g, '!='))))
      return settledApart(keptSteps, theirs.days.length === mine.days.length ? sumsByIndex(theirs.rows, steps.length) : null, s.limits, equal)
    })
    const read = (w: Scope) => stepCounts(client, w, range, steps, windowMinutes, utc)
    const early = withouts.map((w, at) => (mine.days.length > 0 && settled[at].every((ok, i) => ok || keptSteps[i].visitors < s.limits.k) ? null : read(w)))
    early.forEach((p) => p?.catch(() => {}))
    const [counts, total, open] = await Promise.all([
      stepCounts(client, s, range, steps, windowMinutes, rest).then((live) => addByIndex(keptSteps, live)),
      whole,
      publishable(client, s, range, whole, true),
    ])
    // the steps R1, R4 and R7 leave to be shown (after a step withheld, every one is)
    let upTo = 0
    if (open) while (upTo < steps.length && minGroup(counts[upTo], s.limits) && apart((upTo === 0 ? total : counts[upTo - 1]).visitors, counts[upTo].visitors, s.limits)) upTo++
    const neighbours = await Promise.all(
      withouts.map((w, at) => early[at] ?? (settled[at].slice(0, upTo).every(Boolean) ? steps.map((): Sums => ({ ...ZERO, visitors: APART })) : read(w))),
    )
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
  })
}

/**
 * Whether every visit that completed `step` is one filter `f` keeps (`op` '==') or one it leaves out
 * ('!='), whatever else the visit holds: the step a pageview of one path, the filter on visits
 * viewing that path (`page==/pricing`, `page!=/pricing`), or a custom event and the filter on visits
 * sending it. Values with `*` are left aside (a pattern is not one path).
 */
function stepMeets(step: GoalMatch, f: Filter, op: '==' | '!='): boolean {
  if (f.op !== op || f.others || f.values.some((v) => v.includes('*'))) return false
  if (step.kind === 'page') return f.name === 'page' && !step.pattern.includes('*') && f.values.includes(step.pattern)
  return f.name === 'event' && f.values.includes(step.name)
}

const addByIndex = (a: Sums[], b: Sums[]): Sums[] => a.map((x, i) => addSums(x, b[i]))

/** What dayByDay keeps a funnel's steps under (a row per step and day). */
const stepQuestion = (s: Scope, range: Range, steps: GoalMatch[], windowMinutes: number | null) =>
  JSON.stringify({ funnel: steps, windowMinutes, site: s.site, timezone: s.timezone, range: [range.from, range.to], filters: s.filters, networksUpTo: questionOf(s, range).networksUpTo })

/** The visitors and networks of a question that reached each step over the UTC days `utc` (one Sums a step, in order). */
async function stepCounts(client: ClickHouseClient, s: Scope, range: Range, steps: GoalMatch[], windowMinutes: number | null, utc: string[]): Promise<Sums[]> {
  if (utc.length === 0) return steps.map(() => ({ ...ZERO }))
  const q = questionOf(s, range)
  // the visitors and networks at each step, per day of the visits (a row per step and day: key = the step);
  // read with the neighbours asking the same days in this turn (together.ts)
  const perDay = (days: string[]): Promise<SumsRow[]> =>
    askedTogether(client, JSON.stringify(['funnel', steps, windowMinutes, withoutFilters(q), days]), q, (qs) => stepDays(client, qs, steps, windowMinutes, days))
  return sumsByIndex(await dayByDay(client, stepQuestion(s, range, steps, windowMinutes), utc, perDay), steps.length)
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
