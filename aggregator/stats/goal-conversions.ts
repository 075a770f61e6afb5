import type { ClickHouseClient } from '@clickhouse/client'
import { apart, apartFromEach, APART, cellOf, keptLeads, minGroup, withheldReason, type KeptRows } from './disclosure.ts'
import { Params, type Filter } from './filters.ts'
import { goalCondition, goalLabel, type GoalMatch } from './goal-match.ts'
import { addSums, metricValue, ZERO, type Sums } from './metrics.ts'
import type { Range } from './period.ts'
import { baseParams, dayByDay, eventFilterSql, eventsTellVisits, inOneLook, keptDayRows, lookedDays, NETWORK, networkCount, querySums, rangeDays, rollupAnswers, rollupHeldDays, sumsByIndex, utcDays, type StatsQuestion, type SumsRow } from './query.ts'
import { anyQuestion, askConditions, askedTogether, flagName, foldFilters, readApart, withoutFilters } from './together.ts'
import { PROPERTIES } from './properties.ts'
import { headcount, publishable, questionOf, shown, spanOf, type Scope } from './service.ts'
import { eventsInAndOutOfVisits, percent } from './visit-events.ts'

export type GoalResult = (
  | { id: string; goal: string; visitors: number; events: number; conversion_rate: number }
  | { id: string; goal: string; visitors: null; events: null; conversion_rate: null; withheld: string }
) & RevenueResult

/** A revenue goal's revenue, in its currency (null when withheld or none); other goals have none of these fields. */
type RevenueResult = { currency?: string; total_revenue?: number | null; average_revenue?: number | null }

const currencyOf = (g: GoalMatch) => (g.kind === 'event' && g.currency ? g.currency : null)

/** The revenue fields of a goal's result, from its published sums (null: withheld). */
function revenueResult(g: GoalMatch, value: Sums | null): RevenueResult {
  const currency = currencyOf(g)
  if (!currency) return {}
  return { currency, total_revenue: value && metricValue(value, 'total_revenue'), average_revenue: value && metricValue(value, 'average_revenue') }
}

export interface GoalConversions {
  results: GoalResult[]
  /** Every visitor of the range the filters other than goal and event keep: the rates' denominator. */
  visitors: number | null
  withheld?: string
}

/**
 * Conversions of each goal in the visits of a question: `visitors` who completed it in at
 * least one visit (distinct per day, summed over days, like every visitor count), `events`
 * that completed it (matching pageviews, or matching custom events, in the range, counted as a
 * breakdown counts a page's pageviews: see eventsInAndOutOfVisits), and `conversion_rate`,
 * the converting visitors in percent of all visitors of the range that the filters other than
 * `goal` and `event` keep (one decimal).
 *
 * Each goal is a row of the total (disclosure.ts): shown when it passes R1, R4 (at least k
 * visitors did not convert) and R3 against the same goal without each filter, else withheld
 * exactly like a goal nobody reached.
 *
 * A revenue goal also has `currency`, `total_revenue` and `average_revenue` (per revenue event):
 * the amounts its events carried in its currency, never converted, shown only when at least k
 * visitors from kn networks paid them (measures.ts).
 */
export async function goalConversions(
  client: ClickHouseClient,
  s: Scope,
  range: Range,
  goals: (GoalMatch & { id: string })[],
  /** Whether goals a breakdown row counts are answered by it (breakdownRow): by default when unfiltered, where the rollup holds those rows. */
  options: { breakdownRows?: boolean } = {},
): Promise<GoalConversions> {
  const reason = withheldReason(s.limits.k)
  const withheld = (g: GoalMatch & { id: string }): GoalResult => ({ id: g.id, goal: goalLabel(g), visitors: null, events: null, conversion_rate: null, withheld: reason, ...revenueResult(g, null) })
  // rates are out of every visitor the other filters keep: filtering by a custom event or a goal
  // picks the converting visits, it does not shrink what they convert out of
  const base: Scope = { ...s, filters: s.filters.filter((f) => f.name !== 'goal' && f.name !== 'event') }
  // their visitors alone are read (a headcount), as the k rules compare them
  const whole = headcount(client, base, range)
  // the goals' own numbers are asked at once, beside the checks (an answer withheld drops them)
  const partsOf = (scope: Scope) => {
    const q = questionOf(scope, range)
    const byRow = goals.map((g) => {
      const row = breakdownRow(g, scope.filters)
      // by default where the rollup holds the breakdown: unfiltered, or under one value of a cube filter
      const use = options.breakdownRows ?? (scope.filters.length === 0 || (row !== null && rollupAnswers({ ...q, property: PROPERTIES[row.dim] })))
      return use ? row : null
    })
    return { q, byRow }
  }
  const countFor = (scope: Scope) => {
    const { q, byRow } = partsOf(scope)
    // one look at the days for every part (countGoals splits them between the rollup and goalSql)
    const counted = inOneLook(() => countGoals(client, q, goals, byRow))
    counted.catch(() => {})
    return counted
  }
  const counted = countFor(s)
  // R3 goal by goal: each goal against the same goal without each filter (a goal's visitors under
  // `country==US` within 1..k-1 of its visitors without it would tell the others who reached it);
  // a goal filter picks goals, checked on the total only, as a breakdown's own property. A
  // neighbour the days kept already set k visitors apart at every goal R1 lets through is not read
  // (keptLeads in disclosure.ts): waited for when the kept days' goals are so, checked once the
  // goals are counted.
  const withouts = goals.length === 0 ? [] : s.filters.filter((f) => f.name !== 'goal').map((f) => ({ scope: { ...s, filters: s.filters.filter((x) => x !== f) } }))
  const margins = await inOneLook(() => {
    const mine = keptGoals(client, partsOf(s), goals)
    return Promise.all(withouts.map(async (w) => keptLeads(await mine, await keptGoals(client, partsOf(w.scope), goals), s.limits)))
  })
  const early = withouts.map((w, i) => (margins[i]?.likely ? null : countFor(w.scope)))
  const neighbours = withouts.map(async (w, i) => {
    if (early[i]) return early[i]
    const goalRows = (await counted).map((x, j) => ({ key: String(j), visitors: x.visitors }))
    return margins[i]!.settles(goalRows) ? goals.map((): Sums => ({ ...ZERO, visitors: APART })) : countFor(w.scope)
  })
  neighbours.forEach((p) => p.catch(() => {}))
  const scoped = base.filters.length === s.filters.length ? null : headcount(client, s, range)
  const [total, open, scopedOpen] = await Promise.all([whole, publishable(client, base, range, whole, true), scoped ? publishable(client, s, range, scoped, true) : true])
  if (!open || !scopedOpen) {
    return { results: goals.map(withheld), visitors: null, withheld: reason }
  }
  const span = spanOf(range)
  const visitors = shown(base, cellOf(base.filters, span), { ...ZERO, ...total }).visitors
  if (goals.length === 0) return { results: [], visitors }

  const [sumsOf, ...without] = await Promise.all([counted, ...neighbours])
  return {
    visitors,
    results: goals.map((g, i): GoalResult => {
      const sums = sumsOf[i]
      if (!minGroup(sums, s.limits) || !apart(total.visitors, sums.visitors, s.limits) || !apartFromEach(without.map((n) => n[i].visitors), sums.visitors, s.limits)) return withheld(g)
      const value = shown(s, cellOf(s.filters, span, { name: 'goal', op: '==', values: [goalLabel(g)] }), sums)
      return { id: g.id, goal: goalLabel(g), visitors: value.visitors, events: value.events, conversion_rate: percent(value.visitors, visitors), ...revenueResult(g, value) }
    }),
  }
}

/**
 * What countGoals gives of a question without reading a live day, goal by goal (keyed by the goal's
 * index), as keptSums in query.ts does for sums: where the rollup answers the goals' rows, the days
 * it holds (its rows, and goalSql's for the goals it does not count, kept or read); else the days
 * goalSql's rows are kept for. None when the goals are split between the two ways.
 */
async function keptGoals(client: ClickHouseClient, { q, byRow }: { q: StatsQuestion; byRow: ByRow[] }, goals: GoalMatch[]): Promise<KeptRows> {
  const dims = [...new Set(byRow.flatMap((r) => (r ? [r.dim] : [])))]
  const { utcFirst, utcLast } = rangeDays(q.range, q.timezone)
  const utc = utcDays(utcFirst, utcLast)
  const known = await lookedDays(client)
  const read = utc.filter((d) => known.has(d))
  if (dims.length === 0) {
    return keptDayRows(client, goalQuestion(goals, q), read, known)
  }
  const held = await Promise.all(dims.map((dim) => rollupHeldDays(client, { ...q, property: PROPERTIES[dim] })))
  const same = held.every((days) => days.size === held[0].size && [...days].every((d) => held[0].has(d)))
  if (!same || held[0].size === 0) return { days: [], unread: read, rows: [] }
  const rollup = held[0]
  const own = goals.filter((_, i) => byRow[i] === null)
  const [rows, past] = await Promise.all([rowSums(client, q, byRow, 'rollup'), goalSql(client, q, own, (d) => rollup.has(d))])
  let asked = 0
  return { days: [...rollup].sort(), unread: read.filter((d) => !rollup.has(d)), rows: goals.map((_, i) => ({ key: String(i), visitors: (byRow[i] === null ? past[asked++] : rows[i]!).visitors })) }
}

/** What dayByDay keeps goalSql's rows under. */
const goalQuestion = (goals: GoalMatch[], q: StatsQuestion) => JSON.stringify({ goals, q })

/**
 * The breakdown row that counts a goal, if one does: a page without `*` is its row of the page
 * breakdown, a custom event without a prop or a currency its row of the event breakdown. The
 * row's visitors are those of the visits holding the page or event, as a goal's, and its
 * pageviews or events the goal's events; so such goals are answered as the breakdowns are,
 * from the daily rollup for the days it holds (the same rows the page and event panels read):
 * at ten million events, 0.1–0.3 s against 0.8 s. Under filters the breakdown is worked out
 * from visits and events, which was slower than goalSql (0.9 against 0.6 s under
 * `country==US`), so by default only goals the rollup holds take this path (unfiltered, or
 * under one value of a cube filter: rollupSlice); both give the same
 * numbers (test/aggregator/stats/both-ways.test.ts). Never under a filter on that property:
 * there it would pick the rows instead of the visits.
 */
function breakdownRow(g: GoalMatch, filters: Filter[]): { dim: 'page' | 'event'; key: string } | null {
  const row = g.kind === 'page' ? (g.pattern.includes('*') ? null : { dim: 'page' as const, key: g.pattern }) : g.prop || g.currency ? null : { dim: 'event' as const, key: g.name }
  return row && !filters.some((f) => f.name === row.dim) ? row : null
}

type ByRow = { dim: 'page' | 'event'; key: string } | null

/**
 * Every goal's sums, in order: those a breakdown row counts (`byRow`) from that row, the others
 * from goalSql. Where the rollup answers the rows, it does so for the days it holds only: the days
 * read live (today) are counted by goalSql for every goal, one read of today's events, where the
 * rows read today's visits once for the page breakdown and once for the event breakdown (at ten
 * million events, goals asked live took 96–121 ms through the rows, 49–60 ms so). Visitors are
 * distinct per UTC day and added up over days, so the two parts add up.
 */
async function countGoals(client: ClickHouseClient, q: StatsQuestion, goals: GoalMatch[], byRow: ByRow[]): Promise<Sums[]> {
  const dims = [...new Set(byRow.flatMap((r) => (r ? [r.dim] : [])))]
  const held = await Promise.all(dims.map((dim) => rollupHeldDays(client, { ...q, property: PROPERTIES[dim] })))
  const same = held.every((days) => days.size === held[0].size && [...days].every((d) => held[0].has(d)))
  if (dims.length === 0 || !same) {
    const [rows, own] = await Promise.all([rowSums(client, q, byRow, 'all'), goalSql(client, q, goals.filter((_, i) => byRow[i] === null))])
    let asked = 0
    return goals.map((_, i): Sums => rows[i] ?? own[asked++])
  }
  const rollup = held[0]
  const [rows, past, live] = await Promise.all([
    rowSums(client, q, byRow, 'rollup'),
    goalSql(client, q, goals.filter((_, i) => byRow[i] === null), (d) => rollup.has(d)),
    goalSql(client, q, goals, (d) => !rollup.has(d)),
  ])
  let asked = 0
  return goals.map((_, i): Sums => addSums(byRow[i] === null ? past[asked++] : rows[i]!, live[i]))
}

/** The sums of the goals counted by breakdown rows (breakdownRow), by goal (with `rollup`, over the days the rollup answers only); undefined for the others. */
async function rowSums(client: ClickHouseClient, q: StatsQuestion, byRow: ByRow[], part: 'all' | 'rollup'): Promise<(Sums | undefined)[]> {
  const dims = [...new Set(byRow.flatMap((r) => (r ? [r.dim] : [])))]
  const answers = await Promise.all(
    dims.map(async (dim) => {
      const prop = PROPERTIES[dim]
      const keys = [...new Set(byRow.flatMap((r) => (r?.dim === dim ? [r.key] : [])))]
      // where the rollup holds it (unfiltered, a cube filter), the whole breakdown: the rollup's rows, kept and shared with its panel; else only the goals' rows
      const own: Filter[] = q.filters.length && !rollupAnswers({ ...q, property: prop }) ? [{ name: dim, prop, op: '==', values: keys, exact: true }] : []
      const rows = await querySums(client, { ...q, property: prop, filters: [...q.filters, ...own] }, part)
      return [dim, new Map(rows.map((r) => [r.key, r]))] as const
    }),
  )
  const found = new Map(answers)
  return byRow.map((r) => {
    if (!r) return undefined
    const sums = found.get(r.dim)!.get(r.key) ?? ZERO
    // a page goal's events are its pageviews; an event's row counts them as events
    return { ...ZERO, visitors: sums.visitors, networks: sums.networks, events: r.dim === 'page' ? sums.pageviews : sums.events }
  })
}

/**
 * The sums of goals no breakdown row counts (a pattern, a prop, a revenue goal), in order:
 * visitors (and revenue) from the visits of the question holding a matching event, events
 * from the events it counts, as a breakdown counts a page's pageviews (eventsInAndOutOfVisits).
 */
async function goalSql(client: ClickHouseClient, q: StatsQuestion, goals: GoalMatch[], onDay: (utc: string) => boolean = () => true): Promise<Sums[]> {
  if (goals.length === 0) return []
  // the goals' sums per UTC day (a row per goal and day, key = the goal's index): each day's kept (dayByDay);
  // read with the neighbours asking the same days in this turn (together.ts)
  const perDay = (utc: string[], visitless: boolean): Promise<SumsRow[]> =>
    askedTogether(client, JSON.stringify(['goals', goals, withoutFilters(q), utc, visitless]), q, (qs) => goalDays(client, qs, goals, utc, visitless))
  const { utcFirst, utcLast } = rangeDays(q.range, q.timezone)
  const rows = await dayByDay(client, goalQuestion(goals, q), utcDays(utcFirst, utcLast).filter(onDay), perDay)
  return sumsByIndex(rows, goals.length)
}

/**
 * goalSql's rows of the UTC days `utc` for each question of `qs`, which differ only in their
 * filters: one read of the days' events (foldFilters) where every question's events tell its
 * visits (eventsTellVisits), each question's rows those of the events its flags keep; else each
 * question read alone.
 */
async function goalDays(client: ClickHouseClient, qs: StatsQuestion[], goals: GoalMatch[], utc: string[], visitless: boolean): Promise<SumsRow[][]> {
  if (qs.length > 1 && !qs.every((x) => eventsTellVisits(x, utc))) return readApart(qs, (one) => goalDays(client, one, goals, utc, visitless))
  const fold = foldFilters(qs)
  const q = fold.q
  const params = new Params()
  const flags = Object.fromEntries(goals.map((g, i) => [`g${i}`, goalCondition(g, params)]))
  const marks = Object.fromEntries(fold.flags.map((f, j) => [flagName(j), eventFilterSql(q, params, f, utc, visitless)]))
  // revenue goals (issue 14): their events' amounts in their own currency, and who paid them
  const paying = goals.flatMap((g, i) => (currencyOf(g) ? [{ i, paid: `g${i} AND rc = ${params.add('String', currencyOf(g)!)}` }] : []))
  const revenueColumns: Record<string, string> = paying.length ? { ra: 'revenue_amount', rc: 'revenue_currency' } : {}
  const anyGoal = Object.values(flags).join(' OR ')
  const nets = networkCount(q, params)
  const events = eventsInAndOutOfVisits(q, params, { ...flags, net: NETWORK, ...revenueColumns, ...marks }, anyGoal, utc, visitless, anyQuestion(fold) ?? undefined)
  // each question's sums (a, its index) of each goal (i): `_a_i`
  const asks = askConditions(fold)
  const each = (f: (a: string, i: number, ask: string) => string) => asks.flatMap((ask, a) => goals.map((_, i) => f(`${a}_${i}`, i, ask))).join(', ')
  const paid = (f: (a: string, paid: string, ask: string) => string) => asks.flatMap((ask, a) => paying.map(({ i, paid }) => `, ${f(`${a}_${i}`, paid, ask)}`)).join('')
  const sql = `SELECT toString(utc_day) AS day, ${each((x) => `sum(v${x}) AS v${x}, sum(n${x}) AS n${x}, sum(e${x}) AS e${x}`)}
      ${paid((x) => `sum(r${x}) AS r${x}, sum(re${x}) AS re${x}, sum(rv${x}) AS rv${x}, sum(rn${x}) AS rn${x}`)}
    FROM
    (
      SELECT utc_day, ${each((x, i, ask) => `uniqExactIf(visitor_id, g${i} AND in_visits AND ${ask}) AS v${x}, ${nets.countIf('net', `g${i} AND in_visits AND ${ask}`)} AS n${x}, countIf(g${i} AND counted AND ${ask}) AS e${x}`)}
        ${paid((x, p, ask) => `sumIf(ra, ${p} AND in_visits AND ${ask}) AS r${x}, countIf(${p} AND in_visits AND ${ask}) AS re${x}, uniqExactIf(visitor_id, ${p} AND in_visits AND ${ask}) AS rv${x}, ${nets.countIf('net', `${p} AND in_visits AND ${ask}`)} AS rn${x}`)}
      FROM (${events})
      GROUP BY utc_day, day, local_day
    )
    GROUP BY utc_day`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const rows = await rs.json<Record<string, number | string>>()
  return asks.map((_, a) =>
    rows.flatMap((row) =>
      goals.map((_, i): SumsRow => {
        const n = (column: string) => Number(row[`${column}${a}_${i}`] ?? 0)
        return {
          ...ZERO, key: String(i), bucket: '', day: String(row.day), visitors: n('v'), networks: n('n'), events: n('e'),
          revenue: n('r'), revenue_events: n('re'), revenue_visitors: n('rv'), revenue_networks: n('rn'),
        }
      }),
    ),
  )
}
