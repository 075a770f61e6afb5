/**
 * `npm run fuzz`: the bad-input properties of test/fuzz.test.ts for FUZZ_SECONDS (default 60)
 * against the real server, started as users start it (its own process on 127.0.0.1, a fresh
 * data directory), over real HTTP with FUZZ_CONCURRENCY (default 8) clients at once. Every
 * statistics route and parameter is taken from the server's own OpenAPI document.
 *
 * Prints requests tried, statuses by target, 5xx answers (must be 0), unexpected answers
 * (must be 0), whether the server is still healthy, and whether the store is clean: every
 * table still there, every stored row of a registered site with a path, no derived column
 * carrying injected text, and the store's privacy audit empty. Exits 1 if any of it fails.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { openStore } from '../store/client.ts'
import { loadConfig } from '../server/config.ts'
import { collectorEnv, freePort, serveArgs } from './lib.ts'
import { GIF_MAGIC, MARKERS, SITES, badUtf8, body, clientIp, contentType, enc, gifQuery, markup, queryFor, userAgent } from '../test/helpers/fuzz-inputs.ts'

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 60)
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 8)
const TOKEN = 'fuzz-admin-token'
const root = path.resolve(import.meta.dirname, '..')

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-fuzz-'))
const port = await freePort()
const base = `http://127.0.0.1:${port}`
const env = collectorEnv(dataDir, port, TOKEN, {
  SPOOL_FSYNC: '0',
  ROLLUP_INTERVAL_MS: '5000', // rollups run over the junk too
  // the junk is meant for the pipeline, not the per-client limiter (test/abuse.test.ts covers that):
  // a few addresses send it all, and would mostly get 429
  INGEST_RATE_LIMIT: process.env.INGEST_RATE_LIMIT ?? '0',
})
const server = spawn(process.execPath, serveArgs(), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
let serverLog = ''
server.stdout!.on('data', (d) => (serverLog += d))
server.stderr!.on('data', (d) => (serverLog += d))
let exitedEarly = false
server.on('exit', () => (exitedEarly = true))

async function waitHealthy(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (exitedEarly) throw new Error(`server exited:\n${serverLog}`)
    try {
      if ((await fetch(`${base}/healthz`)).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`server did not start:\n${serverLog}`)
}

const admin = { authorization: `Bearer ${TOKEN}` }
await waitHealthy()
for (const domain of SITES) {
  const res = await fetch(`${base}/api/v1/sites`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ domain }) })
  if (res.status >= 300) throw new Error(`could not add ${domain}: ${res.status} ${await res.text()}`)
}
// a little real traffic, so that the statistics have something to count
for (let i = 0; i < 20; i++) {
  await fetch(`${base}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'x-forwarded-for': `192.0.2.${i + 1}`, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0' },
    body: JSON.stringify({ n: 'pageview', u: `https://example.com/${['', 'pricing', 'blog'][i % 3]}`, d: 'example.com' }),
  })
}

/** Every GET statistics route and its query parameters, from the server's OpenAPI document. */
const openapi = (await (await fetch(`${base}/api/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters?: { in: string; name: string }[] } }> }
const statsRoutes = Object.entries(openapi.paths)
  .filter(([p, ops]) => ops.get && /^\/api\/v1\/(stats\/|export|funnel|goals|shared-link)/.test(p))
  .map(([p, ops]) => ({ url: p, params: (ops.get!.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name) }))
if (statsRoutes.length < 8) throw new Error(`only ${statsRoutes.length} statistics routes found in the OpenAPI document`)

// ---------------------------------------------------------------------------------------------

interface Tried {
  target: string
  method: string
  url: string
  status: number
  body: string
  contentType: string
  extra?: string
}

const statuses: Record<string, Record<number, number>> = {}
const failures: string[] = []
let requests = 0
let fiveXX = 0
let networkErrors = 0

function expectThat(ok: boolean, what: string, t: Tried) {
  if (ok) return
  if (failures.length < 20) failures.push(`${what}: ${t.method} ${t.url.slice(0, 300)} → ${t.status} ${t.body.slice(0, 200)}${t.extra ? ` (${t.extra.slice(0, 200)})` : ''}`)
  else failures.push('')
}

function echoes(s: string): boolean {
  const l = s.toLowerCase()
  return MARKERS.some((m) => l.includes(m.toLowerCase()))
}

function errorOf(t: Tried): string | undefined {
  try {
    const e = (JSON.parse(t.body) as { error?: unknown }).error
    return typeof e === 'string' ? e : undefined
  } catch {
    return undefined
  }
}

/** Batches of samples, refilled as they run out (sampling one by one would be slow). */
function pool<T>(arb: fc.Arbitrary<T>): () => T {
  let batch: T[] = []
  return () => {
    if (!batch.length) batch = fc.sample(arb, 200)
    return batch.pop()!
  }
}
const nextEvent = pool(fc.tuple(fc.oneof({ weight: 6, arbitrary: body.map((b) => Buffer.from(b)) }, { weight: 1, arbitrary: badUtf8 }), contentType, clientIp, userAgent))
const nextGif = pool(fc.tuple(gifQuery, userAgent))
const nextQuery = new Map(statsRoutes.map((r) => [r.url, pool(queryFor(r.params))]))
const pagePrefix = ['/privacy?site=', '/privacy.json?site=', '/sites/', '/share/', '/sites/example.com?filters=', '/share/shr_x_y?embed=1&x=', '/api/v1/nope/']
const nextPage = pool(fc.tuple(markup, fc.constantFrom(...pagePrefix)))

async function send(target: string, method: string, url: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Tried | null> {
  requests++
  try {
    const res = await fetch(`${base}${url}`, { method, ...init, signal: AbortSignal.timeout(20_000) })
    const buf = Buffer.from(await res.arrayBuffer())
    const t: Tried = { target, method, url, status: res.status, body: buf.toString('latin1'), contentType: res.headers.get('content-type') ?? '', extra: res.headers.get('x-analytics-error') ?? undefined }
    ;(statuses[target] ??= {})[res.status] = (statuses[target][res.status] ?? 0) + 1
    if (res.status >= 500) fiveXX++ // 503 included: a spool that fills up under this load would be worth knowing too
    return t
  } catch (err) {
    const msg = (err as Error).message
    // the client refusing to send a header value is the client's business, not the server's
    if (/header|invalid/i.test(msg) && !/timeout|ECONNRE|socket/i.test(msg)) return null
    networkErrors++
    if (failures.length < 20) failures.push(`network error: ${method} ${url.slice(0, 200)}: ${msg}`)
    return null
  }
}

async function one(): Promise<void> {
  const r = Math.random()
  if (r < 0.4) {
    const [payload, ct, ip, ua] = nextEvent()
    const t = await send('POST /api/event', 'POST', '/api/event', { headers: { 'content-type': ct, 'x-forwarded-for': ip, 'user-agent': ua }, body: payload })
    if (!t) return
    expectThat([202, 400, 413, 415, 429, 431].includes(t.status), 'status', t)
    if (t.status !== 202 && t.status !== 431) {
      const e = errorOf(t)
      expectThat(e !== undefined, 'error body without an error string', t)
      expectThat(e === undefined || (!echoes(e) && !(payload.length >= 12 && e.includes(payload.toString('utf8')))), 'error echoes the input', t)
    }
  } else if (r < 0.6) {
    const [query, ua] = nextGif()
    const t = await send('GET /p.gif', 'GET', `/p.gif?${query}`, { headers: { 'user-agent': ua, 'x-forwarded-for': '198.51.100.7' } })
    if (!t) return
    expectThat([200, 400, 429, 431].includes(t.status), 'status', t)
    if (t.status !== 431) {
      expectThat(t.contentType.startsWith('image/gif') && t.body.startsWith(GIF_MAGIC), 'not a GIF', t)
      expectThat(!t.extra || !echoes(t.extra), 'x-analytics-error echoes the input', t)
    }
  } else if (r < 0.92) {
    const route = statsRoutes[Math.floor(Math.random() * statsRoutes.length)]
    const t = await send(`GET ${route.url}`, 'GET', `${route.url}?${nextQuery.get(route.url)!()}`, { headers: admin })
    if (!t) return
    expectThat([200, 400, 403, 404].includes(t.status), 'status', t)
    if (t.status >= 400) {
      const e = errorOf(t)
      expectThat(e !== undefined && !echoes(e), 'error missing or echoing the input', t)
    }
  } else {
    const [payload, prefix] = nextPage()
    const url = prefix + enc(payload)
    const t = await send('GET pages', 'GET', url)
    if (!t) return
    expectThat(t.status < 500, 'status', t)
    const html = /html/.test(t.contentType)
    expectThat(!(html && (Buffer.from(t.body, 'latin1').toString('utf8').includes(payload) || /onerror=|onload=/i.test(t.body))), 'markup reflected into a page', t)
  }
}

// ---------------------------------------------------------------------------------------------

const started = Date.now()
const deadline = started + SECONDS * 1000
let unhealthy = 0
const healthTimer = setInterval(() => {
  fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(
    (r) => void (r.ok || unhealthy++),
    () => void unhealthy++,
  )
}, 5000)
let lastReport = started
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < deadline && !exitedEarly) {
      await one()
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now()
        console.log(`${Math.round((lastReport - started) / 1000)} s: ${requests} requests, ${fiveXX} 5xx, ${failures.length} unexpected`)
      }
    }
  }),
)
clearInterval(healthTimer)
const elapsed = (Date.now() - started) / 1000

// the server afterwards: healthy, the spool drained, the audit clean
let healthyAfter = false
let spoolBytes = -1
for (let i = 0; i < 100 && !exitedEarly; i++) {
  try {
    const h = (await (await fetch(`${base}/healthz`)).json()) as { status: string; spoolBytes: number }
    healthyAfter = h.status === 'ok'
    spoolBytes = h.spoolBytes
    if (spoolBytes === 0) break
  } catch {
    healthyAfter = false
  }
  await new Promise((r) => setTimeout(r, 200))
}
let auditFindings = -1
let auditSample: unknown[] = []
try {
  const audit = (await (await fetch(`${base}/api/v1/admin/audit`, { headers: admin })).json()) as { findings: unknown[] }
  auditFindings = audit.findings.length
  auditSample = audit.findings.slice(0, 5)
} catch {
  // counted as not clean below
}
const crashed = exitedEarly
server.kill('SIGTERM')
await new Promise<void>((resolve) => (server.exitCode !== null ? resolve() : server.once('exit', () => resolve())))

// the store, opened here once the server is gone
const store = await openStore(loadConfig({ ...env }))
const q = async <T>(query: string) => (await store.client.query({ query, format: 'JSONEachRow' })).json<T>()
const tables = (await q<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name')).map((r) => r.name)
// every table the migrations create
const migrations = path.join(root, 'store/migrations')
const expectedTables = fs.readdirSync(migrations).flatMap((f) => [...fs.readFileSync(path.join(migrations, f), 'utf8').matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)].map((m) => m[1]))
const missingTables = expectedTables.filter((t) => !tables.includes(t))
const stored = await q<Record<string, unknown>>('SELECT * FROM events')
const VISITOR_TEXT = new Set(['name', 'pathname', 'props', 'query', 'referrer_path', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'])
let junkRows = 0
let markupAsText = 0
for (const row of stored) {
  const dirty = Object.entries(row).filter(([, v]) => /<script|onerror=|onload=/i.test(JSON.stringify(v))).map(([k]) => k)
  if (dirty.length) markupAsText++
  if (!SITES.includes(String(row.site)) || !String(row.pathname).startsWith('/') || dirty.some((k) => !VISITOR_TEXT.has(k))) {
    junkRows++
    if (failures.length < 20) failures.push(`junk row stored: ${JSON.stringify(row).slice(0, 300)}`)
  }
}
await store.close()
const serverErrors = serverLog.split('\n').filter((l) => /request failed|uncaught|unhandled|FATAL/i.test(l))

const clean = missingTables.length === 0 && junkRows === 0 && auditFindings === 0
const ok = fiveXX === 0 && failures.length === 0 && networkErrors === 0 && !crashed && healthyAfter && unhealthy === 0 && clean && serverErrors.length === 0
console.log(`
fuzz summary (${elapsed.toFixed(0)} s, ${CONCURRENCY} clients, real server on ${base})
  requests tried        ${requests} (${(requests / elapsed).toFixed(0)}/s)
  statuses by target`)
for (const [target, s] of Object.entries(statuses).sort()) console.log(`    ${target.padEnd(30)} ${Object.entries(s).map(([k, v]) => `${k}: ${v}`).join(', ')}`)
console.log(`  5xx answers           ${fiveXX} (must be 0)
  unexpected answers    ${failures.length} (must be 0)
  network errors        ${networkErrors}
  server crashed        ${crashed ? 'yes' : 'no'}; failed health checks during the run: ${unhealthy}; healthy afterwards: ${healthyAfter ? 'yes' : 'no'} (spool ${spoolBytes} bytes)
  server error log      ${serverErrors.length} lines
  store                 ${stored.length} events stored; junk rows ${junkRows}; rows with visitor-typed markup kept as text ${markupAsText}; missing tables ${missingTables.length ? missingTables.join(', ') : 'none'}; privacy audit findings ${auditFindings}
  result                ${ok ? 'PASS' : 'FAIL'}`)
for (const f of failures.filter(Boolean).slice(0, 20)) console.log(`  - ${f}`)
for (const f of auditSample) console.log(`  audit: ${JSON.stringify(f).slice(0, 400)}`)
for (const l of serverErrors.slice(0, 10)) console.log(`  server: ${l.slice(0, 300)}`)
fs.rmSync(dataDir, { recursive: true, force: true })
process.exit(ok ? 0 : 1)
