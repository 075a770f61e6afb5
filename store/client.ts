import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'
import { Readable } from 'node:stream'
import { ClickHouseLogLevel, createClient, parseError, type ClickHouseClient, type QueryParams } from '@clickhouse/client'
import { formatQueryParams, formatQuerySettings } from '@clickhouse/client/dist/common/index.js'
import { Engine, HTTP_ONLY_SETTINGS, summary, type EngineResult } from './engine.ts'
import pLimit from 'p-limit'
import { InputError, Overloaded } from '../http/errors.ts'
import { insertFromFile, insertOverHttp, type InsertBlock } from './insert-block.ts'
import { followWrites, onlyReads, storeWrites, StoreWrites, type DayRows } from './writes.ts'

// Both modes answer 64-bit integers as JSON numbers, so code never sees strings for counts.
// chDB applies a query's settings to its whole session: the spool writer's deduplication token
// would stick to every later insert (and silently drop a repeat), so each query resets it.
// No JIT compilation of expressions: ClickHouse compiles an expression the third time it sees
// it, and that compilation (LLVM: 160–260 ms measured on a 25 ms query) landed on dashboard
// questions; the questions here gained nothing measurable from compiled code (bench/queries.ts).
// Reads keep the blocks they decompress in the engine's uncompressed cache (ENGINE_ARGS).
// No GROUP BY key dropped for being a function of another: in GROUPING SETS, a set keyed by a
// value and a condition on it (`source`, `source IN ['Google']`: a question by source under
// `source==Google` grouped with its neighbours, aggregator/stats/query.ts) lost the condition,
// which then read 0 in every row of that set (ClickHouse 26.7).
const settings = {
  output_format_json_quote_64bit_integers: 0,
  insert_deduplication_token: '',
  compile_expressions: 0,
  compile_aggregate_expressions: 0,
  use_uncompressed_cache: 1,
  optimize_group_by_function_keys: 0,
} as const

/**
 * What one question to the stats or export API may cost the store: its time, the rows it reads,
 * `memoryBytes` of memory, one thread. Past one the store stops the query and the caller gets 400
 * (`QuestionTooCostly`). Its grouping goes on on disk past half of that memory (the engine's
 * external aggregation, in the store's own directory, as the rollup build's),
 * so a question over a busy day is answered, more slowly, rather than refused: a month's funnel
 * read at once at a hundred million events needed more than 1 GiB and was refused; so it is
 * answered in 13-17 s (within the 30 s a question may take).
 */
// (64-bit settings travel as strings)
export const questionLimits = (memoryBytes: number) => ({
  max_execution_time: 30,
  max_rows_to_read: '500000000',
  max_memory_usage: String(memoryBytes),
  max_bytes_before_external_group_by: String(memoryBytes / 2),
  max_threads: 1,
})
/** The limits of the stats API's questions (questionLimits): a 10-million-event breakdown takes about a second and ~200 MB here. */
export const QUESTION_LIMITS = questionLimits(1024 ** 3)
// The same settings unlimited (0 is each one's default: no limit, no spill, as many threads as cores): chDB keeps
// a query's settings for the next query, so every query of the embedded engine that is not a question resets them.
// Made from QUESTION_LIMITS' own keys, so that no limit added there outlives its question.
const NO_QUESTION_LIMITS = Object.fromEntries(Object.keys(QUESTION_LIMITS).map((name) => [name, '0']))

/**
 * Questions the store works on at once. Embedded, they share this machine's cores with the
 * beacons: while beacons arrive (QUIET_BEACONS_PER_S or more), all cores but one (at least one
 * question), since a flood of 32 questions at once held every core and beacon p99 went 3× up;
 * while the collector is quiet, every core (`embeddedQuiet`: on two cores, a dashboard's eight
 * questions two at a time took 0.40 s against 0.67 s one at a time at ten million events, and
 * 5.1 s against 8.2 s on a first view under a page filter). A server's cores are its own.
 */
export const QUESTIONS_AT_ONCE = { embedded: Math.max(1, os.availableParallelism() - 1), embeddedQuiet: os.availableParallelism(), server: 8 }

/**
 * Beacons a second (over the last few seconds) from which the embedded store's questions leave
 * the beacons a core: about 4 million events a day. Below it the beacons take about a hundredth
 * of a core (some 200 µs of CPU each on the development machine).
 */
export const QUIET_BEACONS_PER_S = 50

/** What a question client knows about the beacons sharing its cores (embedded: the collector in this process). */
export interface QuestionLoad {
  /** Beacons this process took a second, lately; absent: it takes none. */
  beaconsPerSecond?: () => number
}
/** Questions that may wait for their turn; one more is refused with 503 (`StoreBusy`). */
export const QUESTION_QUEUE = 100

/** What the store says when a question hit one of QUESTION_LIMITS, by ClickHouse error type. */
const LIMIT_HIT: Record<string, string> = {
  TIMEOUT_EXCEEDED: 'time',
  TOO_SLOW: 'time',
  TOO_MANY_ROWS: 'rows read',
  TOO_MANY_ROWS_OR_BYTES: 'rows read',
  MEMORY_LIMIT_EXCEEDED: 'memory',
}

/** A question the store stopped at one of QUESTION_LIMITS: the caller's to narrow (400). */
export class QuestionTooCostly extends InputError {
  constructor(readonly limit: string) {
    super(`this question needs more ${limit} than the store gives one question: ask about a shorter range`)
  }
}

/** QUESTION_QUEUE questions wait already: this one is not asked (503 with Retry-After). */
export class StoreBusy extends Overloaded {
  constructor() {
    super('the store is busy with other questions: try again in a few seconds', 5)
  }
}

/**
 * The client the stats and export routes ask through: the same store, each query under `limits`
 * (QUESTION_LIMITS; passed with the query, so nothing else is limited, and over the query's own
 * settings, so no caller loosens them), QUESTIONS_AT_ONCE at a time (embedded, as many as
 * `load` says the beacons leave room for, looked at as each question comes); a query stopped by
 * a limit is thrown as QuestionTooCostly, one past the queue as StoreBusy.
 */
export function questionClient(store: Pick<Store, 'client' | 'embedded'>, load: QuestionLoad = {}, limits: Record<string, string | number> = QUESTION_LIMITS): ClickHouseClient {
  const { client } = store
  const turn = pLimit(store.embedded ? QUESTIONS_AT_ONCE.embedded : QUESTIONS_AT_ONCE.server)
  const quiet = () => !load.beaconsPerSecond || load.beaconsPerSecond() < QUIET_BEACONS_PER_S
  // Embedded, a question started with none waiting takes the turns no other holds, each a thread
  // more (`max_threads`): a question that is one long read (page flow, a funnel) otherwise ran on
  // one core of two while the other idled. At a hundred million events, today live, alternating
  // (medians of 5, two rounds): page flow 265-291 -> 170-173 ms, the funnel 209-217 -> 152-161,
  // the aggregate 127-129 -> 75-76; questions of several reads within the noise, and at ten
  // million everything. While beacons arrive there is one turn, so a question keeps one thread
  // and the beacons their core.
  const alone = (): Record<string, number> => {
    const free = turn.concurrency - turn.activeCount + 1
    return store.embedded && turn.pendingCount === 0 && free > 1 && Number(limits.max_threads) === 1 ? { max_threads: free } : {}
  }
  const query = (params: QueryParams) => {
    // a lower number lets the questions running finish and starts no other until below it
    const atOnce = !store.embedded ? QUESTIONS_AT_ONCE.server : quiet() ? QUESTIONS_AT_ONCE.embeddedQuiet : QUESTIONS_AT_ONCE.embedded
    if (turn.concurrency !== atOnce) turn.concurrency = atOnce
    if (turn.pendingCount >= QUESTION_QUEUE) return Promise.reject(new StoreBusy())
    return turn(() => client.query({ ...params, clickhouse_settings: { ...params.clickhouse_settings, ...limits, ...alone() } })).catch((err: unknown) => {
      const limit = LIMIT_HIT[(err as { type?: string })?.type ?? '']
      throw limit ? new QuestionTooCostly(limit) : err
    })
  }
  const questions = new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') return query
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  followWrites(questions, storeWrites(client))
  return questions
}

// The client's own logger may print failed requests; our callers log a sanitised summary instead.
const log = { level: ClickHouseLogLevel.OFF }

/** Where the store is: the embedded engine under `dataDir`, or a server (the config's CLICKHOUSE_* settings). */
export interface StoreConfig {
  dataDir: string
  /** A ClickHouse server's URL; undefined means the embedded chDB engine. */
  clickhouseUrl?: string
  clickhouseUser?: string
  clickhousePassword?: string
  clickhouseDatabase: string
}

export interface Store {
  client: ClickHouseClient
  /** The database every table lives in. */
  database: string
  embedded: boolean
  /** Inserts a Native block (the spool writer's batches): as a request body to a server, from a file embedded. */
  insertBlock: InsertBlock
  /** Makes sure the database exists (server mode; nothing to do embedded). Safe to repeat. */
  prepare(): Promise<void>
  close(): Promise<void>
}

/**
 * The one ClickHouse client of the program: the embedded chDB engine under
 * `$ANALYTICS_DATA_DIR/clickhouse` by default, a server when CLICKHOUSE_URL is set.
 * With `{ prepare: false }` a server is not contacted yet (the collector starts while it is
 * down, and calls `prepare` until it answers); otherwise its database is created first.
 */
export async function openStore(config: StoreConfig, opts: { prepare?: boolean } = {}): Promise<Store> {
  const store = await createStore(config)
  if (opts.prepare !== false) await store.prepare()
  return store
}

async function createStore(config: StoreConfig): Promise<Store> {
  const database = config.clickhouseDatabase
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error('CLICKHOUSE_DATABASE must be a plain identifier')
  if (config.clickhouseUrl) {
    const url = config.clickhouseUrl
    const prepare = async () => {
      const admin = createClient({ url, username: config.clickhouseUser, password: config.clickhousePassword, clickhouse_settings: settings, log })
      try {
        await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
      } finally {
        await admin.close()
      }
    }
    const client = createClient({
      url: config.clickhouseUrl,
      username: config.clickhouseUser,
      password: config.clickhousePassword,
      database,
      clickhouse_settings: settings,
      log,
    })
    return { client, database, embedded: false, insertBlock: insertOverHttp(client), prepare, close: () => client.close() }
  }
  const dir = path.join(config.dataDir, 'clickhouse')
  fs.mkdirSync(dir, { recursive: true })
  const connection = new EngineConnection(() => Engine.open(dir, ENGINE_ARGS, ENGINE_CONNECTIONS))
  const client = createClient({
    connection: connection as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'],
    clickhouse_settings: { ...settings, ...NO_QUESTION_LIMITS },
    log,
  })
  const close = () => client.close()
  // every write of this process goes through the one connection (StoreWrites)
  followWrites(client, connection.writes)
  // an events block that says its days is logged with them once in (the spool writer's)
  const insertBlock: InsertBlock = insertFromFile(client, path.join(dir, 'user_files'), (table, block) =>
    table === 'events' && block.days ? connection.inserting(block.days) : undefined,
  )
  // The embedded engine belongs to this program alone: its tables live in chDB's `default` database.
  return { client, database: 'default', embedded: true, insertBlock, prepare: async () => undefined, close }
}

/**
 * The embedded engine's caches, sized for an analytics server on a small machine (ClickHouse's
 * defaults assume a database server: 5 GiB each for marks, primary indexes and skip-index marks).
 * The tables here are a few parts a day; these hold every mark of a year of them.
 *
 * And a cache of decompressed blocks (ClickHouse's uncompressed cache, off by default: 0 bytes),
 * which every read asks for (`use_uncompressed_cache` in the client's settings): a dashboard reads
 * today's rows again at each question, live, and decompressing them was 10-25 % of each read
 * (at ten million events over 30 days, today's 339,000 events and 119,000 visits, all their
 * columns, are ~55 MB decompressed; a read of more than 1,048,576 rows does not use the cache,
 * `merge_tree_max_rows_to_use_cache`, so a 30-day scan does not push today out, and the cache's
 * SLRU policy keeps blocks read again, as today's are at every question, from those read once,
 * as a rollup build's). Measured there, live, through the question client, medians of 7,
 * alternating with no cache: page flow 59.8 -> 54.1 ms, the funnel under `page==/pricing`
 * 49.1 -> 41.6, the outbound panel under `event==Signup` 51.5 -> 37.8, the source panel under
 * `page==/pricing;event==Signup` 76.0 -> 60.3, the aggregate 30.4 -> 28.0. At a hundred million
 * events today's reads are over that row limit and do not change.
 *
 * And the longest query text: a request's parameters reach the engine inside its text
 * (`SET param_x = '…'`, engine.ts), where ClickHouse's 256 KiB limit is met by a list of some
 * 20,000 values, as a breakdown's "(other)" may be asked over a site of many pages (the shorter
 * of its rows shown and its rows folded: service.ts `otherSums`); a server takes parameters
 * beside the query, where that limit does not apply.
 */
export const ENGINE_ARGS = [
  '--mark_cache_size=67108864',
  '--primary_index_cache_size=33554432',
  '--index_mark_cache_size=16777216',
  '--compiled_expression_cache_size=16777216',
  '--query_condition_cache_size=16777216',
  '--max_query_size=67108864',
  '--uncompressed_cache_size=67108864',
]

/**
 * Connections to the embedded engine: one per core, and one more, so that an insert or a rollup
 * build running does not hold up a question (QUESTIONS_AT_ONCE still bounds the questions).
 */
const ENGINE_CONNECTIONS = os.availableParallelism() + 1

/** What the client passes a connection (its Connection contract, @clickhouse/client's common/connection). */
interface ConnParams {
  query: string
  clickhouse_settings?: Record<string, unknown>
  query_params?: Record<string, unknown>
  abort_signal?: AbortSignal
  session_id?: string
  query_id?: string
  values?: string | Readable
}

/**
 * The embedded engine behind @clickhouse/client, without HTTP: each request goes to `Engine`
 * (store/engine.ts) as `analytics store serve` would give it, with its settings and parameters in
 * ClickHouse's text form, on a connection of its own, so questions, inserts and builds run side
 * by side on the machine's cores. (chDB's own adapter for the client, `chdb/connection`, prefixes
 * every query with a SET per setting and runs every query with parameters one at a time, engine-wide.)
 *
 * The engine is opened on first use rather than at start: a data directory it cannot open
 * (read-only, say) fails each query, like a server refusing connections, until it can, and the
 * collector keeps taking beacons into its spool meanwhile. Closing waits for the queries still
 * running (the engine closed under one crashes the process); once closing, new work is refused as
 * a store that cannot be reached (503).
 */
class EngineConnection {
  private engine: Promise<Engine> | null = null
  private running = new Set<Promise<unknown>>()
  private closing = false
  /** The engine's directory is this process's alone (its lock), so its writes are all seen here. */
  readonly writes = new StoreWrites()
  /** The days of each events block on its way in, by its insert's query id (`inserting`). */
  private daysOf = new Map<string, DayRows>()
  private insertSeq = 0

  /**
   * The query id for an insert of an events block with these days: once in, the insert is
   * logged with them (StoreWrites.inserted). The days travel with the query's id rather than in
   * an AsyncLocalStorage, which would make Node track every promise of the process, beacons
   * included: 3-7 µs more main thread a beacon under the bench's load.
   */
  inserting(days: DayRows): string {
    const id = `insert-days-${++this.insertSeq}`
    this.daysOf.set(id, days)
    return id
  }

  constructor(private open: () => Promise<Engine>) {}

  private unavailable(message: string): Error {
    return Object.assign(new Error(message), { code: 'CHDB_CONNECTION' })
  }

  private run(p: ConnParams, data?: Buffer): Promise<EngineResult> {
    const days = p.query_id === undefined ? undefined : this.daysOf.get(p.query_id)
    if (days) this.daysOf.delete(p.query_id!)
    if (this.closing) return Promise.reject(this.unavailable('the store is closing'))
    const reads = onlyReads(p.query)
    if (!reads && !days) this.writes.changed()
    const work = this.runOpen(p, data)
    this.running.add(work)
    const done = () => void this.running.delete(work)
    work.then(done, done)
    // before the caller resumes: a question asked after an insert returned knows of it
    if (!reads) work.then(() => (days ? this.writes.inserted(days) : this.writes.changed()), () => this.writes.changed())
    return work
  }

  private async runOpen(p: ConnParams, data?: Buffer): Promise<EngineResult> {
    if (p.session_id) throw new Error('sessions are not served by the embedded store')
    if (!this.engine) {
      this.engine = this.open()
      // a directory that cannot be opened now may be later: the next query tries again
      this.engine.catch(() => (this.engine = null))
    }
    const engine = await this.engine.catch((err: unknown) => {
      throw this.unavailable(`the embedded store cannot be opened: ${(err as Error).message}`)
    })
    const settings = new Map<string, string>()
    let format = 'TabSeparated'
    for (const [name, value] of Object.entries(p.clickhouse_settings ?? {})) {
      if (value === undefined || HTTP_ONLY_SETTINGS.has(name)) continue
      if (name === 'default_format') format = String(value)
      else settings.set(name, formatQuerySettings(value as Parameters<typeof formatQuerySettings>[0]))
    }
    const params: Record<string, string> = {}
    for (const [name, value] of Object.entries(p.query_params ?? {})) params[name] = formatQueryParams({ value })
    try {
      return await engine.run({ query: p.query, database: 'default', settings, params, format, data })
    } catch (err) {
      // as the client's HTTP connection reports a server's error: a ClickHouseError with its code and type
      throw parseError((err as Error).message)
    }
  }

  private answer(r: EngineResult, query_id: string = crypto.randomUUID()) {
    const bytes = Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength)
    return {
      query_id,
      response_headers: {},
      http_status_code: 200,
      stream: Readable.from([bytes], { objectMode: false }),
      summary: summary(r),
    }
  }

  async query(p: ConnParams) {
    return this.answer(await this.run(p), p.query_id)
  }
  async exec(p: ConnParams) {
    return this.answer(await this.run(p, p.values === undefined ? undefined : await bodyOf(p.values)), p.query_id)
  }
  async command(p: ConnParams) {
    const { stream: _, ...rest } = this.answer(await this.run(p), p.query_id)
    return rest
  }
  async insert(p: ConnParams & { values: string | Readable }) {
    const { stream: _, ...rest } = this.answer(await this.run(p, await bodyOf(p.values)), p.query_id)
    return rest
  }
  async ping() {
    try {
      await this.run({ query: 'SELECT 1' })
      return { success: true as const }
    } catch (err) {
      return { success: false as const, error: err as Error }
    }
  }
  async close() {
    this.closing = true
    await Promise.allSettled([...this.running])
    const engine = await this.engine?.catch(() => null)
    await engine?.close()
  }
}


async function bodyOf(values: string | Readable): Promise<Buffer> {
  if (typeof values === 'string') return Buffer.from(values)
  const chunks: Buffer[] = []
  for await (const chunk of values) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks)
}
