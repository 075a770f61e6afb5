/**
 * The query half of `npm run bench`: 10 million events (BENCH_QUERY_EVENTS) over 30 days are
 * generated inside the store, visits and rollups are built as the server builds them, and
 * the dashboard's full set of queries for the 30-day range is timed against a bare
 * `SELECT count()` over the same rows, in the same process, then each panel under six pairs of
 * filters. Prints tables; judges nothing.
 *
 * Run alone: `node --import tsx bench/queries.ts` (its own process: chDB binds one data directory).
 */
import fs from 'node:fs'
import type { ClickHouseClient } from '@clickhouse/client'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../server/config.ts'
import { loadPolicy } from '../policy/policy.ts'
import { openStore, questionClient, QUESTIONS_AT_ONCE, QUIET_BEACONS_PER_S } from '../store/client.ts'
import { migrate } from '../store/migrate.ts'
import { RollupJob } from '../aggregator/rollup/job.ts'
import { resolvePeriod } from '../aggregator/stats/period.ts'
import { parseFilters } from '../aggregator/stats/filters.ts'
import { property } from '../aggregator/stats/properties.ts'
import { aggregate, breakdown, timeseries, type Scope } from '../aggregator/stats/service.ts'
import type { Metric } from '../aggregator/stats/metrics.ts'
import { machineCpu, stolenPct } from './lib.ts'
import { goalConversions } from '../aggregator/stats/goal-conversions.ts'
import { funnel } from '../aggregator/stats/funnel.ts'
import { parseGoalMatch } from '../aggregator/stats/goal-match.ts'
import { pageFlow } from '../aggregator/stats/page-flow.ts'
import { querySums, type StatsQuestion } from '../aggregator/stats/query.ts'
import { eventBlock } from '../collector/spool/event-block.ts'
import type { EventRow } from '../collector/pipeline/types.ts'
import { AS_EVENT_ROWS, generateEventsSql } from './synthetic-events.ts'

const EVENTS = Number(process.env.BENCH_QUERY_EVENTS || 10_000_000)
const RUNS = Number(process.env.BENCH_QUERY_RUNS || 7)
const SITE = 'example.com'
const DAY = 86_400_000
const HOUR = 3_600_000

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  // BENCH_QUERY_DIR keeps the generated store for another run (the 100 M one takes a while to make)
  const kept = process.env.BENCH_QUERY_DIR
  const dataDir = kept ? path.resolve(kept) : fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-bench-q-'))
  const reuse = kept !== undefined && fs.existsSync(path.join(dataDir, 'clickhouse'))
  const config = loadConfig({}, { dataDir })
  const store = await openStore(config)
  try {
    await migrate(store.client)
    const client = store.client
    // a kept store is timed as on the day it was generated (BENCH_QUERY_NOW, an ISO time): its
    // "today" then holds its share of events again, read live as on that day
    const now = process.env.BENCH_QUERY_NOW ? Date.parse(process.env.BENCH_QUERY_NOW) : Date.now()
    if (Number.isNaN(now)) throw new Error('BENCH_QUERY_NOW is not a time (e.g. 2026-12-01T20:00:00Z)')
    // and so is this process's clock: what the engine decides by the clock, as whether today's rows
    // kept at insert (page_days, headcount_days) answer, is decided as on that day. (Timed on a later
    // day without it, every question read that "today" from its events and visits instead.)
    if (process.env.BENCH_QUERY_NOW) {
      const behind = Date.now() - now
      const clock = Date.now.bind(Date)
      Date.now = () => clock() - behind
    }
    const start = Math.floor(now / DAY) * DAY - 29 * DAY
    let t = performance.now()
    if (!reuse) {
      await client.command({ query: "INSERT INTO sites (domain, timezone) VALUES ({site:String}, 'UTC')", query_params: { site: SITE } })
      const generate = (lo: number, hi: number) =>
        client.command({ query: generateEventsSql('events'), query_params: { site: SITE, start, events: EVENTS, visitors_per_day: Math.max(100, Math.round(EVENTS / 30 / 6)), lo, hi } })
      // the 29 days before today at once; today hour by hour, as its events arrive on a live site
      // (each insert is a part of the visits of that hour, which the store then merges as it does
      // the collector's batches: a question reads today's visits over several parts)
      await generate(0, 29 * DAY)
      for (let h = 0; h < 24; h++) await generate(29 * DAY + h * HOUR, 29 * DAY + (h + 1) * HOUR)
    }
    const generateS = (performance.now() - t) / 1000
    const policy = loadPolicy(config.policyFile)
    const job = new RollupJob(client, { get: () => ({ domain: SITE, timezone: 'UTC' }) }, () => now)
    t = performance.now()
    const built = await job.run()
    const buildS = (performance.now() - t) / 1000
    const [{ c }] = await (await client.query({ query: 'SELECT count() AS c FROM events', format: 'JSONEachRow' })).json<{ c: number }>()
    const [{ bytes }] = await (await client.query({ query: 'SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE active', format: 'JSONEachRow' })).json<{ bytes: number }>()
    console.log(`\nquery bench: ${Number(c).toLocaleString('en')} events ${reuse ? 'kept from an earlier run' : `generated in ${generateS.toFixed(1)} s`}; rollups for ${built.days.length} days built${built.compacted.length ? ` and the visits of ${built.compacted.join(', ')} merged into one part (RollupJob.compactVisits)` : ''}${built.compactedEvents.length ? ` and the events of ${built.compactedEvents.join(', ')} (compactEvents)` : ''} in ${buildS.toFixed(1)} s; ${(Number(bytes) / 1e9).toFixed(2)} GB on disk`)
    // today is always read live (its rollup is built once it is over): a store kept from an earlier
    // day has none of its events, and its unfiltered questions come from the rollup alone
    const [{ today }] = await (await client.query({ query: 'SELECT count() AS today FROM events WHERE toDate(ts) = toDate({now:Int64} / 1000)', query_params: { now }, format: 'JSONEachRow' })).json<{ today: number }>()
    console.log(`today (UTC) holds ${Number(today).toLocaleString('en')} events, read live by every question${Number(today) === 0 ? ': this kept store was generated on an earlier day, so the figures below leave out the live part (set BENCH_QUERY_NOW to the time it was generated, or remove BENCH_QUERY_DIR, to time it)' : ''}`)

    const range = resolvePeriod({ period: '30d' }, 'UTC', now)
    const scope: Scope = { site: SITE, timezone: 'UTC', now, filters: [], limits: { k: policy.forSite(SITE).minVisitors.dashboard, kn: policy.forSite(SITE).minNetworks.dashboard } }
    const filtered: Scope = { ...scope, filters: parseFilters('country==US') }
    const cards: Metric[] = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration']
    const withFilters = (f: string): Scope => ({ ...scope, filters: parseFilters(f) })
    const goals = [{ id: 'g1', site: SITE, label: 'Visit /signup', created_at: '', ...parseGoalMatch({ page: '/signup' }) }, { id: 'g2', site: SITE, label: 'Signup', created_at: '', ...parseGoalMatch({ event: 'Signup' }) }]
    const steps = [parseGoalMatch({ page: '/' }), parseGoalMatch({ page: '/pricing' }), parseGoalMatch({ event: 'Signup' })]
    const panel = (name: string, s = scope, metrics: Metric[] = ['visitors']) => (c: ClickHouseClient) => breakdown(c, s, range, name, property(name)!, metrics, 10)
    // what the dashboard's panels ask (dashboards/src/components/panels.tsx): the API's default is visitors alone
    const asked: Record<string, Metric[]> = { page: ['visitors', 'pageviews', 'time_on_page', 'scroll_depth'], channel: ['visitors', 'bounce_rate'], outbound: ['visitors', 'events'] }
    type Asked = (c: ClickHouseClient) => Promise<unknown>
    const queries: [string, Asked][] = [
      ['aggregate (metric cards + change)', (c) => aggregate(c, scope, range, cards)],
      ['timeseries by day', (c) => timeseries(c, scope, range, ['visitors', 'pageviews'], 'day')],
      ...['page', 'entry_page', 'exit_page', 'source', 'referrer', 'channel', 'utm_source', 'utm_medium', 'utm_campaign',
        'country', 'region', 'city', 'browser', 'browser_version', 'os', 'os_version', 'device', 'screen', 'event', 'outbound', 'download', 'prop:plan',
      ].map((n) => [`breakdown ${n}`, panel(n)] as [string, Asked]),
      ['breakdown page, as the dashboard asks it', panel('page', scope, asked.page)],
      // with its bounce rate: the visits read whole (FINAL), where visitors alone are read lean
      ['breakdown channel, as the dashboard asks it', panel('channel', scope, asked.channel)],
      ['filtered: aggregate country==US', (c) => aggregate(c, filtered, range, cards)],
      ['filtered: breakdown page, country==US', panel('page', filtered)],
      ['filtered: breakdown page, country==US, as the dashboard', panel('page', filtered, asked.page)],
      ['filtered: timeseries by day, country==US', (c) => timeseries(c, filtered, range, ['visitors'], 'day')],
      ['filtered: aggregate country==US;browser==Chrome', (c) => aggregate(c, withFilters('country==US;browser==Chrome'), range, cards)],
      ['filtered: breakdown source, page==/pricing', panel('source', withFilters('page==/pricing'))],
      ['filtered: aggregate event==Signup', (c) => aggregate(c, withFilters('event==Signup'), range, cards)],
      ['filtered: breakdown country, outbound~docs', panel('country', withFilters('outbound~docs'))],
      ['filtered: timeseries by hour, today', (c) => timeseries(c, scope, resolvePeriod({ period: 'day' }, 'UTC', now), ['visitors', 'pageviews'], 'hour')],
      ['goals (2 goals)', (c) => goalConversions(c, scope, range, goals)],
      ['funnel / -> /pricing -> Signup', (c) => funnel(c, scope, range, steps)],
      ['page flow /pricing', (c) => pageFlow(c, scope, range, '/pricing', 10)],
      ['filtered: breakdown outbound, country==US', panel('outbound', filtered)],
      ['filtered: goals, country==US', (c) => goalConversions(c, filtered, range, goals)],
      ['filtered: funnel, country==US', (c) => funnel(c, filtered, range, steps)],
      ['filtered: page flow /pricing, country==US', (c) => pageFlow(c, filtered, range, '/pricing', 10)],
      // an event's panels, goals and the funnel under a page filter, a panel under an event filter: the visits the filter keeps, looked up in today's visits
      ['filtered: breakdown outbound, page==/pricing, as the dashboard', panel('outbound', withFilters('page==/pricing'), asked.outbound)],
      ['filtered: breakdown event, page==/pricing', panel('event', withFilters('page==/pricing'))],
      ['filtered: goals, page==/pricing', (c) => goalConversions(c, withFilters('page==/pricing'), range, goals)],
      ['filtered: funnel, page==/pricing', (c) => funnel(c, withFilters('page==/pricing'), range, steps)],
      ['filtered: breakdown outbound, event==Signup', panel('outbound', withFilters('event==Signup'))],
      // under a filter on what a visit's first event gives (the source): the visits, looked up among today's first events;
      // and the page panel filtered on one page, its one row the whole total
      ['filtered: breakdown outbound, source==Google', panel('outbound', withFilters('source==Google'))],
      ['filtered: funnel, source==Google', (c) => funnel(c, withFilters('source==Google'), range, steps)],
      ['filtered: breakdown page, page==/pricing, as the dashboard', panel('page', withFilters('page==/pricing'), asked.page)],
    ]
    const countSql = 'SELECT count() FROM events WHERE site = {site:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})'
    // one more event today, as a busy site has between two asks: today's rows kept are read again
    // (query.ts `dayByDay`: a day is kept while its parts are unchanged); a copy of one of today's
    // events a second before "now", in a visit of its own starting then, its id made as the
    // collector makes one (so it sorts after the day's earlier visits, as a new visit does),
    // inserted as the spool writer inserts a segment: a Native block that says its days
    let inserted = 0
    const insertOne = async () => {
      const rs = await client.query({
        query: `${AS_EVENT_ROWS}
                FROM (SELECT * FROM events WHERE site = {site:String} AND toDate(ts) = toDate({now:Int64} / 1000) LIMIT 1)`,
        query_params: { site: SITE, now },
        format: 'JSONEachRow',
      })
      const [row] = await rs.json<EventRow>()
      const ts = now - 1000
      const visitId = (BigInt(Math.floor(ts / 1000) - 1577836800) << 31n) | BigInt(Math.floor(Math.random() * 2 ** 31))
      const block = eventBlock()
      block.append({ ...row, ts, visit_id: visitId.toString(), visit_flags: row.visit_flags | 1 })
      await store.insertBlock('events', block.finish(), `bench-live-${process.pid}-${inserted++}`)
    }
    const timeIt = async (fn: () => Promise<unknown>, before?: () => Promise<unknown>) => {
      await fn() // warm
      const xs: number[] = []
      for (let i = 0; i < RUNS; i++) {
        await before?.()
        const s = performance.now()
        await fn()
        xs.push(performance.now() - s)
      }
      return median(xs)
    }
    const m0 = machineCpu()
    const baseline = await timeIt(async () => (await client.query({ query: countSql, query_params: { site: SITE, from: range.from, to: range.to }, format: 'JSONEachRow' })).json())
    // Warm: asked again through the same client, which keeps the rollup rows it read (query.ts
    // `rollupRows`), as a dashboard viewed again. Cold: each time through a client of its own, so
    // the rollup is read too, as the first view after a build.
    const fresh = (): ClickHouseClient =>
      new Proxy(client, { get: (t, p) => (typeof Reflect.get(t, p) === 'function' ? (Reflect.get(t, p) as (...a: unknown[]) => unknown).bind(t) : Reflect.get(t, p)) })
    // Live: asked again through the same client after one event was inserted today (a busy
    // site's dashboard): the built days kept, today read again.
    const results: [string, number, number, number][] = []
    for (const [name, fn] of queries) results.push([name, await timeIt(() => fn(client)), await timeIt(() => fn(client), insertOne), await timeIt(() => fn(fresh()))])
    const width = Math.max(...results.map(([n]) => n.length), 30)
    console.log(`\n${'query (30-day range)'.padEnd(width)}  warm ms   live ms   cold ms   live ratio to count()`)
    console.log(`${'SELECT count() over the same rows'.padEnd(width)}  ${''.padStart(7)}   ${baseline.toFixed(1).padStart(7)}   ${''.padStart(7)}   1.00`)
    for (const [name, ms, live, cold] of results) console.log(`${name.padEnd(width)}  ${ms.toFixed(1).padStart(7)}   ${live.toFixed(1).padStart(7)}   ${cold.toFixed(1).padStart(7)}   ${(live / baseline).toFixed(2)}`)
    console.log('  warm: asked again, nothing inserted since; live: asked again, one event inserted today before each ask; cold: first ask (a client keeping nothing)')
    // Two filters (issue 11: "with one or two filters on a visit dimension, a page or an event"):
    // each panel of the dashboard (cards, chart, every tab's first panel kind, goals, the funnel,
    // page flow) under six pairs mixing where a visit came from, what it holds (one negated) and where it is,
    // live as above. A matrix, so that no pair and no panel is left out of the table.
    const twoFilterPairs = ['country==US;source==Google', 'page==/pricing;country==US', 'page==/pricing;event==Signup', 'source==Google;event==Signup', 'outbound~docs;source==Google', 'page!=/pricing;event==Signup']
    type Panel = [string, (c: ClickHouseClient, s: Scope) => Promise<unknown>]
    const panelsUnder: Panel[] = [
      ['aggregate', (c, s) => aggregate(c, s, range, cards)],
      ['timeseries by day', (c, s) => timeseries(c, s, range, ['visitors', 'pageviews'], 'day')],
      ...['page', 'entry_page', 'exit_page', 'source', 'channel', 'country', 'browser', 'device', 'event', 'outbound', 'prop:plan'].map(
        (n): Panel => [`breakdown ${n}`, (c, s) => breakdown(c, s, range, n, property(n)!, asked[n] ?? ['visitors'], 10)],
      ),
      ['goals (2 goals)', (c, s) => goalConversions(c, s, range, goals)],
      ['funnel', (c, s) => funnel(c, s, range, steps)],
      ['page flow /pricing', (c, s) => pageFlow(c, s, range, '/pricing', 10)],
    ]
    const matrix: number[][] = []
    for (const [, ask] of panelsUnder) {
      const row: number[] = []
      for (const pair of twoFilterPairs) row.push(await timeIt(() => ask(client, withFilters(pair)), insertOne))
      matrix.push(row)
    }
    const cellWidth = Math.max(...twoFilterPairs.map((p) => p.length)) + 2
    console.log(`\n${'two filters, live ms (as the dashboard asks)'.padEnd(28)}${twoFilterPairs.map((p) => p.padStart(cellWidth)).join('')}`)
    for (const [i, [name]] of panelsUnder.entries()) console.log(`${name.padEnd(28)}${matrix[i].map((ms) => ms.toFixed(1).padStart(cellWidth)).join('')}`)
    const allTwo = matrix.flat()
    console.log(`  ${allTwo.length} questions: median ${median(allTwo).toFixed(1)} ms, the slowest ${Math.max(...allTwo).toFixed(1)} ms, ${allTwo.filter((ms) => ms > 50).length} over 50 ms`)
    // What the k promise adds (aggregator/stats/disclosure.ts: neighbours, distinct "(other)",
    // networks): each published answer against the engine's sums for the same question alone.
    const sums = (s: Scope, extra: Partial<StatsQuestion> = {}) => () => querySums(client, { site: SITE, timezone: 'UTC', range, filters: s.filters, ...extra })
    const pairs: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
      ['aggregate', () => aggregate(client, scope, range, cards), sums(scope)],
      ['breakdown page', () => panel('page')(client), sums(scope, { property: property('page') })],
      ['breakdown country', () => panel('country')(client), sums(scope, { property: property('country') })],
      ['aggregate country==US', () => aggregate(client, filtered, range, cards), sums(filtered)],
      ['breakdown page, country==US', () => panel('page', filtered)(client), sums(filtered, { property: property('page') })],
    ]
    console.log(`\n${'cost of the k rules'.padEnd(width)}  published ms   engine sums ms   added ms`)
    for (const [name, published, engine] of pairs) {
      // asked with today changed in between (live), as neither is then answered from what was kept
      const [a, b] = [await timeIt(published, insertOne), await timeIt(engine, insertOne)]
      console.log(`${name.padEnd(width)}  ${a.toFixed(1).padStart(12)}   ${b.toFixed(1).padStart(14)}   ${(a - b).toFixed(1).padStart(8)}`)
    }
    // What a marketer waits for: a dashboard's panels asked at once through the stats API's
    // question client (store/client.ts: its limits, QUESTIONS_AT_ONCE at a time), unfiltered and
    // with one filter; panels asking the same totals and neighbours share one answer (query.ts `asked`).
    // the dashboard's first view: cards, chart, and each panel's first tab (dashboards/src/components/panels.tsx)
    const wholeDashboard = (s: Scope) => async (c: ClickHouseClient) => {
      const panels: [string, Promise<unknown>][] = [
        ['cards', aggregate(c, s, range, cards)],
        ['chart', timeseries(c, s, range, ['visitors', 'pageviews'], 'day')],
        ['goals', goalConversions(c, s, range, goals)],
        ...['page', 'channel', 'country', 'browser', 'outbound'].map((n) => [n, breakdown(c, s, range, n, property(n)!, asked[n] ?? ['visitors'], 10)] as [string, Promise<unknown>]),
      ]
      const settled = await Promise.allSettled(panels.map(([, p]) => p))
      // a panel the API would answer with an error (say, past the memory a question may use) is named, not timed
      const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [`${panels[i][0]}: ${(r.reason as Error).message}`] : []))
      if (failed.length) throw new Error(failed.join('; '))
    }
    // as the stats API asks them (store/client.ts QUESTIONS_AT_ONCE): every core while the
    // collector is quiet (as here: no beacons arrive), all but one while beacons arrive
    const busy = { beaconsPerSecond: () => QUIET_BEACONS_PER_S }
    for (const [load, heading] of [[{}, `quiet collector: ${QUESTIONS_AT_ONCE.embeddedQuiet} at a time`], [busy, `beacons arriving: ${QUESTIONS_AT_ONCE.embedded} at a time`]] as const) {
      const asked = questionClient(store, load)
      console.log(`\n${`a whole dashboard at once (8 questions), ${heading}`.padEnd(width)}  warm ms   live ms   cold ms`)
      // (under a country, a page and a source: each a row of a top panel clicked)
      for (const [name, s] of [['unfiltered', scope], ['country==US', filtered], ['page==/pricing', withFilters('page==/pricing')], ['source==Google', withFilters('source==Google')]] as const) {
        try {
          const [warm, live, cold] = [
            await timeIt(() => wholeDashboard(s)(asked)),
            await timeIt(() => wholeDashboard(s)(asked), insertOne),
            await timeIt(() => wholeDashboard(s)(questionClient(store, load))),
          ]
          console.log(`${name.padEnd(width)}  ${warm.toFixed(1).padStart(7)}   ${live.toFixed(1).padStart(7)}   ${cold.toFixed(1).padStart(7)}`)
        } catch (err) {
          console.log(`${name.padEnd(width)}  failed: ${(err as Error).message}`)
        }
      }
    }
    // The table above asks through the engine's own client, without the limits a question of the
    // stats API has (store/client.ts QUESTION_LIMITS: its memory, one thread): each question once
    // more as the API asks it, the first time (a client keeping nothing), so a question the API
    // would refuse (a month's funnel at a hundred million events once was) is named here.
    const refused: string[] = []
    let slowestAsked: [string, number] = ['', 0]
    for (const [name, fn] of queries) {
      const s = performance.now()
      try {
        await fn(questionClient(store))
        const ms = performance.now() - s
        if (ms > slowestAsked[1]) slowestAsked = [name, ms]
      } catch (err) {
        refused.push(`${name} (${(err as Error).message})`)
      }
    }
    console.log(`\nevery question asked once more as the stats API asks it (its limits; first asking, one at a time): ${queries.length - refused.length} of ${queries.length} answered, the slowest ${slowestAsked[0]} in ${slowestAsked[1].toFixed(0)} ms`)
    for (const r of refused) console.log(`  refused: ${r}`)
    const [slowest, , live] = results.reduce((a, b) => (b[2] > a[2] ? b : a))
    const [slowestCold, , , cold] = results.reduce((a, b) => (b[3] > a[3] ? b : a))
    console.log(`\nthe host took ${stolenPct(m0, machineCpu()).toFixed(0)} % of this machine's time while these were timed (CPU steal): the times above grow with it`)
    console.log(`slowest dashboard query, live: ${slowest}, ${live.toFixed(1)} ms; cold: ${slowestCold}, ${cold.toFixed(1)} ms (issue 11's target: every one ≤ 50 ms median at 10 million events, ≤ 300 ms at 100 million)`)
  } finally {
    await store.close()
    if (!kept) fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(`query bench failed: ${(err as Error).message}`)
  process.exit(1)
})
