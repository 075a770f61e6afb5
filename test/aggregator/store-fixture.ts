import fs from 'node:fs'
import { executionAsyncResource } from 'node:async_hooks'
import type { ClickHouseClient } from '@clickhouse/client'
import { Sites } from '../../accounts/sites.ts'
import { RollupJob } from '../../aggregator/rollup/job.ts'
import { loadPolicy, type Policy } from '../../policy/policy.ts'
import { loadConfig } from '../../server/config.ts'
import { migrate } from '../../store/migrate.ts'
import { openStore, type Store } from '../../store/client.ts'
import { utcDay } from '../../store/time.ts'
import { followWrites, storeWrites } from '../../store/writes.ts'
import { migratedDataDir } from '../helpers/migrated-store.ts'
import { withVisits } from '../helpers/fixtures.ts'
import { EVENT_COLUMNS, eventBlock } from '../../collector/spool/event-block.ts'
import type { EventRow } from '../../collector/pipeline/types.ts'

/**
 * A fresh embedded store with the schema, the strict policy and a rollup job, without the
 * server around it: the statistics SQL is tested on its own. One per test file (chDB binds one
 * data directory per process); `close()` in `afterAll`.
 */
export interface StoreFixture {
  store: Store
  client: ClickHouseClient
  sites: Sites
  policy: Policy
  /** The rollup job's clock: a day is built only once it is over, so the tests say when "now" is. */
  clock: { now: number }
  job: RollupJob
  /** Inserts events as the collector writes them: their visits cut and stamped, in time order. */
  insert(events: EventSpec[]): Promise<void>
  /** The same, inserted as the spool writer inserts a segment: one Native block that says its days (store/writes.ts). */
  insertBlock(events: EventSpec[]): Promise<void>
  close(): Promise<void>
}

export async function openFixture(sites: Record<string, string>, now: number): Promise<StoreFixture> {
  const dir = migratedDataDir('aggregator-test-')
  const store = await openStore(loadConfig({ ANALYTICS_DATA_DIR: dir }))
  await migrate(store.client)
  const registered = new Sites(store.client)
  for (const [domain, timezone] of Object.entries(sites)) await registered.add(domain, timezone)
  // resolved from this file, not the working directory, so the test runs from anywhere
  const policy = loadPolicy(fileURLPath('../../policies/strict.yaml'))
  const clock = { now }
  const job = new RollupJob(store.client, registered, () => clock.now)
  // each site's visits are cut at its own policy's timeout, by the collector's VisitTracker
  const stamp = (events: EventSpec[]) => {
    const bySite = new Map<string, EventSpec[]>()
    for (const e of events) {
      const site = e.site ?? 'example.com'
      bySite.set(site, [...(bySite.get(site) ?? []), e])
    }
    return [...bySite].flatMap(([site, es]) => withVisits(es.map((e) => ({ ...eventRow(e), ts: e.ts })), policy.forSite(site).visitTimeoutMinutes * MINUTE))
  }
  let blocks = 0
  return {
    store,
    client: store.client,
    sites: registered,
    policy,
    clock,
    job,
    async insert(events) {
      await store.client.insert({ table: 'events', values: stamp(events).map((r) => ({ ...r, ts: chTime(Number(r.ts)) })), format: 'JSONEachRow' })
    },
    async insertBlock(events) {
      const block = eventBlock()
      for (const r of stamp(events)) {
        // every column as the pipeline fills it: ids as decimal strings, the time in milliseconds
        const row = Object.fromEntries(Object.entries(EVENT_COLUMNS).map(([name, spec]) => {
          const v = r[name]
          if (spec.type === 'UInt64') return [name, String(v ?? 0)]
          if (spec.type === 'Map(String, String)') return [name, v ?? {}]
          if (spec.type.includes('String')) return [name, v ?? '']
          return [name, v ?? spec.default ?? 0]
        }))
        block.append(row as unknown as EventRow)
      }
      await store.insertBlock('events', block.finish(), `fixture-${++blocks}`)
    },
    async close() {
      await job.stop()
      await store.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

function fileURLPath(relative: string): string {
  return decodeURIComponent(new URL(relative, import.meta.url).pathname)
}

/** What a test says about an event; everything else takes the value an empty beacon would leave. */
export interface EventSpec {
  site?: string
  /** UTC milliseconds. */
  ts: number
  name?: string
  /** 0: an event without a visitor hash (a consent stance). */
  visitor: number
  path?: string
  engagement_ms?: number
  props?: Record<string, string>
  dims?: Partial<Record<(typeof DIMENSION_COLUMNS)[number], string>>
  /** 0 new, 1 returning, 2 unknown. */
  returning?: number
  /** The network (IPv4 /24, IPv6 /48) as the pipeline numbers it; 0 (none) unless told. */
  networkId?: number
  /** An engagement ping's deepest scroll in percent; none reported (255) unless told. */
  scrollDepth?: number
}

export const DIMENSION_COLUMNS = [
  'hostname', 'referrer_host', 'referrer_path', 'source', 'channel',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term',
  'browser', 'browser_version', 'os', 'os_version', 'device', 'screen',
  'country', 'region', 'city', 'network',
] as const

/**
 * An `events` row exactly as the pipeline writes one (no IP, no User-Agent: there is no column
 * for them), before its visit is stamped (see `insert`).
 */
export function eventRow(e: EventSpec): Record<string, unknown> {
  const dims = Object.fromEntries(DIMENSION_COLUMNS.map((d) => [d, e.dims?.[d] ?? '']))
  return {
    site: e.site ?? 'example.com',
    ts: chTime(e.ts),
    name: e.name ?? 'pageview',
    visitor_id: e.visitor,
    pathname: e.path ?? '/',
    query: '',
    ...dims,
    returning: e.returning ?? 2,
    network_id: e.networkId ?? 0,
    ...(e.scrollDepth === undefined ? {} : { scroll_depth: e.scrollDepth }),
    engagement_ms: e.engagement_ms ?? 0,
    props: e.props ?? {},
  }
}

/** A DateTime64(3) literal in UTC: text, so no reading of a bare number as seconds or ms is relied on. */
export const chTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

export async function rows<T = Record<string, unknown>>(client: ClickHouseClient, query: string, query_params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params, format: 'JSONEachRow' })
  return rs.json<T>()
}

/**
 * A client over `client`'s store that adds each query's text to `asked` before asking it, and
 * follows the store's writes as the stats API's own question client does (store/writes.ts).
 */
export function countingClient(client: ClickHouseClient, asked: string[]): ClickHouseClient {
  return recordingClient(client, (p) => asked.push(p.query))
}

/**
 * Whether a query's SQL picks visits by a page, or by an event name: the visits holding it found
 * among the events (a pageview's `pathname`, an event's name), or by the rows of `visits` (their
 * `pages`, `event_names`). Tests asking which reads a question makes look for these.
 */
export const PICKS_BY_PAGE = /\bpages\b|\bpathname IN\b/
export const PICKS_BY_NAME = /\bevent_names\b|\btoString\(name\) IN\b/

/** A query as asked: its text and its parameters. */
export interface AskedQuery {
  query: string
  query_params?: Record<string, unknown>
}

/** The client, with each query it is asked handed to `seen` first (its text and parameters), its writes followed as the client's. */
export function recordingClient(client: ClickHouseClient, seen: (p: AskedQuery) => void): ClickHouseClient {
  const recording = new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') return (params: AskedQuery) => (seen(params), target.query(params as never))
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  followWrites(recording, storeWrites(client))
  return recording
}

export const MINUTE = 60_000
export const HOUR = 3_600_000
export const DAY = 86_400_000

/**
 * Today (UTC, by the clock) for a test of what is kept for today alone: its midnight (`start`),
 * its date, and how much of it the test's events may spread over (the day so far, at least 50
 * minutes). Waits out the last two minutes of a UTC day, so that the events are still today's when asked.
 */
export async function todayByTheClock(): Promise<{ start: number; today: string; span: number }> {
  const toMidnight = DAY - (Date.now() % DAY)
  if (toMidnight < 2 * MINUTE) await new Promise((done) => setTimeout(done, toMidnight + 1000))
  const start = Date.now() - (Date.now() % DAY)
  return { start, today: utcDay(start), span: Math.max(Date.now() - start - MINUTE, 50 * MINUTE) }
}

/**
 * Whether Node tracks promises now (an AsyncLocalStorage or another async hook enabled): then a
 * promise's reaction runs as that promise's own async resource, else as the callback's that ran it.
 */
export function promisesTracked(): Promise<boolean> {
  return new Promise((answer) =>
    setImmediate(() => {
      const reaction: Promise<void> = Promise.resolve().then(() => answer(executionAsyncResource() === reaction))
    }),
  )
}
