import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'

/**
 * The embedded ClickHouse engine (chDB) as a server uses it: a few connections to one data
 * directory, each taking one request at a time, so that what a request sets (its database, its
 * settings) applies to it alone, as on a ClickHouse server, where every HTTP request starts from
 * the defaults. chDB keeps a connection's settings from one query to the next; a connection
 * therefore remembers what it was set to and is set back (`SET x = DEFAULT`) before a request
 * that does not ask for it.
 *
 * Requests go to the engine through the call chDB's own `Session` makes (its native binding):
 * the HTTP interface carries parameter values already in ClickHouse's text form (`param_x`,
 * escaped by the client), which `Session.queryBindAsync` would escape a second time.
 *
 * An insert's data is written to a file the engine reads (`INSERT … FROM INFILE`): chDB's own
 * way of passing data inline reads a binary format's block only up to 128 KiB (a spool segment's
 * Native block is megabytes; the engine then answers CANNOT_READ_ALL_DATA), and a file is read
 * whole, in any format, as the embedded store's own inserts are (store/insert-block.ts).
 */

interface RawResult {
  bytes: Uint8Array
  elapsed: number
  rowsRead: number
  bytesRead: number
}

/** The native call of chDB's binding this module uses (chdb/index.js makes the same). */
interface ChdbNative {
  QueryAsyncConnection(connection: unknown, sql: string, format: string, params?: Record<string, string>): Promise<RawResult>
}

interface ChdbSession {
  connection: unknown
  close(): void
}

const require = createRequire(import.meta.url)
const chdbRoot = path.dirname(require.resolve('chdb'))

function loadChdb(): { Session: new (dir: string, opts: { connectionArgs: string[] }) => ChdbSession; native: ChdbNative } {
  const { Session } = require('chdb') as { Session: new (dir: string, opts: { connectionArgs: string[] }) => ChdbSession }
  // the binding chDB loaded itself (Node's module cache hands back the same instance)
  const native = (require(path.join(chdbRoot, 'dist/loader.js')) as { loadNative(): ChdbNative }).loadNative()
  return { Session, native }
}

/** Settings of the HTTP layer itself, meaningless to the engine: dropped from a request (chDB's own adapter for the client drops the same). */
export const HTTP_ONLY_SETTINGS = new Set([
  'wait_end_of_query', 'enable_http_compression', 'send_progress_in_http_headers', 'http_headers_progress_interval_ms',
  'http_response_buffer_size', 'http_zlib_compression_level', 'http_native_compression_disable_checksumming_on_decompress',
  'http_send_progress_interval_ms', 'http_response_compression_method', 'cancel_http_readonly_queries_on_client_close',
])

/** What one HTTP request asks of the engine. */
export interface EngineRequest {
  query: string
  /** The database unqualified names refer to. */
  database: string
  /** Settings for this request alone, as the URL carries them (text). */
  settings: Map<string, string>
  /** `param_<name>` values, in ClickHouse's text form. */
  params: Record<string, string>
  /** The output format when the query names none. */
  format: string
  /** An insert's data: the query is `INSERT … FORMAT <fmt>` and this its body, in that format. */
  data?: Buffer
}

export interface EngineResult {
  bytes: Uint8Array
  elapsedS: number
  readRows: number
  readBytes: number
  writtenRows: number
  writtenBytes: number
}

/** The X-ClickHouse-Summary of a request, as a ClickHouse server gives it (counts as strings). */
export function summary(r: EngineResult) {
  const read = r.writtenRows ? r.writtenRows : r.readRows
  return {
    read_rows: String(read),
    read_bytes: String(r.writtenRows ? r.writtenBytes : r.readBytes),
    written_rows: String(r.writtenRows),
    written_bytes: String(r.writtenBytes),
    total_rows_to_read: '0',
    result_rows: String(r.writtenRows ? 0 : r.readRows),
    result_bytes: String(r.writtenRows ? 0 : r.readBytes),
    elapsed_ns: String(Math.round(r.elapsedS * 1e9)),
  }
}

interface Connection {
  session: ChdbSession
  database: string
  /** The settings this connection was last set to; a value of null: unknown (a SET that failed). */
  settings: Map<string, string | null>
  /** The query parameters it holds (`bind`). */
  params: Set<string>
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
/** `INSERT INTO t (…) [SETTINGS …] FORMAT <name>`: where `FROM INFILE` goes. */
const INSERT_CLAUSES = /^(\s*INSERT\s[\s\S]*?)((?:\sSETTINGS\s[\s\S]*?)?\sFORMAT\s+[A-Za-z0-9_]+\s*)$/i

/** A ClickHouse string literal. */
export function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** An error in ClickHouse's own words (`Code: N. DB::Exception: … (NAME)`), as the server would answer it. */
export class EngineError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }

  static of(err: unknown): EngineError {
    if (err instanceof EngineError) return err
    const message = err instanceof Error ? err.message : String(err)
    const code = /Code: (\d+)\./.exec(message)
    // STD_EXCEPTION: the engine failed without a ClickHouse code (a connection it could not open)
    return new EngineError(code ? Number(code[1]) : 1001, code ? message : `Code: 1001. DB::Exception: ${message} (STD_EXCEPTION)`)
  }

  static named(code: number, name: string, text: string): EngineError {
    return new EngineError(code, `Code: ${code}. DB::Exception: ${text}. (${name})`)
  }
}

export class Engine {
  private idle: Connection[] = []
  private waiting: ((c: Connection) => void)[] = []
  private all: Connection[] = []
  private running = new Set<Promise<unknown>>()
  private known: Set<string> | null = null
  private closing = false
  /** Names the files of inserts' data. */
  private seq = 0

  private constructor(
    private native: ChdbNative,
    /** Where an insert's data waits for the engine to read it. */
    private inserts: string,
  ) {}

  /**
   * Opens `connections` connections to the engine under `dir` (started with `engineArgs` by the
   * first). As many as the machine has cores by default: a query runs on one of them at a time.
   */
  static async open(dir: string, engineArgs: string[], connections = Math.max(2, os.availableParallelism())): Promise<Engine> {
    const { Session, native } = loadChdb()
    // the data of inserts a crash interrupted: their senders were answered with an error, and send them again
    const inserts = path.join(dir, 'user_files', 'http-inserts')
    fs.rmSync(inserts, { recursive: true, force: true })
    fs.mkdirSync(inserts, { recursive: true, mode: 0o700 })
    const engine = new Engine(native, inserts)
    for (let i = 0; i < connections; i++) {
      const conn: Connection = { session: new Session(dir, { connectionArgs: engineArgs }), database: 'default', settings: new Map(), params: new Set() }
      engine.all.push(conn)
      engine.idle.push(conn)
    }
    const names = await engine.native.QueryAsyncConnection(engine.all[0].session.connection, 'SELECT name FROM system.settings', 'TabSeparated')
    engine.known = new Set(Buffer.from(names.bytes).toString('utf8').split('\n').filter(Boolean))
    return engine
  }

  /** Runs one request on a connection of its own; rejects with an EngineError. */
  run(req: EngineRequest): Promise<EngineResult> {
    if (this.closing) return Promise.reject(EngineError.named(210, 'NETWORK_ERROR', 'the store is shutting down'))
    const work = this.acquire().then(async (conn) => {
      try {
        return await this.execute(conn, req)
      } finally {
        this.release(conn)
      }
    })
    this.running.add(work)
    const done = () => void this.running.delete(work)
    work.then(done, done)
    return work.catch((err: unknown) => {
      throw EngineError.of(err)
    })
  }

  private async execute(conn: Connection, req: EngineRequest): Promise<EngineResult> {
    const handle = conn.session.connection
    await this.use(conn, req.database)
    // what the request sets goes in the same call as its query (`SET …; <query>`): each call to the
    // engine is a hand-over to its threads and back, which costs more than the SET itself
    const set = this.assignments(conn, req.settings, req.params)
    const prefix = set.length === 0 ? '' : `SET ${set.join(', ')}; `
    try {
      if (req.data) return await this.insert(handle, prefix, req.query, req.data)
      const r = await this.native.QueryAsyncConnection(handle, prefix + req.query, req.format)
      return { bytes: r.bytes, elapsedS: r.elapsed, readRows: r.rowsRead, readBytes: r.bytesRead, writtenRows: 0, writtenBytes: 0 }
    } catch (err) {
      // the SET may or may not have been applied: set each setting again (or back) next time, and
      // clear every parameter either request named
      if (prefix !== '') {
        for (const name of new Set([...req.settings.keys(), ...conn.settings.keys()])) conn.settings.set(name, null)
        conn.params = new Set([...conn.params, ...Object.keys(req.params)])
      }
      throw err
    }
  }

  private async insert(handle: unknown, prefix: string, query: string, data: Buffer): Promise<EngineResult> {
    // an empty body inserts nothing, as a server answers it (the engine itself would say NO_DATA_TO_INSERT)
    if (data.length === 0) {
      if (prefix !== '') await this.native.QueryAsyncConnection(handle, prefix.replace(/; $/, ''), 'TabSeparated')
      return { bytes: new Uint8Array(0), elapsedS: 0, readRows: 0, readBytes: 0, writtenRows: 0, writtenBytes: 0 }
    }
    const clauses = INSERT_CLAUSES.exec(query)
    if (!clauses) throw EngineError.named(62, 'SYNTAX_ERROR', 'an insert with data must end with FORMAT <format>')
    // a name of this process's making; no extension, so that the engine guesses no compression
    const file = path.join(this.inserts, `${process.pid}-${this.seq++}`)
    await fs.promises.writeFile(file, data, { mode: 0o600 })
    try {
      const r = await this.native.QueryAsyncConnection(handle, `${prefix}${clauses[1]} FROM INFILE ${quoteString(file)}${clauses[2]}`, 'TabSeparated')
      return { bytes: new Uint8Array(0), elapsedS: r.elapsed, readRows: r.rowsRead, readBytes: data.length, writtenRows: r.rowsRead, writtenBytes: data.length }
    } finally {
      await fs.promises.rm(file, { force: true })
    }
  }

  private async use(conn: Connection, database: string): Promise<void> {
    if (conn.database === database) return
    // a name that is not a plain identifier is no database of this program's
    if (!IDENTIFIER.test(database)) throw EngineError.named(81, 'UNKNOWN_DATABASE', 'Database does not exist')
    await this.native.QueryAsyncConnection(conn.session.connection, `USE ${database}`, 'TabSeparated')
    conn.database = database
  }

  /**
   * What to SET for the request, recorded as the connection's from now on: exactly the request's
   * settings (those it asks for, the engine's defaults for the rest, each only when it changes)
   * and its query parameters.
   *
   * Parameters are session parameters (`SET param_x`, ClickHouse's own way of setting them for the
   * queries of a session): each connection has its own, so questions run in parallel on several
   * connections. (chDB's per-call parameters are set engine-wide, and queries passing them must
   * run one at a time: chdb/index.js, `runExclusiveParam`.) The values arrive in ClickHouse's text
   * form, as a server's HTTP interface takes them, and reach the engine unchanged inside a string
   * literal. A session parameter cannot be unset: those an earlier request set and this one does
   * not pass are set to the empty string, so that no request ever reads another's values.
   */
  private assignments(conn: Connection, wanted: Map<string, string>, params: Record<string, string>): string[] {
    const out: string[] = []
    for (const [name, value] of wanted) {
      if (!IDENTIFIER.test(name) || !this.known!.has(name)) throw EngineError.named(115, 'UNKNOWN_SETTING', `Unknown setting '${name.slice(0, 100)}'`)
      if (conn.settings.get(name) !== value) out.push(`${name} = ${quoteString(value)}`)
    }
    for (const name of conn.settings.keys()) if (!wanted.has(name)) out.push(`${name} = DEFAULT`)
    const names = Object.keys(params)
    for (const name of names) {
      if (!IDENTIFIER.test(name)) throw EngineError.named(456, 'UNKNOWN_QUERY_PARAMETER', `Query parameter name '${name.slice(0, 100)}' is not an identifier`)
      out.push(`param_${name} = ${quoteString(params[name])}`)
    }
    for (const name of conn.params) if (!(name in params)) out.push(`param_${name} = ''`)
    for (const name of [...conn.settings.keys()]) if (!wanted.has(name)) conn.settings.delete(name)
    for (const [name, value] of wanted) conn.settings.set(name, value)
    conn.params = new Set(names)
    return out
  }

  private acquire(): Promise<Connection> {
    const conn = this.idle.pop()
    if (conn) return Promise.resolve(conn)
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  private release(conn: Connection): void {
    const next = this.waiting.shift()
    if (next) next(conn)
    else this.idle.push(conn)
  }

  /** Refuses new requests, waits for those running (closing the engine under a query crashes the process), closes it. */
  async close(): Promise<void> {
    this.closing = true
    await Promise.allSettled([...this.running])
    for (const conn of this.all) conn.session.close()
  }
}
