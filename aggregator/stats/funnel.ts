import type { ClickHouseClient } from '@clickhouse/client'
import { Params } from './filters.ts'
import { goalCondition, goalLabel, GoalMatchError, parseGoalMatch, type GoalMatch } from './goal-match.ts'
import { baseParams, type StatsQuestion } from './query.ts'
import { eventsOfVisits, percent } from './visit-events.ts'
import { withheldReason } from './threshold.ts'

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
 * those with a visit that reached it, summed over days like every visitor count.
 *
 * k: a step of 1..k-1 visitors is withheld, and so is every later step (they can only be
 * smaller); when step 1 is under k, the whole funnel is. A step nobody reached shows 0: no
 * visitor stands behind it.
 */
export async function funnel(client: ClickHouseClient, q: StatsQuestion, steps: GoalMatch[], k: number): Promise<{ steps: FunnelStep[]; withheld?: string }> {
  checkStepCount(steps.length)
  const params = new Params()
  const conds = steps.map((s) => goalCondition(s, params))
  // bit i of `mask` is set when the event matches step i + 1
  const mask = conds.map((c, i) => `toUInt16(${c}) * ${2 ** i}`).join(' + ')
  const events = eventsOfVisits(q, params, { mask }, conds.join(' OR '))
  const sql = `SELECT ${steps.map((_, i) => `sum(s${i}) AS s${i}`).join(', ')}
    FROM
    (
      SELECT ${steps.map((_, i) => `uniqExactIf(visitor_id, level >= ${i + 1}) AS s${i}`).join(', ')}
      FROM
      (
        SELECT visitor_id, day, local_day,
          arrayFold((level, e) -> level + bitTest(e.2, level), arraySort(groupArray((ts, mask))), toUInt64(0)) AS level
        FROM (${events})
        GROUP BY visitor_id, day, local_day, visit_start
      )
      GROUP BY day, local_day
    )`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const [row = {}] = await rs.json<Record<string, number>>()
  const counts = steps.map((_, i) => Number(row[`s${i}`] ?? 0))

  const out: FunnelStep[] = []
  let hidden = false
  for (const [i, step] of steps.entries()) {
    const label = goalLabel(step)
    // step 1 is the funnel's population: under k (even 0) it withholds all, like the aggregate
    hidden ||= i === 0 ? counts[0] < k : counts[i] > 0 && counts[i] < k
    if (hidden) {
      out.push({ label, visitors: null, conversion_rate: null, dropoff: null, dropoff_rate: null, withheld: withheldReason(k) })
      continue
    }
    const before = i === 0 ? counts[0] : counts[i - 1]
    out.push({
      label,
      visitors: counts[i],
      conversion_rate: percent(counts[i], counts[0]),
      dropoff: before - counts[i],
      dropoff_rate: percent(before - counts[i], before),
    })
  }
  return counts[0] < k ? { steps: out, withheld: withheldReason(k) } : { steps: out }
}
