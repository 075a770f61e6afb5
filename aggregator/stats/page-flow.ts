import type { ClickHouseClient } from '@clickhouse/client'
import { apart, apartFromEach, APART, cellOf, keptLeads, minGroup, OTHER, OTHER_TRIES, otherAllowed, splitRows, withheldReason, type KeptRows, type Row } from './disclosure.ts'
import { Params } from './filters.ts'
import { ZERO, type Sums } from './metrics.ts'
import type { Range } from './period.ts'
import { baseParams, dayByDay, keptDayRows, NETWORK, networkCount, rangeDays, rollupDays, rollupSlice, scopedVisitRowsSql, sliceRows, utcDays, visitFilterSql, type Nets, type StatsQuestion, type SumsRow } from './query.ts'
import { anyQuestion, askConditions, askedTogether, flagName, foldFilters, withoutFilters, type Folded } from './together.ts'
import { headcount, ownPick, publishable, questionOf, shown, spanOf, type Scope } from './service.ts'

export const ENTRANCE = '(entrance)'
export const EXIT = '(exit)'

export interface FlowRow {
  page: string
  visitors: number
}

export interface PageFlow {
  page: string
  /** Visitors who viewed the page. */
  visitors: number | null
  previous: FlowRow[]
  next: FlowRow[]
  withheld?: string
}

type Direction = 'previous' | 'next'
const DIRECTIONS: Direction[] = ['previous', 'next']

/**
 * The pages viewed just before and just after `page` within the same visit, by visitors: each
 * visit holding the page, its pageviews in time order (the visit's `views`). A view that opens
 * the visit comes from `(entrance)`, one that ends it goes to `(exit)`. Unfiltered over whole
 * days, the days built are read from the daily rollup (dimension `flow`, built by the same SQL:
 * flowSql) and only the others (today) from the visits.
 *
 * The page is a row of the question's total and each list's pages rows of the page's
 * visitors (R1, R4 in disclosure.ts), each also against the same without each filter (R3); the
 * pages folded are counted again over their union as "(other)", which passes the same rules.
 *
 * A filter picking visits that viewed the page among others (`page==/pricing|/docs` for
 * `/pricing`) keeps every visit the flow reads: the lists are read without it, as unfiltered
 * (the days built from the rollup, not from each day's visits; today's visits without a
 * condition on their pages: the flow of `/pricing` under `page==/pricing` at ten million events,
 * live, 82-83 -> 69-70 ms). The question's total, its k rules and the cells are its own.
 */
export async function pageFlow(client: ClickHouseClient, s: Scope, range: Range, page: string, limit: number): Promise<PageFlow> {
  const own = ownPick(s, 'page')
  const picksPage = own !== null && own.values.includes(page)
  const here = flowOf(client, s, range, page)
  here.rows().catch(() => {})
  // R3 row by row: the flow without each filter (the page's visitors, each list's rows and its
  // "(other)" under `country==US` within 1..k-1 of theirs without it would tell the others), but a
  // filter picking the page, which the flow is read without anyway. A neighbour the days kept
  // already set k visitors apart at every row R1 lets through is not read (keptLeads in
  // disclosure.ts): waited for when the kept days' rows are so, checked once the rows are read.
  const neighbours = s.filters.filter((f) => !(picksPage && f === own)).map((f) => flowOf(client, { ...s, filters: s.filters.filter((x) => x !== f) }, range, page))
  const whole = headcount(client, s, range)
  const mine = keptFlowRows(client, here.q, page)
  const margins = await Promise.all(neighbours.map(async (n) => keptLeads(await mine, await keptFlowRows(client, n.q, page), s.limits)))
  const early = neighbours.map((n, i) => (margins[i]?.likely ? null : n.rows()))
  early.forEach((p) => p?.catch(() => {}))
  const [rows, total, open] = await Promise.all([here.rows(), whole, publishable(client, s, range, whole, true)])
  const flat = (rs: typeof rows) => rs.map((r) => ({ key: `${r.direction}${SEP}${r.key}`, visitors: r.sums.visitors }))
  const neighbourRows = await Promise.all(
    neighbours.map((n, i) => early[i] ?? (margins[i]!.settles(flat(rows)) ? rows.map((r) => ({ ...r, sums: { ...ZERO, visitors: APART } })) : n.rows())),
  )
  const viewedIn = (rs: typeof rows) => rs.find((r) => r.direction === 'page')?.sums ?? ZERO
  const viewed = viewedIn(rows)
  const nothing: PageFlow = { page, visitors: null, previous: [], next: [], withheld: withheldReason(s.limits.k) }
  if (!minGroup(viewed, s.limits) || !apart(total.visitors, viewed.visitors, s.limits) || !open) return nothing
  if (!apartFromEach(neighbourRows.map((rs) => viewedIn(rs).visitors), viewed.visitors, s.limits)) return nothing

  // each list: its rows (R1, R4 against the page's visitors, R3 against the same rows without each
  // filter), then "(other)" over the pages folded
  const lists = Object.fromEntries(
    DIRECTIONS.map((d) => {
      const byKey = neighbourRows.map((rs) => new Map(rs.filter((r) => r.direction === d).map((r) => [r.key, r.sums])))
      return [d, splitRows(rows.filter((r) => r.direction === d), viewed.visitors, s.limits, byKey)]
    }),
  ) as Record<Direction, { shown: Row[]; folded: Row[] }>
  const others: Partial<Record<Direction, Sums>> = {}
  // (a list with nothing shown and no "(other)" allowed is empty)
  const empty = new Set<Direction>()
  for (let tries = 0; ; tries++) {
    const pending = DIRECTIONS.filter((d) => lists[d].folded.length > 0 && !others[d] && !empty.has(d))
    if (pending.length === 0) break
    // as a breakdown's (service.ts): after OTHER_TRIES every row of the list is folded, so that no
    // row is shown beside folded ones without their "(other)"
    if (tries === OTHER_TRIES) {
      for (const d of pending) {
        lists[d].folded.push(...lists[d].shown)
        lists[d].shown = []
      }
    }
    const keys = { previous: lists.previous.folded.map((r) => r.key), next: lists.next.folded.map((r) => r.key) }
    const [union, ...unionWithout] = await Promise.all([here.union(keys), ...neighbours.map((n) => n.union(keys))])
    const sumsIn = (rs: typeof union, d: Direction) => rs.find((r) => r.direction === d)?.sums ?? ZERO
    for (const d of pending) {
      const other = sumsIn(union, d)
      if (otherAllowed(other, viewed.visitors, s.limits) && apartFromEach(unionWithout.map((rs) => sumsIn(rs, d).visitors), other.visitors, s.limits)) others[d] = other
      else if (lists[d].shown.length > 0) lists[d].folded.push(lists[d].shown.pop()!)
      else empty.add(d)
    }
  }
  const span = spanOf(range)
  const list = (d: Direction): FlowRow[] => {
    const other = others[d]
    const cells = [
      ...lists[d].shown.slice(0, limit).map((r) => ({ page: r.key, sums: r.sums, values: [r.key] })),
      ...(other ? [{ page: OTHER, sums: other, values: lists[d].shown.map((r) => `!${r.key}`) }] : []),
    ]
    return cells.map((c) => ({ page: c.page, visitors: shown(s, cellOf(s.filters, span, { name: `flow:${page}:${d}`, op: '==', values: c.values }), c.sums).visitors }))
  }
  return { page, visitors: shown(s, cellOf(s.filters, span, { name: 'page', op: '==', values: [page] }), viewed).visitors, previous: list('previous'), next: list('next') }
}

/**
 * The flow of `page` for a question: its rows (the page's visitors, each list's rows) and the
 * union of the keys given per direction (what "(other)" folds), from the visits.
 */
function flowOf(client: ClickHouseClient, s: Scope, range: Range, page: string) {
  const own = ownPick(s, 'page')
  const q = questionOf(own?.values.includes(page) ? { ...s, filters: s.filters.filter((f) => f !== own) } : s, range)
  const params = new Params()
  const at = params.add('String', page)
  const visits = flowVisits(q, params, at)
  const nets = networkCount(q, params)
  /** Distinct visitors and networks per direction over the keys given (the union folded into "(other)"), from the visits. */
  const unionSql = (keys: Record<Direction, string>) => `SELECT direction, '' AS key, sum(n) AS visitors, sum(m) AS networks
    FROM (${flowSql(visits, nets, `page = ${at} AND ((direction = 'previous' AND k IN ${keys.previous}) OR (direction = 'next' AND k IN ${keys.next}))`, true)})
    GROUP BY direction, key`
  const union = async (keys: Record<Direction, string[]>) => {
    const sql = unionSql({ previous: params.add('Array(String)', keys.previous), next: params.add('Array(String)', keys.next) })
    const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
    return (await rs.json<{ direction: string; key: string; visitors: number; networks: number }>()).map((r) => ({
      direction: r.direction,
      key: r.key,
      sums: { ...ZERO, visitors: Number(r.visitors), networks: Number(r.networks) },
    }))
  }
  // read once, when first asked for
  let rows: ReturnType<typeof flowRows> | null = null
  return { q, rows: () => (rows ??= flowRows(client, q, page)), union }
}

/**
 * What flowRows gives of `q` without reading a live day (as keptSums in query.ts): the rollup's rows
 * of the days it holds (kept from an earlier asking, else read) and the rows dayByDay keeps of the
 * others, each keyed `direction NUL key`, with those days (UTC, in order).
 */
async function keptFlowRows(client: ClickHouseClient, q: StatsQuestion, page: string): Promise<KeptRows> {
  const useRollup = q.filters.length === 0 && rollupSlice(q) !== null
  const { known, current, live } = await rollupDays(client, q, useRollup)
  const held = current.size > 0 ? await sliceRows(client, q, { dim: FLOW_DIM, values: null, prefix: page }, current, true) : []
  const { utcFirst, utcLast } = rangeDays(q.range, q.timezone)
  const read = useRollup ? live : utcDays(utcFirst, utcLast).filter((d) => known.has(d))
  const kept = keptDayRows(client, flowQuestion(q, page), read, known)
  return { days: [...current.keys(), ...kept.days].sort(), unread: kept.unread, rows: [...held, ...kept.rows] }
}

/** What dayByDay keeps the flow of `page` under. */
const flowQuestion = (q: StatsQuestion, page: string) => JSON.stringify({ flow: page, q })

/** The rollup's dimension holding page flow: a row per (page, direction, key), its value the three joined by NUL. */
export const FLOW_DIM = 'flow'
const SEP = '\u0000'

/**
 * The visits of `q` on its UTC days (or `utc`) as flowSql reads them: visitor_id, net, day (UTC),
 * local_day and views (the visit's pageviews, `visits`: migration 032); with `page` (SQL of a
 * String), only the visits that viewed it, found in `views` itself: `pages` holds the same paths,
 * and it is one array column less to read through FINAL (today's flow at ten million events:
 * 19-21 ms against 22-24 for the read alone).
 */
function flowVisits(q: StatsQuestion, params: Params, page?: string, utc?: string[], fold?: Folded): string {
  // folded with neighbours (flowDays, which gives its days): each visit's flags, the filters the questions do not share, as columns
  const marks = (fold?.flags ?? []).map((f, j) => `, toUInt8(${visitFilterSql(q, params, f, utc!)}) AS ${flagName(j)}`).join('')
  const columns = `visitor_id, ${NETWORK} AS net, day, toDate(start, ${params.add('String', q.timezone)}) AS local_day, views${marks}`
  const any = fold ? anyQuestion(fold) : null
  const where = [...(page ? [`has(views.2, ${page})`] : []), ...(any ? [any] : [])]
  return scopedVisitRowsSql(q, params, columns, where.length ? where.join(' AND ') : undefined, utc)
}

/**
 * Page flow per visit day, one definition for the rollup build and for questions: over `visits`
 * (flowVisits: visitor_id, net, day, local_day, views), each pageview's previous and next page
 * within its visit, its pageviews in time order (by path where two share a time): the first
 * comes from `(entrance)`, the last goes to `(exit)`. Rows (day, local_day, page, direction,
 * key, n, m): distinct visitors and networks of the visits that viewed `page` (key '' with
 * direction `page`), came to it from `key` (`previous`) or went on to `key` (`next`).
 * `where` picks rows (SQL over `page`, `direction` and the key `k`); with `union`, keys are not told apart.
 */
export function flowSql(visits: string, nets: Nets, where: string, union = false, fold?: Folded): string {
  // folded with neighbours (flowDays): the flags carried, and each question's sums (`n0`, `m0`…) over the rows its flags keep
  const marks = (fold?.flags ?? []).map((_, j) => `, ${flagName(j)}`).join('')
  const sums = fold ? askConditions(fold).map((ask, a) => `uniqExactIf(visitor_id, ${ask}) AS n${a}, ${nets.countIf('net', ask)} AS m${a}`).join(', ') : `uniqExact(visitor_id) AS n, ${nets.count('net')} AS m`
  return `SELECT day, local_day, page, direction, ${union ? "''" : 'k'} AS key, ${sums}
      FROM
      (
        SELECT visitor_id, net, day, local_day, page, d.1 AS direction, d.2 AS k${marks}
        FROM
        (
          SELECT visitor_id, net, day, local_day, arraySort(views).2 AS seq${marks},
            arrayPopBack(arrayPushFront(seq, '${ENTRANCE}')) AS previous,
            arrayPopFront(arrayPushBack(seq, '${EXIT}')) AS next
          FROM (${visits})
        )
        ARRAY JOIN seq AS page, previous AS prev, next AS nxt
        ARRAY JOIN [('page', ''), ('previous', prev), ('next', nxt)] AS d
      )
      WHERE ${where}
      GROUP BY day, local_day, page, direction, key`
}

/**
 * The flow rows of the UTC `day` for every page of a site (the rollup build's), as SQL over
 * flowSql's columns with its parameters: `q` covers that day.
 */
export function flowBuildSql(q: StatsQuestion, day: string): { sql: string; params: Record<string, unknown> } {
  const params = new Params()
  return { sql: flowSql(flowVisits(q, params, undefined, [day]), networkCount(q, params), '1'), params: { ...baseParams(q), ...params.values } }
}

/**
 * Distinct visitors and networks per (direction, key) for `page`: from the rollup for the days
 * it holds when the question has no filter and whole days (as breakdowns: rollupSlice), from
 * the visits for the others (today, a day not yet built), added up per day (visitor
 * hashes change with the UTC day, so the parts never share a visitor).
 */
async function flowRows(client: ClickHouseClient, q: StatsQuestion, page: string): Promise<(Row & { direction: string })[]> {
  const useRollup = q.filters.length === 0 && rollupSlice(q) !== null
  const { known, current, live } = await rollupDays(client, q, useRollup)
  const parts: Promise<SumsRow[]>[] = []
  // the page's rows of the rollup, keyed `direction NUL key` (what follows the page in their value)
  if (current.size > 0) parts.push(sliceRows(client, q, { dim: FLOW_DIM, values: null, prefix: page }, current, true))
  // from the visits: the page's rows per day (a row's key: direction NUL key), read with the neighbours asking the same days in this turn (together.ts)
  const read = (utc: string[]) => askedTogether(client, JSON.stringify(['flow', page, withoutFilters(q), utc]), q, (qs) => flowDays(client, qs, page, utc))
  // the other days (every day, under filters) from the visits, day by day: each day's rows kept (dayByDay)
  const { utcFirst, utcLast } = rangeDays(q.range, q.timezone)
  const days = useRollup ? live : utcDays(utcFirst, utcLast)
  if (days.length > 0) parts.push(dayByDay(client, flowQuestion(q, page), days, read, known))
  // every part's rows are keyed `direction NUL key`: added up per key
  const merged = new Map<string, Row & { direction: string }>()
  for (const rows of await Promise.all(parts)) {
    for (const r of rows) {
      const had = merged.get(r.key)
      const [direction, key] = r.key.split(SEP)
      merged.set(r.key, { direction, key, sums: { ...ZERO, visitors: r.visitors + (had?.sums.visitors ?? 0), networks: r.networks + (had?.sums.networks ?? 0) } })
    }
  }
  return [...merged.values()]
}

/**
 * flowRows' rows of the UTC days `utc` for each question of `qs`, which differ only in their
 * filters: one read of the days' visits, each flagged by the filters the questions do not share
 * (foldFilters), each question's rows those of the visits its flags keep.
 */
async function flowDays(client: ClickHouseClient, qs: StatsQuestion[], page: string, utc: string[]): Promise<SumsRow[][]> {
  const fold = foldFilters(qs)
  const q = fold.q
  const params = new Params()
  const at = params.add('String', page)
  const sums = fold.own.map((_, a) => `sum(n${a}) AS v${a}, sum(m${a}) AS w${a}`).join(', ')
  const sql = `SELECT toString(day) AS day, direction, key, ${sums} FROM (${flowSql(flowVisits(q, params, at, utc, fold), networkCount(q, params), `page = ${at}`, false, fold)}) GROUP BY day, direction, key`
  const rs = await client.query({ query: sql, query_params: { ...baseParams(q), ...params.values }, format: 'JSONEachRow' })
  const rows = await rs.json<Record<string, string | number>>()
  return fold.own.map((_, a) => {
    const n = (r: Record<string, string | number>, column: string) => Number(r[`${column}${a}`])
    // (a question's rows are those it counts a visitor in: a row of the others' alone is none of its)
    return rows.filter((r) => n(r, 'v') > 0).map((r): SumsRow => ({ ...ZERO, key: `${r.direction}${SEP}${r.key}`, bucket: '', day: String(r.day), visitors: n(r, 'v'), networks: n(r, 'w') }))
  })
}
