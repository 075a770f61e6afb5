/**
 * `npm run test:load` (not part of `npm test`): the collector held under load and through
 * faults, with every accepted event accounted for. Ends with one reliability table.
 *
 *  1. Load: LOAD_SECONDS (default 60) of pageview beacons from wrk (-t1 -c50, bench's varied
 *     addresses and browsers, bench/load-script.lua) against the real collector
 *     (`node --import tsx cli/index.ts serve`, fresh data directory, example.com registered),
 *     with ~1000 malformed beacons (LOAD_JUNK) mixed in from this process. Reports req/s,
 *     p50/p99, non-2xx and socket errors, the resident memory curve (every second), and, once
 *     the collector has stopped, the store counted directly: stored == accepted, and
 *     count() == uniqExact(pathname) (every beacon carries a unique path: no duplicates).
 *  2. Faults: (a) kill -9 of the server while wrk is loading it, wrk stopped right after and
 *     its 202s taken, restart on the same data directory: every 202 stored, once;
 *     (b) a torn last spool record (half a line appended after a kill -9): the intact records
 *     stored, the torn one reported in the log; (c) a small SPOOL_CAP_BYTES with nothing sent
 *     to the store (BATCH_MS/BATCH_ROWS huge): 202 up to the cap, then 503 + Retry-After;
 *     a restart drains the spool; (d) clock jumps: not run (the system clock cannot be moved here).
 *
 * Exit status non-zero only when something failed to run, or events were lost or duplicated
 * (or a check above did not hold).
 */
import { spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanUpOnExit, countStored, fetchJson, freePort, sleep, startChild, stopChild as stopGracefully, tempDir, track, waitFor, type Child } from './lib.ts'

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const LOAD_S = Number(process.env.LOAD_SECONDS || 60)
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS || 50)
const JUNK = Number(process.env.LOAD_JUNK ?? 1000)
const KILL_LOAD_S = 6

cleanUpOnExit('test:load')






async function stopChild(c: Child, graceMs = 30_000): Promise<void> {
  await stopGracefully(c, graceMs)
}

async function kill9(c: Child): Promise<void> {
  c.proc.kill('SIGKILL')
  await c.exited
}



function rssMb(pid: number): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0
  }
}

// ---------------------------------------------------------------- the collector

const TOKEN = crypto.randomBytes(24).toString('hex')

interface Server {
  child: Child
  url: string
  dataDir: string
  env: NodeJS.ProcessEnv
}

async function startServer(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Server> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANALYTICS_DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    ANALYTICS_ADMIN_TOKEN: TOKEN,
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  }
  const child = startChild(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'serve'], env)
  await waitFor('collector: GET /healthz', child, 90_000, async () => ((await fetchJson(url + '/healthz')).status === 200 ? true : undefined))
  return { child, url, dataDir, env }
}

async function registerSite(s: Server): Promise<void> {
  const added = await fetchJson(s.url + '/api/v1/sites', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ domain: 'example.com', timezone: 'UTC' }),
  })
  if (added.status !== 201) throw new Error(`registering example.com answered ${added.status} ${JSON.stringify(added.json)}`)
}

/** Waits until /healthz reports an empty spool twice in a row. */
async function drain(s: Server, timeoutMs = 120_000): Promise<number> {
  const t0 = Date.now()
  let empty = 0
  await waitFor('spool drain', s.child, timeoutMs, async () => {
    const h = await fetchJson(s.url + '/healthz')
    if (h.status === 200 && h.json.spoolBytes === 0) empty++
    else empty = 0
    return empty >= 2 ? true : undefined
  })
  return Date.now() - t0
}

/** Stops the collector cleanly (it flushes what is left); throws unless it exits 0. */
async function stopServer(s: Server): Promise<void> {
  await stopChild(s.child)
  const exit = s.child.proc.exitCode ?? s.child.proc.signalCode
  if (exit !== 0) throw new Error(`the collector did not stop cleanly (${exit}). Its output:\n${s.child.output().slice(-4000)}`)
}


// ---------------------------------------------------------------- beacons from this process

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
]
const DOC_RANGES = ['192.0.2.', '198.51.100.', '203.0.113.']
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]

/** n in the letters g..z, as the wrk script writes its markers (no digits: the URL scrubber keeps it). */
function letters(n: number): string {
  let s = ''
  do {
    s = String.fromCharCode(103 + (n % 20)) + s
    n = Math.floor(n / 20)
  } while (n > 0)
  return s
}

function visitorHeaders(): Record<string, string> {
  return { 'content-type': 'text/plain', 'user-agent': pick(AGENTS), 'x-forwarded-for': pick(DOC_RANGES) + (1 + Math.floor(Math.random() * 254)) }
}

/** One beacon with a unique path /load/<tag>/<n>; its status and Retry-After header. */
async function beacon(url: string, tag: string, n: number): Promise<{ status: number; retryAfter: string | null; dropped: boolean }> {
  const res = await fetch(url + '/api/event', {
    method: 'POST',
    headers: visitorHeaders(),
    body: JSON.stringify({ n: 'pageview', u: `https://example.com/load/${tag}/${letters(n)}`, d: 'example.com', r: 'https://www.google.com/', w: 1280 }),
    signal: AbortSignal.timeout(10_000),
  })
  await res.arrayBuffer()
  return { status: res.status, retryAfter: res.headers.get('retry-after'), dropped: res.headers.has('x-analytics-dropped') }
}

/** Malformed beacons: what a hostile or broken client sends. Each must be answered 400 or 413. */
function junkBody(i: number): { body: string | Buffer; type: string } {
  const u = `https://example.com/junk/${letters(i)}`
  const kinds: (() => { body: string | Buffer; type: string })[] = [
    () => ({ body: `{"n":"pageview","u":"${u}",`, type: 'text/plain' }), // truncated JSON
    () => ({ body: 'not json at all', type: 'text/plain' }),
    () => ({ body: pick(['[]', 'null', '42', '"pageview"', 'true']), type: 'application/json' }),
    () => ({ body: JSON.stringify({ n: 5, u: [u], d: { x: 1 } }), type: 'text/plain' }), // wrong types
    () => ({ body: JSON.stringify({ n: 'pageview', d: 'example.com' }), type: 'text/plain' }), // no URL
    () => ({ body: `{"__proto__":{"polluted":1},"constructor":{"prototype":{}},"n":"pageview","u":"javascript:alert(1)","d":"example.com"}`, type: 'text/plain' }),
    () => ({ body: JSON.stringify({ n: 'pageview', u, d: 'example.com', p: 'x'.repeat(20_000) }), type: 'text/plain' }), // past the body limit: 413
    () => ({ body: Buffer.concat([Buffer.from('{"n":"pageview","u":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('","d":"example.com"}')]), type: 'text/plain' }),
    () => ({ body: '['.repeat(4000) + ']'.repeat(4000), type: 'text/plain' }), // deep nesting
    () => ({ body: JSON.stringify({ n: 'pageview', u: "'; DROP TABLE events; --<script>alert(1)</script>", d: 'example.com', w: -1 }), type: 'text/plain' }), // SQL/script text, not a URL
  ]
  return kinds[i % kinds.length]()
}

async function junkBurst(url: string, total: number, concurrency = 4): Promise<{ tried: number; byStatus: Record<string, number>; errors: number }> {
  const byStatus: Record<string, number> = {}
  let next = 0
  let errors = 0
  const worker = async () => {
    while (next < total) {
      const i = next++
      const { body, type } = junkBody(i)
      try {
        const res = await fetch(url + '/api/event', { method: 'POST', headers: { ...visitorHeaders(), 'content-type': type }, body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]), signal: AbortSignal.timeout(10_000) })
        await res.arrayBuffer()
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1
      } catch {
        errors++
      }
      await sleep(20) // spread across the load rather than one burst at the start
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { tried: total, byStatus, errors }
}

// ---------------------------------------------------------------- wrk

interface WrkResult {
  sent: number
  dropped: number
  byStatus: Record<string, number>
  completed: number
  seconds: number
  errors: { connect: number; read: number; write: number; status: number; timeout: number }
  p50ms: number
  p99ms: number
  maxMs: number
  rps: number
  accepted: number
}

/**
 * wrk -t1 -cN with bench/load-script.lua. park: send for `seconds`, then park every connection
 * so all beacons are answered before wrk stops. Otherwise `interrupt` is called once wrk runs
 * and wrk is stopped with SIGINT when it resolves (its done() still reports).
 */
async function runWrk(url: string, opts: { seconds: number; tag: string; park: boolean; interrupt?: () => Promise<void> }): Promise<WrkResult> {
  const duration = opts.park ? opts.seconds + 2 : opts.seconds + 60
  const argv = ['-t1', `-c${CONNECTIONS}`, `-d${duration}s`, '--latency', '-s', path.join(BENCH_DIR, 'load-script.lua'), url + '/api/event']
  const proc = spawn('wrk', argv, { env: { ...process.env, LOAD_S: String(opts.seconds), LOAD_TAG: opts.tag, LOAD_PARK: opts.park ? '1' : '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  track(proc)
  let out = ''
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()))
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()))
  const t0 = Date.now()
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  if (opts.interrupt) {
    await opts.interrupt()
    proc.kill('SIGINT')
  }
  const code = await exited
  const line = out.split('\n').find((l) => l.startsWith('LOAD_RESULT '))
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${out}`)
  const r = JSON.parse(line.slice('LOAD_RESULT '.length)) as {
    sent: number
    dropped: number
    status: Record<string, number>
    completed: number
    duration_us: number
    errors: WrkResult['errors']
    latency_us: { p50: number; p99: number; max: number }
  }
  const answered = Object.values(r.status).reduce((a, b) => a + b, 0)
  const seconds = opts.park ? opts.seconds : (Date.now() - t0) / 1000
  return {
    sent: r.sent,
    dropped: r.dropped,
    byStatus: r.status,
    completed: answered,
    seconds,
    errors: r.errors,
    p50ms: r.latency_us.p50 / 1000,
    p99ms: r.latency_us.p99 / 1000,
    maxMs: r.latency_us.max / 1000,
    rps: answered / seconds,
    accepted: (r.status['202'] ?? 0) - r.dropped,
  }
}

const socketErrors = (e: WrkResult['errors']) => e.connect + e.read + e.write + e.timeout

// ---------------------------------------------------------------- the phases

interface Row {
  what: string
  result: 'held' | 'survived' | 'FAILED' | 'not run'
  accepted: number | null
  stored: number | null
  lost: number | null
  duplicates: number | null
  detail: string
}

const rows: Row[] = []
const problems: string[] = []

function check(ok: boolean, what: string): boolean {
  if (!ok) problems.push(what)
  return ok
}

/** 1. Sustained load with junk mixed in. */
async function phaseLoad(): Promise<{ rps: number; seconds: number; junk: Awaited<ReturnType<typeof junkBurst>> }> {
  console.log(`· load: wrk -t1 -c${CONNECTIONS}, ${LOAD_S} s, ${JUNK} malformed beacons mixed in ...`)
  const dataDir = tempDir('analytics-load-')
  const s = await startServer(dataDir)
  await registerSite(s)
  const curve: number[] = [rssMb(s.child.pid)]
  const sampler = setInterval(() => curve.push(rssMb(s.child.pid)), 1000)
  let load: WrkResult
  let junk: Awaited<ReturnType<typeof junkBurst>>
  try {
    ;[load, junk] = await Promise.all([runWrk(s.url, { seconds: LOAD_S, tag: 'm', park: true }), sleep(2000).then(() => junkBurst(s.url, JUNK))])
  } finally {
    clearInterval(sampler)
  }
  const drainMs = await drain(s)
  const endRss = rssMb(s.child.pid)
  await stopServer(s)
  const stored = await countStored(dataDir)

  const non2xx = Object.entries(load.byStatus).filter(([st]) => Number(st) < 200 || Number(st) > 299)
  const junkOther = Object.entries(junk.byStatus).filter(([st]) => st !== '400' && st !== '413')
  const peak = Math.max(...curve, endRss)
  const dup = stored.events - stored.paths
  const lost = Math.max(0, load.accepted - stored.load_events)
  const ok = [
    check(non2xx.length === 0, `load: non-2xx answers ${JSON.stringify(Object.fromEntries(non2xx))}`),
    check(socketErrors(load.errors) === 0, `load: socket errors ${JSON.stringify(load.errors)}`),
    check(load.sent === load.completed, `load: ${load.sent - load.completed} beacons unanswered when wrk stopped`),
    check(stored.load_events === load.accepted, `load: stored ${stored.load_events} != accepted ${load.accepted}`),
    check(dup === 0, `load: ${dup} duplicates`),
    check(junkOther.length === 0 && junk.errors === 0, `junk: answered other than 400/413: ${JSON.stringify(Object.fromEntries(junkOther))}, socket errors ${junk.errors}`),
    check(stored.junk === 0, `junk: ${stored.junk} junk beacons stored`),
  ].every(Boolean)

  const step = Math.max(1, Math.ceil(curve.length / 12))
  console.log(`  ${load.rps.toFixed(0)} req/s over ${load.seconds} s; p50 ${load.p50ms.toFixed(2)} ms, p99 ${load.p99ms.toFixed(2)} ms, max ${load.maxMs.toFixed(1)} ms`)
  console.log(`  answered ${load.completed} (${Object.entries(load.byStatus).map(([k, v]) => `${k}×${v}`).join(', ')}), dropped by policy ${load.dropped}, socket errors ${socketErrors(load.errors)}`)
  console.log(`  junk: ${junk.tried} malformed beacons, answered ${Object.entries(junk.byStatus).map(([k, v]) => `${k}×${v}`).join(', ')}; stored junk ${stored.junk}`)
  console.log(`  RSS MB (every ${step} s): ${curve.filter((_, i) => i % step === 0).map((v) => v.toFixed(0)).join(' ')} | end ${endRss.toFixed(0)}`)
  console.log(`  spool drained ${(drainMs / 1000).toFixed(1)} s after the load; store: ${stored.events} events, ${stored.paths} distinct paths`)

  rows.push({
    what: `load: wrk -c${CONNECTIONS}, ${load.seconds} s`,
    result: ok ? 'held' : 'FAILED',
    accepted: load.accepted,
    stored: stored.load_events,
    lost,
    duplicates: dup,
    detail: `${load.rps.toFixed(0)} req/s, p50 ${load.p50ms.toFixed(1)} ms, p99 ${load.p99ms.toFixed(1)} ms, non-2xx ${non2xx.reduce((a, [, n]) => a + n, 0)}, socket errors ${socketErrors(load.errors)}; RSS MB start ${curve[0].toFixed(0)} peak ${peak.toFixed(0)} end ${endRss.toFixed(0)}`,
  })
  rows.push({
    what: `bad input: ${junk.tried} malformed beacons mixed in`,
    result: junkOther.length === 0 && junk.errors === 0 && stored.junk === 0 ? 'held' : 'FAILED',
    accepted: null,
    stored: stored.junk,
    lost: null,
    duplicates: null,
    detail: `answered ${Object.entries(junk.byStatus).map(([k, v]) => `${k}×${v}`).join(', ')}; none stored`,
  })
  return { rps: load.rps, seconds: load.seconds, junk }
}

/** 2a. kill -9 while wrk is loading the server; wrk stopped right after; restart. */
async function phaseKillUnderLoad(): Promise<void> {
  console.log(`· fault (a): kill -9 after ${KILL_LOAD_S} s of load, restart on the same data directory ...`)
  const dataDir = tempDir('analytics-load-kill-')
  const s = await startServer(dataDir)
  await registerSite(s)
  const load = await runWrk(s.url, {
    seconds: KILL_LOAD_S,
    tag: 'k',
    park: false,
    interrupt: async () => {
      await sleep(KILL_LOAD_S * 1000)
      await kill9(s.child)
      await sleep(100)
    },
  })
  const spoolFiles = fs.readdirSync(path.join(dataDir, 'spool')).length
  const again = await startServer(dataDir)
  const drainMs = await drain(again)
  await stopServer(again)
  const stored = await countStored(dataDir)
  const dup = stored.events - stored.paths
  const lost = Math.max(0, load.accepted - stored.load_events)
  // answered 202 by the server but not read by wrk before the kill: stored, not counted as accepted
  const unread = stored.load_events - load.accepted
  const ok = [
    check(lost === 0, `kill -9: ${lost} accepted events lost`),
    check(dup === 0, `kill -9: ${dup} duplicates`),
    check(stored.load_events <= load.sent, `kill -9: stored ${stored.load_events} > sent ${load.sent}`),
    check(Object.keys(load.byStatus).every((st) => st === '202'), `kill -9: statuses ${JSON.stringify(load.byStatus)}`),
  ].every(Boolean)
  console.log(`  wrk: sent ${load.sent}, answered 202 ${load.byStatus['202'] ?? 0} before the kill, socket errors after it ${socketErrors(load.errors)}; ${spoolFiles} spool segments left`)
  console.log(`  restarted, spool drained in ${(drainMs / 1000).toFixed(1)} s; store: ${stored.events} events, ${stored.paths} distinct paths`)
  rows.push({
    what: 'fault a: kill -9 under load, restart',
    result: ok ? 'survived' : 'FAILED',
    accepted: load.accepted,
    stored: stored.load_events,
    lost,
    duplicates: dup,
    detail: `wrk sent ${load.sent}; ${unread} more stored: made durable but their 202 was not read before the kill`,
  })
}

/** 2b. A torn last spool record: half a line appended to the newest segment after a kill -9. */
async function phaseTorn(): Promise<void> {
  console.log('· fault (b): torn last spool record ...')
  const dataDir = tempDir('analytics-load-torn-')
  const s = await startServer(dataDir, { BATCH_MS: '600000', BATCH_ROWS: '10000000' })
  await registerSite(s)
  const N = 200
  let accepted = 0
  for (let i = 0; i < N; i += 10) {
    const rs = await Promise.all(Array.from({ length: 10 }, (_, j) => beacon(s.url, 't', i + j)))
    accepted += rs.filter((r) => r.status === 202 && !r.dropped).length
  }
  await kill9(s.child)
  const spoolDir = path.join(dataDir, 'spool')
  const segs = fs.readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson')).sort()
  if (!segs.length) throw new Error('torn: no spool segment left after the kill')
  const newest = path.join(spoolDir, segs[segs.length - 1])
  const lines = fs.readFileSync(newest, 'utf8').split('\n').filter(Boolean)
  // power loss mid-write: the first half of one more record (a copy of the last, marked /load/torn)
  const record = lines[lines.length - 1].replace(/\/load\/t\/[g-z]+/, '/load/torn/half')
  fs.appendFileSync(newest, record.slice(0, Math.floor(record.length / 2)))
  const again = await startServer(dataDir)
  await drain(again)
  await sleep(200)
  const log = again.child.output()
  await stopServer(again)
  const stored = await countStored(dataDir)
  const reported = /torn record/.test(log)
  const dup = stored.events - stored.paths
  const lost = Math.max(0, accepted - stored.load_events)
  const ok = [
    check(accepted === N, `torn: only ${accepted} of ${N} beacons accepted`),
    check(stored.load_events === accepted, `torn: stored ${stored.load_events} != accepted intact ${accepted}`),
    check(reported, 'torn: the log does not report the torn record'),
    check(dup === 0, `torn: ${dup} duplicates`),
  ].every(Boolean)
  console.log(`  ${accepted} accepted, half a record appended to ${segs[segs.length - 1]}; restarted: ${stored.load_events} stored; log reports the torn record: ${reported ? 'yes' : 'NO'}`)
  rows.push({
    what: 'fault b: torn last spool record',
    result: ok ? 'survived' : 'FAILED',
    accepted,
    stored: stored.load_events,
    lost,
    duplicates: dup,
    detail: `intact ${accepted} stored; the torn one (never acknowledged) skipped${reported ? ', reported in the log' : ', NOT reported'}`,
  })
}

/** 2c. Spool cap: nothing reaches the store, a small cap; 202 until the cap, then 503 + Retry-After; a restart drains. */
async function phaseSpoolCap(): Promise<void> {
  const cap = 64 * 1024
  console.log(`· fault (c): SPOOL_CAP_BYTES=${cap}, nothing sent to the store ...`)
  const dataDir = tempDir('analytics-load-cap-')
  const s = await startServer(dataDir, { SPOOL_CAP_BYTES: String(cap), BATCH_MS: '600000', BATCH_ROWS: '10000000' })
  await registerSite(s)
  let accepted = 0
  let refused = 0
  let withRetryAfter = 0
  let acceptedAfterRefusal = 0
  let other = 0
  let n = 0
  while (refused < 50 && n < 20_000) {
    const rs = await Promise.all(Array.from({ length: 10 }, () => beacon(s.url, 'c', n++)))
    for (const r of rs) {
      if (r.status === 202 && !r.dropped) {
        accepted++
        if (refused) acceptedAfterRefusal++
      } else if (r.status === 503) {
        refused++
        if (r.retryAfter && Number(r.retryAfter) > 0) withRetryAfter++
      } else other++
    }
  }
  const health = await fetchJson(s.url + '/healthz')
  await kill9(s.child)
  // recovery: a normal restart drains the spool; then beacons are accepted again
  const again = await startServer(dataDir)
  await drain(again)
  let after = 0
  for (let i = 0; i < 50; i += 10) {
    const rs = await Promise.all(Array.from({ length: 10 }, (_, j) => beacon(again.url, 'c', n + i + j)))
    after += rs.filter((r) => r.status === 202 && !r.dropped).length
  }
  await drain(again)
  await stopServer(again)
  const stored = await countStored(dataDir)
  const dup = stored.events - stored.paths
  const lost = Math.max(0, accepted + after - stored.load_events)
  const ok = [
    check(accepted > 0 && refused > 0, `spool cap: accepted ${accepted}, refused ${refused}`),
    check(withRetryAfter === refused, `spool cap: ${refused - withRetryAfter} 503s without Retry-After`),
    check(acceptedAfterRefusal === 0, `spool cap: ${acceptedAfterRefusal} accepted after the first 503`),
    check(other === 0, `spool cap: ${other} other answers`),
    check(after === 50, `spool cap: only ${after} of 50 accepted after recovery`),
    check(stored.load_events === accepted + after, `spool cap: stored ${stored.load_events} != accepted ${accepted + after}`),
    check(dup === 0, `spool cap: ${dup} duplicates`),
  ].every(Boolean)
  console.log(`  ${accepted} answered 202 (spool ${health.json.spoolBytes} bytes), then ${refused} answered 503 (Retry-After on ${withRetryAfter}); restarted: drained, ${after}/50 accepted again; stored ${stored.load_events}`)
  rows.push({
    what: 'fault c: spool cap, store not written',
    result: ok ? 'survived' : 'FAILED',
    accepted: accepted + after,
    stored: stored.load_events,
    lost,
    duplicates: dup,
    detail: `202×${accepted} up to the cap, then 503×${refused} (Retry-After on all: ${withRetryAfter === refused ? 'yes' : 'NO'}); restart drained the spool, then 202×${after}`,
  })
}

// ---------------------------------------------------------------- the table

function table(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)))
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n')
}

async function main(): Promise<void> {
  const started = Date.now()
  if (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error !== undefined) throw new Error('wrk is not installed (apt-get install -y wrk)')
  const [load1] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number)
  if (load1 > 1) console.log(`NOTE: load average ${load1} before the run: other work shares the cores, figures will be low and noisy.`)

  const phases: [string, () => Promise<unknown>][] = [
    ['load', phaseLoad],
    ['fault a', phaseKillUnderLoad],
    ['fault b', phaseTorn],
    ['fault c', phaseSpoolCap],
  ]
  let held: { rps: number; seconds: number; junk: { tried: number } } | undefined
  for (const [name, run] of phases) {
    try {
      const r = await run()
      if (name === 'load') held = r as typeof held
    } catch (err) {
      problems.push(`${name} failed to run: ${(err as Error).message.slice(0, 2000)}`)
      rows.push({ what: name, result: 'FAILED', accepted: null, stored: null, lost: null, duplicates: null, detail: 'failed to run (see above)' })
      console.error(`${name} failed to run: ${(err as Error).stack}`)
    }
  }
  rows.push({
    what: 'fault d: clock jump',
    result: 'not run',
    accepted: null,
    stored: null,
    lost: null,
    duplicates: null,
    detail: 'the system clock cannot be moved in this environment; not faked',
  })

  const lost = rows.reduce((a, r) => a + (r.lost ?? 0), 0)
  const dups = rows.reduce((a, r) => a + (r.duplicates ?? 0), 0)
  const faults = rows.filter((r) => r.what.startsWith('fault'))
  const survived = faults.filter((r) => r.result === 'survived').length
  const injected = faults.filter((r) => r.result !== 'not run').length
  const n = (v: number | null) => (v === null ? '-' : String(v))

  console.log(`\n=== npm run test:load: reliability table (${new Date().toISOString().slice(0, 19)}Z, took ${((Date.now() - started) / 1000).toFixed(0)} s) ===`)
  console.log(table(['check', 'result', 'accepted', 'stored', 'lost', 'dups', 'detail'], rows.map((r) => [r.what, r.result, n(r.accepted), n(r.stored), n(r.lost), n(r.duplicates), r.detail])))
  console.log('')
  console.log(`load held:         ${held ? `${held.rps.toFixed(0)} req/s for ${held.seconds} s (wrk -t1 -c${CONNECTIONS}, 127.0.0.1, server and wrk share the cores)` : 'NOT MEASURED'}`)
  console.log(`faults:            ${injected} injected, ${survived} survived, 1 not run (clock jump)`)
  console.log(`bad inputs tried:  ${held ? held.junk.tried : 0}`)
  console.log(`events lost:       ${lost}`)
  console.log(`duplicates:        ${dups}`)
  if (problems.length) {
    console.log('\nDid not hold:')
    for (const p of problems) console.log(`  - ${p}`)
  }
  process.exitCode = problems.length || lost > 0 || dups > 0 ? 1 : 0
}

main()
  .then(() => process.exit(process.exitCode ?? 0))
  .catch((err: Error) => {
    console.error(`test:load failed: ${err.stack ?? err.message}`)
    process.exit(1)
  })
