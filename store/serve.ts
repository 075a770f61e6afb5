import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline, type Readable } from 'node:stream'
import zlib from 'node:zlib'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { Engine, EngineError, HTTP_ONLY_SETTINGS, summary, type EngineRequest } from './engine.ts'

/**
 * `analytics store serve`: the embedded ClickHouse engine in a process of its own, served on
 * 127.0.0.1 over the part of ClickHouse's HTTP interface that `@clickhouse/client` uses, so that
 * collectors and aggregators in other processes reach it through CLICKHOUSE_URL exactly as they
 * would a ClickHouse server. It is a way to use more cores of one machine, not a database of ours:
 * every query is the engine's; this file only carries requests and answers.
 *
 * What is served: `GET /ping`; `POST /` (and read-only `GET /`) with the query in the body or
 * in `query`, `param_<name>` parameters, `database`, `default_format`, `query_id`, and every
 * other URL parameter as a setting for that request alone; `INSERT … FORMAT <fmt>` in `query`
 * with the data as the body, in any input format the engine reads (the spool writer's Native
 * blocks, JSONEachRow); a body compressed with gzip, deflate or br (`Content-Encoding`). Answers
 * carry `X-ClickHouse-Summary`, `X-ClickHouse-Query-Id` and `X-ClickHouse-Format`; errors
 * ClickHouse's code in `X-ClickHouse-Exception-Code` and its message as the body. Answers are
 * sent uncompressed (a request's `enable_http_compression` is not needed on one machine).
 * Not served: sessions (`session_id`), multipart parameters, the native TCP protocol.
 */

/** URL parameters of the HTTP interface that are not settings. */
const NOT_SETTINGS = new Set([
  'query', 'query_id', 'database', 'default_format', 'user', 'password', 'quota_key', 'role',
  'session_id', 'session_timeout', 'session_check', 'compress', 'decompress', 'buffer_size',
  'stacktrace', 'client_protocol_version',
])

/** The HTTP status ClickHouse's server answers an error code with (the client reads only the body and the code). */
const STATUS: Record<number, number> = {
  194: 401, // REQUIRED_PASSWORD
  516: 403, // AUTHENTICATION_FAILED
  164: 403, // READONLY
  60: 404, // UNKNOWN_TABLE
  81: 404, // UNKNOWN_DATABASE
  46: 404, // UNKNOWN_FUNCTION
  48: 501, // NOT_IMPLEMENTED
  ...Object.fromEntries([6, 26, 27, 36, 38, 41, 42, 43, 47, 53, 62, 72, 73, 108, 115, 117, 456, 457].map((code) => [code, 400])),
}

/** `INSERT … FORMAT <name>` sent with its data as the body (how the client inserts). */
const INSERT_WITH_DATA = /^\s*INSERT\s[\s\S]*\sFORMAT\s+[A-Za-z0-9_]+\s*$/i
/** The format a query names at its end, for X-ClickHouse-Format. */
const FORMAT_CLAUSE = /\sFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i
/** What a GET may ask: ClickHouse runs a GET read-only. */
const READ_ONLY = /^\s*(?:SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS|EXPLAIN)\b/i

const digest = (s: string) => crypto.createHash('sha256').update(s).digest()

export interface StoreServerOptions {
  engine: Engine
  user: string
  password: string
  logLevel?: string
}

/** The HTTP interface over `engine`; `listen` is the caller's. */
export async function buildStoreServer(opts: StoreServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // nothing of a request is logged: queries carry the values of events
    logger: { level: opts.logLevel ?? 'info' },
    logController: new LogController({ disableRequestLogging: true }),
    // an insert is a spool segment: thousands of rows in one body
    bodyLimit: 1024 ** 3,
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (req, payload, done) => {
    readBody(req, payload).then((body) => done(null, body), (err: Error) => done(err))
  })

  const expected = digest(`${opts.user}\0${opts.password}`)
  const authorised = (req: FastifyRequest): boolean | null => {
    const creds = credentials(req)
    if (!creds) return null
    return crypto.timingSafeEqual(digest(`${creds.user}\0${creds.password}`), expected)
  }

  app.get('/ping', async (_req, reply) => reply.type('text/plain; charset=UTF-8').send('Ok.\n'))
  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = new URL(req.url, 'http://store')
    const queryId = url.searchParams.get('query_id') || crypto.randomUUID()
    reply.header('x-clickhouse-query-id', queryId).header('x-clickhouse-timezone', 'UTC')
    try {
      const auth = authorised(req)
      if (auth === null) throw EngineError.named(194, 'REQUIRED_PASSWORD', `${opts.user}: Authentication failed: password is required`)
      if (!auth) throw EngineError.named(516, 'AUTHENTICATION_FAILED', 'Authentication failed: password is incorrect, or there is no user with such name')
      const request = engineRequest(url.searchParams, req.method === 'POST' ? ((req.body as Buffer | undefined) ?? Buffer.alloc(0)) : Buffer.alloc(0))
      if (!request) return reply.type('text/plain; charset=UTF-8').send('Ok.\n')
      if (req.method === 'GET' && !READ_ONLY.test(request.query)) {
        throw EngineError.named(164, 'READONLY', 'Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries')
      }
      const result = await opts.engine.run(request)
      const format = FORMAT_CLAUSE.exec(request.query)?.[1] ?? request.format
      return reply
        .header('x-clickhouse-format', format)
        .header('x-clickhouse-summary', JSON.stringify(summary(result)))
        .type(contentType(format))
        .send(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength))
    } catch (err) {
      const e = EngineError.of(err)
      // the code and its name only: an engine's message may quote the query's values
      if (!STATUS[e.code]) req.log.warn({ code: e.code, name: /\(([A-Z0-9_]+)\)\s*$/.exec(e.message)?.[1] }, 'store: a query failed')
      return reply
        .code(STATUS[e.code] ?? 500)
        .header('x-clickhouse-exception-code', String(e.code))
        .type('text/plain; charset=UTF-8')
        .send(`${e.message}\n`)
    }
  }
  app.get('/', handle)
  app.post('/', handle)
  app.setNotFoundHandler((req, reply) => reply.code(404).type('text/plain; charset=UTF-8').send(`There is no handle ${new URL(req.url, 'http://store').pathname}\n`))
  return app
}

/** The request as the engine takes it; null for a request without a query (answered `Ok.` as by ClickHouse). */
function engineRequest(search: URLSearchParams, body: Buffer): EngineRequest | null {
  if (search.has('session_id')) throw EngineError.named(48, 'NOT_IMPLEMENTED', 'sessions are not served by analytics store serve')
  const settings = new Map<string, string>()
  const params: Record<string, string> = {}
  for (const [key, value] of search) {
    if (key.startsWith('param_')) params[key.slice(6)] = value
    else if (!NOT_SETTINGS.has(key) && !HTTP_ONLY_SETTINGS.has(key)) settings.set(key, value)
  }
  const inUrl = search.get('query') ?? ''
  const insert = INSERT_WITH_DATA.test(inUrl)
  // as ClickHouse: the query is the URL's `query` followed by the body, unless the body is an insert's data
  const query = insert ? inUrl : [inUrl, body.toString('utf8')].filter(Boolean).join('\n')
  if (query.trim() === '') return null
  return { query, database: search.get('database') || 'default', settings, params, format: search.get('default_format') || 'TabSeparated', data: insert ? body : undefined }
}

/** Basic auth, X-ClickHouse-User/Key headers, or `user`/`password` in the URL: the ways ClickHouse takes them. */
function credentials(req: FastifyRequest): { user: string; password: string } | null {
  const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
  }
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined)
  const user = header('x-clickhouse-user')
  const key = header('x-clickhouse-key')
  if (user !== undefined || key !== undefined) return { user: user ?? 'default', password: key ?? '' }
  const url = new URL(req.url, 'http://store').searchParams
  if (url.has('user') || url.has('password')) return { user: url.get('user') ?? 'default', password: url.get('password') ?? '' }
  return null
}

async function readBody(req: FastifyRequest, payload: Readable): Promise<Buffer> {
  const encoding = req.headers['content-encoding']
  const decoder =
    encoding === 'gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : null
  if (encoding && !decoder) throw EngineError.named(48, 'NOT_IMPLEMENTED', `Content-Encoding ${String(encoding).slice(0, 20)} is not served`)
  const chunks: Buffer[] = []
  for await (const chunk of decoder ? pipeline(payload, decoder, () => undefined) : payload) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function contentType(format: string): string {
  if (/^(?:JSON|NDJSON)/i.test(format)) return 'application/json; charset=UTF-8'
  if (/^(?:TSV|TabSeparated|CSV|Pretty|Vertical|Markdown|Values)/i.test(format)) return 'text/plain; charset=UTF-8'
  return 'application/octet-stream'
}

/**
 * The store server's password: CLICKHOUSE_PASSWORD, or one generated on first start into
 * `$ANALYTICS_DATA_DIR/store-password` (the owner's alone), for collectors and aggregators to
 * use as their CLICKHOUSE_PASSWORD.
 */
export function resolveStorePassword(configured: string | undefined, dataDir: string): { password: string; file: string | null } {
  if (configured) return { password: configured, file: null }
  const file = path.join(dataDir, 'store-password')
  if (fs.existsSync(file)) return { password: fs.readFileSync(file, 'utf8').trim(), file }
  const password = crypto.randomBytes(24).toString('base64url')
  fs.writeFileSync(file, password + '\n', { mode: 0o600 })
  return { password, file }
}

export interface ServeStoreOptions {
  dataDir: string
  port: number
  user: string
  password: string
  engineArgs: string[]
  logLevel?: string
}

/** Opens the engine under `dataDir/clickhouse` and serves it on 127.0.0.1:`port` until SIGTERM or SIGINT. */
export async function serveStore(opts: ServeStoreOptions): Promise<{ url: string; close(): Promise<void> }> {
  const dir = path.join(opts.dataDir, 'clickhouse')
  fs.mkdirSync(dir, { recursive: true })
  const engine = await Engine.open(dir, opts.engineArgs)
  const app = await buildStoreServer({ engine, user: opts.user, password: opts.password, logLevel: opts.logLevel })
  // one machine's loopback only: the wire is plain HTTP, and a remote store is a ClickHouse server's job
  await app.listen({ host: '127.0.0.1', port: opts.port })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= (async () => {
      await app.close()
      await engine.close()
    })())
  app.log.info(`the store (${dir}) answers on ${url}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.log.info(`${signal}: finishing the queries running and stopping`)
      void close().finally(() => process.exit(0))
    })
  }
  return { url, close }
}
