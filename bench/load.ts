/**
 * `npm run test:load` (not part of `npm test`): the collector held under load and through
 * faults, with every accepted event accounted for. Ends with one reliability table.
 *
 * Every collector here is the real server in its own process (`node --import tsx cli/index.ts
 * serve`, a fresh data directory each, example.com registered) with TRUST_PROXY (beacons carry
 * X-Forwarded-For from the documentation ranges and real browser User-Agents: bots are dropped)
 * and INGEST_RATE_LIMIT=0: this measures throughput and durability, not the per-client limiter.
 * Every beacon has a unique path, so the store, read directly once the collector has stopped
 * (bench/count-events.ts), shows loss and duplicates path by path.
 *
 *  1. Load: LOAD_SECONDS (default 60) of pageview beacons from wrk (-t1 -c50,
 *     bench/load-script.lua) with ~1000 malformed beacons (LOAD_JUNK) mixed in from this
 *     process. Reports req/s, p50/p99, non-2xx and socket errors; stored == accepted and no
 *     duplicates. Memory: the server's RSS every second through the load and IDLE_SECONDS
 *     (20) after it (spool drained, idle): start, peak, end of load, after idle, one value per
 *     10 s (LOAD_CURVE=1: every second); bounded: the second half of the load peaks at most
 *     25 % (or 64 MB) above the first. The collector's schedules run as configured: the first
 *     rollup pass (ROLLUP_INTERVAL_MS, 60 s after start) falls at the load's end, a short peak.
 *  2. Faults, each on its own data directory, beacons from bench/load-client.ts (keep-alive,
 *     a ledger of every answer), checked per path: every 202 stored exactly once, no path
 *     twice, nothing answered 503 stored (a retry would duplicate it); stored beacons whose
 *     answer was lost (no answer, e.g. the connection reset by a kill) are reported, not errors.
 *     a. kill -9 under load: 50 beacons in flight from this process, SIGKILL after 6 s,
 *        restart on the same data directory, drain.
 *     b. a torn last spool record: half a line appended after a kill -9; the intact records
 *        stored, the torn one reported in the log.
 *     c. the spool cap, nothing sent to the store (BATCH_MS/BATCH_ROWS huge): 202 up to a
 *        small SPOOL_CAP_BYTES, then 503 + Retry-After; a restart drains the spool.
 *     d. the store refusing connections at start: started once embedded (site registered, the
 *        site-list snapshot written), then with CLICKHOUSE_URL on a closed port: /healthz
 *        answers, 202 until the cap, 503 + Retry-After; then restarted embedded on the same data
 *        directory (no ClickHouse server exists here: the recovery is into the embedded store).
 *     e. the embedded store's directory full: $DATA/clickhouse is a 32 MB tmpfs, filled with a
 *        file after start; 202 until the cap, 503 + Retry-After; the file deleted, the spool drains.
 *     f. the embedded store's directory read-only after start (bind-mounted onto itself,
 *        remounted ro); 202 until the cap, 503; made writable again, the spool drains.
 *     g. the same read-only directory before start: the collector should start and spool as in
 *        d (a row FAILED when it does not, with the engine's error); then writable again (and
 *        restarted if it has not recovered by itself): nothing acknowledged lost.
 *     e-g need root (mount); otherwise their rows say "not run: needs root to mount".
 *     h. clock jumps: the server runs under libfaketime (LD_PRELOAD, FAKETIME_TIMESTAMP_FILE
 *        rewritten at run time, FAKETIME_NO_CACHE=1, FAKETIME_DONT_FAKE_MONOTONIC=1 so timers
 *        and the monotonic clock stay real); waves of beacons (each sent after the previous one
 *        was answered) while its wall clock goes back 2 h, forward 1 day, back to now; the
 *        server's Date header shows each jump took; every 202 stored once, and the stored ts
 *        order against the send order (pairs out of order must be 0). Without libfaketime
 *        (apt-get install faketime) the row says "not run".
 *  3. i. The stats API flooded through a public shared link: FLOOD_BEACON_RPS (100) beacons a
 *     second, paced (an open loop: a slow answer does not slow the next beacon), for
 *     FLOOD_SECONDS (10) alone, then as long again while wrk -c FLOOD_CONNECTIONS (32,
 *     bench/stats-flood.lua) asks the slowest questions there were (three years by month,
 *     week and day, breakdowns) with the link. Beacon p50/p99 alone and under the flood, and
 *     the flood's answers by status; p99 under the flood must stay within 2× of its value
 *     alone, and every 202 stored exactly once.
 *
 * LOAD_ONLY=load,a,...,h,i runs only those. Exit status non-zero when something failed to run,
 * events were lost or duplicated, or a check above did not hold.
 */
import { spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  bindReadOnly,
  cleanUpOnExit,
  collectorEnv,
  countPaths,
  countStored,
  fetchJson,
  freePort,
  mountTmpfs,
  mountUnavailable,
  rssMb,
  sleep,
  startChild,
  stopChild,
  tempDir,
  track,
  unmount,
  waitFor,
  type Child,
} from './lib.ts'
import { BeaconClient, Ledger, letters, outOfOrder, paced, percentile, pick, pump, reconcile, sendUntilRefused, visitorHeaders, wave, type CapRun, type Reconciled } from './load-client.ts'

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const LOAD_S = Number(process.env.LOAD_SECONDS || 60)
const IDLE_S = Number(process.env.IDLE_SECONDS ?? 20)
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS || 50)
const JUNK = Number(process.env.LOAD_JUNK ?? 1000)
const ONLY = new Set((process.env.LOAD_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean))
const KILL_LOAD_S = 6
/** The spool cap of the store-failing faults: a few hundred beacons. */
const CAP = 64 * 1024
/** How long a failing store directory stays failing once an insert has failed. */
const FAULT_HOLD_MS = 8000

cleanUpOnExit('test:load')

// ---------------------------------------------------------------- the collector

const TOKEN = crypto.randomBytes(24).toString('hex')

interface Server {
  child: Child
  url: string
  dataDir: string
}

/**
 * Starts the collector and waits until /healthz answers 200 (the store is ready), or with
 * `storeDown` any answer at all (it answers 503 until its store has answered once).
 */
async function startServer(dataDir: string, extraEnv: Record<string, string> = {}, timeoutMs = 90_000, storeDown = false): Promise<Server> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // throughput and durability are measured here, not the per-client limiter
  const env = collectorEnv(dataDir, port, TOKEN, { INGEST_RATE_LIMIT: '0', ...extraEnv })
  const child = startChild(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'serve'], env)
  try {
    const ready = (status: number) => status === 200 || (storeDown && status === 503)
    await waitFor('collector: GET /healthz', child, timeoutMs, async () => (ready((await fetchJson(url + '/healthz')).status) ? true : undefined))
  } catch (err) {
    await stopChild(child, 2000)
    throw err
  }
  return { child, url, dataDir }
}

const alive = (c: Child) => c.proc.exitCode === null && c.proc.signalCode === null

function exitOf(c: Child): string {
  return c.proc.signalCode ? `killed by ${c.proc.signalCode}` : `exited with code ${c.proc.exitCode}`
}

/** The collector's own error lines (pino JSON, level >= warn: message and error summary) and the engine's, distinct; the data directory written $DATA. */
function logErrors(c: Child, dataDir: string): string[] {
  const seen = new Set<string>()
  for (const line of c.output().split(dataDir).join('$DATA').split('\n')) {
    if (!line.trim()) continue
    try {
      const j = JSON.parse(line) as { level?: number; msg?: string; err?: unknown }
      if ((j.level ?? 0) >= 40) seen.add(`${j.msg ?? ''}${j.err ? ` (${typeof j.err === 'string' ? j.err : JSON.stringify(j.err).slice(0, 160)})` : ''}`)
    } catch {
      seen.add(line.trim().slice(0, 200)) // not the logger's: the engine's own output
    }
  }
  return [...seen]
}

async function registerSite(s: Server): Promise<void> {
  const added = await fetchJson(s.url + '/api/v1/sites', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ domain: 'example.com', timezone: 'UTC' }),
  })
  if (added.status !== 201) throw new Error(`registering example.com answered ${added.status} ${JSON.stringify(added.json)}`)
}

async function health(s: Server): Promise<Record<string, unknown>> {
  return (await fetchJson(s.url + '/healthz')).json
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
  await stopChild(s.child, 30_000)
  const exit = s.child.proc.exitCode ?? s.child.proc.signalCode
  if (exit !== 0) throw new Error(`the collector did not stop cleanly (${exit}). Its output:\n${s.child.output().slice(-4000)}`)
}

async function kill9(c: Child): Promise<void> {
  c.proc.kill('SIGKILL')
  await c.exited
}

// ---------------------------------------------------------------- malformed beacons

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
    byStatus: r.status,
    completed: answered,
    seconds,
    errors: r.errors,
    p50ms: r.latency_us.p50 / 1000,
    p99ms: r.latency_us.p99 / 1000,
    maxMs: r.latency_us.max / 1000,
    rps: answered / seconds,
    accepted: r.status['202'] ?? 0,
  }
}

const socketErrors = (e: WrkResult['errors']) => e.connect + e.read + e.write + e.timeout

// ---------------------------------------------------------------- the table's rows

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

/** The per-path checks every fault shares; false when one did not hold. */
function ledgerHolds(name: string, r: Reconciled): boolean {
  return [
    check(r.lost === 0, `${name}: ${r.lost} beacons answered 202 are not stored`),
    check(r.duplicates === 0, `${name}: ${r.duplicates} duplicate rows`),
    check(r.refusedStored === 0, `${name}: ${r.refusedStored} beacons answered 503 were stored (the client's retry would duplicate them)`),
    check(r.stray === 0, `${name}: ${r.stray} stored paths were never sent`),
  ].every(Boolean)
}

function ledgerRow(what: string, ok: boolean, r: Reconciled, detail: string): void {
  rows.push({ what, result: ok ? 'survived' : 'FAILED', accepted: r.acked, stored: r.storedRows, lost: r.lost, duplicates: r.duplicates, detail })
}

function notRun(what: string, detail: string): void {
  rows.push({ what, result: 'not run', accepted: null, stored: null, lost: null, duplicates: null, detail })
}

const fmtCap = (c: CapRun, ledger: Ledger) =>
  `202×${c.accepted} up to the cap, then 503×${c.refused} (Retry-After on ${ledger.noRetryAfter === 0 ? 'all' : `all but ${ledger.noRetryAfter}`}${c.acceptedAfterRefusal ? `; ${c.acceptedAfterRefusal} more 202 after the first 503` : ''}${c.other ? `; ${c.other} other answers` : ''})`

function capHolds(name: string, c: CapRun, ledger: Ledger): boolean {
  return [
    check(c.accepted > 0 && c.refused > 0, `${name}: 202×${c.accepted}, 503×${c.refused}: the cap was not reached`),
    check(ledger.noRetryAfter === 0, `${name}: ${ledger.noRetryAfter} answers 503 without Retry-After`),
    check(c.acceptedAfterRefusal === 0, `${name}: ${c.acceptedAfterRefusal} beacons accepted after the first 503 while the store still failed`),
    check(c.other === 0, `${name}: other answers ${JSON.stringify(ledger.oddities)}`),
  ].every(Boolean)
}

// ---------------------------------------------------------------- 1. load and memory

interface Sample {
  /** Seconds since the load started. */
  t: number
  mb: number
}

interface Memory {
  start: number
  peak: Sample
  endOfLoad: number
  afterIdle: number
  firstHalfPeak: number
  secondHalfPeak: number
  /** One value per 10 s, load and idle. */
  every10s: Sample[]
  idleSeconds: number
}

function memoryOf(curve: Sample[], loadS: number): Memory {
  const peak = curve.reduce((a, b) => (b.mb > a.mb ? b : a))
  const during = (from: number, to: number) => Math.max(0, ...curve.filter((x) => x.t > from && x.t <= to).map((x) => x.mb))
  const endOfLoad = curve.filter((x) => x.t <= loadS).at(-1)!.mb
  const every10s: Sample[] = []
  for (const x of curve) if (!every10s.length || x.t >= every10s.at(-1)!.t + 10) every10s.push(x)
  return {
    start: curve[0].mb,
    peak,
    endOfLoad,
    afterIdle: curve.at(-1)!.mb,
    firstHalfPeak: during(0, loadS / 2),
    secondHalfPeak: during(loadS / 2, loadS),
    every10s,
    idleSeconds: Math.max(0, curve.at(-1)!.t - loadS),
  }
}

const mb = (v: number) => v.toFixed(0)

/** 1. Sustained load with junk mixed in; the server's memory through the load and after it. */
async function phaseLoad(): Promise<{ rps: number; seconds: number; junk: Awaited<ReturnType<typeof junkBurst>>; memory: Memory }> {
  console.log(`· load: wrk -t1 -c${CONNECTIONS}, ${LOAD_S} s, ${JUNK} malformed beacons mixed in, then ${IDLE_S} s idle ...`)
  const dataDir = tempDir('analytics-load-')
  const s = await startServer(dataDir)
  await registerSite(s)
  const t0 = Date.now()
  const curve: Sample[] = [{ t: 0, mb: rssMb(s.child.pid) }]
  const sampler = setInterval(() => curve.push({ t: (Date.now() - t0) / 1000, mb: rssMb(s.child.pid) }), 1000)
  let load: WrkResult
  let junk: Awaited<ReturnType<typeof junkBurst>>
  let drainMs: number
  try {
    ;[load, junk] = await Promise.all([runWrk(s.url, { seconds: LOAD_S, tag: 'm', park: true }), sleep(2000).then(() => junkBurst(s.url, JUNK))])
    drainMs = await drain(s)
    // idle: nothing sent, the spool empty; does the memory come back down?
    const idleUntil = Date.now() + IDLE_S * 1000
    while (Date.now() < idleUntil) await sleep(250)
  } finally {
    clearInterval(sampler)
  }
  curve.push({ t: (Date.now() - t0) / 1000, mb: rssMb(s.child.pid) })
  await stopServer(s)
  const stored = await countStored(dataDir)

  const non2xx = Object.entries(load.byStatus).filter(([st]) => Number(st) < 200 || Number(st) > 299)
  const junkOther = Object.entries(junk.byStatus).filter(([st]) => st !== '400' && st !== '413')
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

  const m = memoryOf(curve, load.seconds)
  if (process.env.LOAD_CURVE) console.log(`  RSS MB every second: ${curve.map((x) => `${x.t.toFixed(0)}s ${mb(x.mb)}`).join(' ')}`)
  const growth = m.secondHalfPeak - m.firstHalfPeak
  const bounded = check(growth <= Math.max(64, m.firstHalfPeak * 0.25), `memory: the second half of the load peaked at ${mb(m.secondHalfPeak)} MB, ${mb(growth)} MB above the first half's ${mb(m.firstHalfPeak)} MB`)

  console.log(`  ${load.rps.toFixed(0)} req/s over ${load.seconds} s; p50 ${load.p50ms.toFixed(2)} ms, p99 ${load.p99ms.toFixed(2)} ms, max ${load.maxMs.toFixed(1)} ms`)
  console.log(`  answered ${load.completed} (${Object.entries(load.byStatus).map(([k, v]) => `${k}×${v}`).join(', ')}), socket errors ${socketErrors(load.errors)}`)
  console.log(`  junk: ${junk.tried} malformed beacons, answered ${Object.entries(junk.byStatus).map(([k, v]) => `${k}×${v}`).join(', ')}; stored junk ${stored.junk}`)
  console.log(`  spool drained ${(drainMs / 1000).toFixed(1)} s after the load; store: ${stored.events} events, ${stored.paths} distinct paths`)
  console.log(`  RSS MB every 10 s (load ${load.seconds} s, then idle): ${m.every10s.map((x) => `${x.t.toFixed(0)}s ${mb(x.mb)}`).join(' · ')}`)
  console.log(`  RSS MB: start ${mb(m.start)}, peak ${mb(m.peak.mb)} at ${m.peak.t.toFixed(0)} s, end of load ${mb(m.endOfLoad)}, after ${m.idleSeconds.toFixed(0)} s idle ${mb(m.afterIdle)}; peak of the first half ${mb(m.firstHalfPeak)}, of the second ${mb(m.secondHalfPeak)}`)

  rows.push({
    what: `load: wrk -c${CONNECTIONS}, ${load.seconds} s`,
    result: ok ? 'held' : 'FAILED',
    accepted: load.accepted,
    stored: stored.load_events,
    lost,
    duplicates: dup,
    detail: `${load.rps.toFixed(0)} req/s, p50 ${load.p50ms.toFixed(1)} ms, p99 ${load.p99ms.toFixed(1)} ms, non-2xx ${non2xx.reduce((a, [, n]) => a + n, 0)}, socket errors ${socketErrors(load.errors)}`,
  })
  rows.push({
    what: `memory: RSS, load + ${m.idleSeconds.toFixed(0)} s idle`,
    result: bounded ? 'held' : 'FAILED',
    accepted: null,
    stored: null,
    lost: null,
    duplicates: null,
    detail: `MB start ${mb(m.start)}, peak ${mb(m.peak.mb)} (${m.peak.t.toFixed(0)} s), end of load ${mb(m.endOfLoad)}, idle ${mb(m.afterIdle)}; halves peak ${mb(m.firstHalfPeak)} / ${mb(m.secondHalfPeak)} (${growth >= 0 ? '+' : ''}${mb(growth)})`,
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
  return { rps: load.rps, seconds: load.seconds, junk, memory: m }
}

// ---------------------------------------------------------------- 2. faults

/** Polls /healthz until the store has failed at least once (an insert or the start-up work); its answer, or null. */
async function storeFailure(s: Server, timeoutMs: number): Promise<Record<string, unknown> | null> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && alive(s.child)) {
    try {
      const h = await health(s)
      if (Number(h.storeFailures) > 0 || h.storeError || h.storeReady === false) return h
    } catch {
      // not answering: the caller sees the process
    }
    await sleep(200)
  }
  return null
}

/** `n` waves of 10 beacons; how many were answered 202. */
async function waves(client: BeaconClient, ledger: Ledger, n: number): Promise<number> {
  let acked = 0
  for (let i = 0; i < n; i++) acked += (await wave(client, ledger, 10)).filter((a) => a.status === 202).length
  return acked
}

/**
 * After a fault is removed: 50 more beacons (how many were answered 202), the spool drained,
 * then the collector stopped and the store checked against the ledger.
 */
async function acceptsAgainAndSettle(s: Server, ledger: Ledger): Promise<{ after: number; r: Reconciled }> {
  const client = new BeaconClient(s.url, 10)
  const after = await waves(client, ledger, 5)
  client.close()
  await drain(s)
  return { after, r: await settle(s, ledger) }
}

/** Stops the collector, counts the store per path and checks the ledger against it. */
async function settle(s: Server, ledger: Ledger): Promise<Reconciled> {
  await stopServer(s)
  return reconcile(ledger, await countPaths(s.dataDir, `/load/${ledger.tag}/`))
}

/** a. kill -9 while 50 beacons are in flight; restart on the same data directory; every 202 stored once. */
async function phaseKillUnderLoad(): Promise<void> {
  console.log(`· fault a: ${CONNECTIONS} beacons in flight from this process, kill -9 after ${KILL_LOAD_S} s, restart on the same data directory ...`)
  const dataDir = tempDir('analytics-load-kill-')
  const s = await startServer(dataDir)
  await registerSite(s)
  const ledger = new Ledger('a')
  const client = new BeaconClient(s.url, CONNECTIONS)
  let killed = false
  const pumping = pump(client, ledger, CONNECTIONS, () => killed)
  await sleep(KILL_LOAD_S * 1000)
  killed = true
  await kill9(s.child)
  await pumping
  client.close()
  const spoolFiles = fs.readdirSync(path.join(dataDir, 'spool')).filter((f) => f.endsWith('.ndjson')).length
  const again = await startServer(dataDir)
  const drainMs = await drain(again)
  const r = await settle(again, ledger)
  const unanswered = ledger.count('failed')
  const ok = [
    ledgerHolds('kill -9', r),
    check(ledger.count('refused') + ledger.count('other') === 0, `kill -9: answers other than 202 before the kill: ${ledger.count('refused')}×503, ${JSON.stringify(ledger.oddities)}`),
    check(unanswered <= CONNECTIONS, `kill -9: ${unanswered} beacons without an answer, more than the ${CONNECTIONS} in flight`),
  ].every(Boolean)
  console.log(`  sent ${r.sent}: 202×${r.acked}, no answer ${unanswered} (in flight at the kill: ${JSON.stringify(ledger.oddities)}); ${spoolFiles} spool segments left`)
  console.log(`  restarted, spool drained in ${(drainMs / 1000).toFixed(1)} s; stored ${r.storedRows} rows: ${r.lost ? `${r.lost} of the 202s MISSING` : 'every 202'}, ${r.duplicates} duplicates, ${r.unansweredStored} of the unanswered stored too`)
  ledgerRow('fault a: kill -9 under load, per beacon', ok, r, `${r.sent} sent by ${CONNECTIONS} connections, killed at ${KILL_LOAD_S} s; ${unanswered} in flight got no answer, ${r.unansweredStored} of them stored (durable, the 202 lost with the connection)`)
}

/** b. A torn last spool record: half a line appended to the newest segment after a kill -9. */
async function phaseTorn(): Promise<void> {
  console.log('· fault b: torn last spool record ...')
  const dataDir = tempDir('analytics-load-torn-')
  const s = await startServer(dataDir, { BATCH_MS: '600000', BATCH_ROWS: '10000000' })
  await registerSite(s)
  const ledger = new Ledger('t')
  const client = new BeaconClient(s.url, 10)
  const accepted = await waves(client, ledger, 20)
  client.close()
  await kill9(s.child)
  const spoolDir = path.join(dataDir, 'spool')
  const segs = fs.readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson')).sort()
  if (!segs.length) throw new Error('torn: no spool segment left after the kill')
  const newest = path.join(spoolDir, segs[segs.length - 1])
  const lines = fs.readFileSync(newest, 'utf8').split('\n').filter(Boolean)
  // power loss mid-write: the first half of one more record (a copy of the last, its own path)
  const record = lines[lines.length - 1].replace(/\/load\/t\/[g-z]+/, '/load/t/torn-half')
  fs.appendFileSync(newest, record.slice(0, Math.floor(record.length / 2)))
  const again = await startServer(dataDir)
  await drain(again)
  await sleep(200)
  const log = again.child.output()
  const r = await settle(again, ledger)
  const reported = /torn record/.test(log)
  const ok = [
    ledgerHolds('torn record', r),
    check(accepted === 200, `torn: only ${accepted} of 200 beacons accepted`),
    check(reported, 'torn: the log does not report the torn record'),
  ].every(Boolean)
  console.log(`  ${accepted} accepted, half a record appended to ${segs[segs.length - 1]}; restarted: ${r.storedRows} stored; log reports the torn record: ${reported ? 'yes' : 'NO'}`)
  ledgerRow('fault b: torn last spool record', ok, r, `intact ${r.acked} stored; the torn one (never acknowledged) skipped${r.stray ? ' but STORED' : ''}${reported ? ', reported in the log' : ', NOT reported'}`)
}

/** c. Spool cap: nothing reaches the store, a small cap; 202 until the cap, then 503 + Retry-After; a restart drains. */
async function phaseSpoolCap(): Promise<void> {
  console.log(`· fault c: SPOOL_CAP_BYTES=${CAP}, nothing sent to the store ...`)
  const dataDir = tempDir('analytics-load-cap-')
  const s = await startServer(dataDir, { SPOOL_CAP_BYTES: String(CAP), BATCH_MS: '600000', BATCH_ROWS: '10000000' })
  await registerSite(s)
  const ledger = new Ledger('c')
  const client = new BeaconClient(s.url, 10)
  const cap = await sendUntilRefused(client, ledger, { alive: () => alive(s.child) })
  const h = await health(s)
  client.close()
  await kill9(s.child)
  // recovery: a normal restart drains the spool; then beacons are accepted again
  const again = await startServer(dataDir)
  await drain(again)
  const { after, r } = await acceptsAgainAndSettle(again, ledger)
  const ok = [ledgerHolds('spool cap', r), capHolds('spool cap', cap, ledger), check(after === 50, `spool cap: only ${after} of 50 accepted after recovery`)].every(Boolean)
  console.log(`  ${cap.accepted} answered 202 (spool ${h.spoolBytes} bytes), then ${cap.refused} answered 503; restarted: drained, ${after}/50 accepted again; stored ${r.storedRows}`)
  ledgerRow('fault c: spool cap, store not written', ok, r, `${fmtCap(cap, ledger)}; restart drained the spool, then 202×${after}`)
}

/** d. The store refusing connections at start (CLICKHOUSE_URL on a closed port); recovery into the embedded store. */
async function phaseStoreRefuses(): Promise<void> {
  const what = 'fault d: store refuses connections at start'
  console.log(`· fault d: started with CLICKHOUSE_URL on a closed port, SPOOL_CAP_BYTES=${CAP}; then restarted embedded ...`)
  const dataDir = tempDir('analytics-load-refuse-')
  const first = await startServer(dataDir)
  await registerSite(first)
  await stopServer(first)
  const snapshot = fs.existsSync(path.join(dataDir, 'sites.json'))
  const closedPort = await freePort()
  let s: Server
  try {
    s = await startServer(dataDir, { CLICKHOUSE_URL: `http://127.0.0.1:${closedPort}`, SPOOL_CAP_BYTES: String(CAP) }, 30_000, true)
  } catch (err) {
    const why = (err as Error).message.split('\n').find((l) => /Error|ECONNREFUSED|exited/.test(l)) ?? (err as Error).message.split('\n')[0]
    console.log(`  the collector did not start: ${why.slice(0, 300)}`)
    check(false, `${what}: the collector did not start with CLICKHOUSE_URL refusing connections`)
    rows.push({ what, result: 'FAILED', accepted: null, stored: null, lost: null, duplicates: null, detail: `failed to start with the store refusing connections (${why.trim().slice(0, 90)})` })
    return
  }
  const hr = await fetchJson(s.url + '/healthz')
  const h = hr.json
  const ledger = new Ledger('d')
  const client = new BeaconClient(s.url, 10)
  const cap = await sendUntilRefused(client, ledger, { alive: () => alive(s.child) })
  client.close()
  await stopServer(s)
  // no ClickHouse server exists on this machine: the spool drains into the embedded store
  const again = await startServer(dataDir)
  const drainMs = await drain(again)
  const { after, r } = await acceptsAgainAndSettle(again, ledger)
  const ok = [ledgerHolds('store refusing', r), capHolds('store refusing', cap, ledger), check(after === 50, `store refusing: only ${after} of 50 accepted after recovery`)].every(Boolean)
  console.log(`  site snapshot from the first start: ${snapshot ? 'yes' : 'NO'}; /healthz ${JSON.stringify(h)}`)
  console.log(`  ${fmtCap(cap, ledger)}; restarted embedded: drained in ${(drainMs / 1000).toFixed(1)} s, then 202×${after}; stored ${r.storedRows}`)
  ledgerRow(what, ok && check(hr.status === 503, `store refusing: /healthz answered ${hr.status} before the store was ready`), r, `/healthz ${hr.status} (${String(h.status)}, storeReady ${String(h.storeReady)}); ${fmtCap(cap, ledger)}; restarted on the embedded store (no ClickHouse server here): drained`)
}

/** Fills the file system holding `file` until it refuses (ENOSPC); bytes written. */
function fillUp(file: string): number {
  const fd = fs.openSync(file, 'w')
  let bytes = 0
  try {
    for (const size of [1024 * 1024, 4096]) {
      const block = Buffer.alloc(size)
      try {
        for (;;) bytes += fs.writeSync(fd, block)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      }
    }
  } finally {
    fs.closeSync(fd)
  }
  return bytes
}

interface StoreFault {
  what: string
  tag: string
  /** Before the collector starts (the directory exists, maybe empty). */
  prepare?: (clickhouseDir: string) => void
  /** While it runs, after some beacons were stored. */
  inject: (clickhouseDir: string) => string
  /** Undoes the fault. */
  remove: (clickhouseDir: string) => void
  /** Undone at the end whatever happened (before the temporary directory goes). */
  cleanUp: (clickhouseDir: string) => void
}

/**
 * e/f. The embedded store's directory fails while the collector runs: 202 until the cap,
 * then 503 + Retry-After; the fault removed, the spool drains, every 202 stored once. If
 * the collector's process dies, that is reported (the stage, how it ended, its error lines)
 * and it is restarted to see whether anything acknowledged was lost.
 */
async function phaseStoreDirFails(f: StoreFault): Promise<void> {
  const dataDir = tempDir(`analytics-load-${f.tag}-`)
  const ch = path.join(dataDir, 'clickhouse')
  fs.mkdirSync(ch, { recursive: true })
  const ledger = new Ledger(f.tag)
  let stage = 'starting'
  let exitStage: string | null = null
  let crash: string | null = null
  const notes: string[] = []
  try {
    f.prepare?.(ch)
    let s = await startServer(dataDir, { SPOOL_CAP_BYTES: String(CAP) })
    void s.child.exited.then(() => (exitStage ??= stage))
    await registerSite(s)
    const client = new BeaconClient(s.url, 10)
    const before = await waves(client, ledger, 2)
    await drain(s)
    stage = 'injecting the fault'
    notes.push(f.inject(ch))
    stage = 'sending beacons up to the spool cap'
    const cap = await sendUntilRefused(client, ledger, { alive: () => alive(s.child) })
    stage = 'waiting for a failed insert'
    const failed = alive(s.child) ? await storeFailure(s, 15_000) : null
    const storeError = failed ? String(failed.storeError ?? failed.lastError ?? '') : ''
    // the fault held a while: the writer retries with backoff, the engine's background work runs into it too
    stage = 'holding the fault'
    await sleep(FAULT_HOLD_MS)
    const held = alive(s.child) ? await health(s).catch(() => null) : null
    if (held) notes.push(`${String(held.storeFailures)} failed inserts in ${FAULT_HOLD_MS / 1000} s, still serving`)
    client.close()
    stage = 'removing the fault'
    f.remove(ch)
    stage = 'draining the spool after the fault'
    let drainMs = -1
    if (alive(s.child)) drainMs = await drain(s, 90_000).catch(() => -1)
    if (!alive(s.child) || drainMs < 0) {
      crash = alive(s.child) ? `did not drain within 90 s of the fault's removal` : `${exitOf(s.child)} while ${exitStage ?? stage}`
      const errors = logErrors(s.child, dataDir)
      console.log(`  the collector ${crash}; its error lines:\n${errors.slice(-8).map((l) => '    ' + l).join('\n')}`)
      if (alive(s.child)) await stopChild(s.child, 30_000)
      s = await startServer(dataDir)
      await drain(s)
    }
    stage = 'after recovery'
    const { after, r } = await acceptsAgainAndSettle(s, ledger)
    const name = f.what.replace(/^fault \w: /, '')
    const ok = [
      ledgerHolds(name, r),
      capHolds(name, cap, ledger),
      check(before === 20 && after === 50, `${name}: before the fault ${before}/20, after recovery ${after}/50 accepted`),
      check(failed !== null, `${name}: the store never reported a failure (the fault did not reach it)`),
      check(crash === null, `${name}: the collector ${crash}`),
    ].every(Boolean)
    console.log(`  ${notes.join('; ')}; ${fmtCap(cap, ledger)}; the store's error: ${storeError || 'none reported'}`)
    console.log(`  the collector's warnings and the engine's output during the fault:\n${logErrors(s.child, dataDir).slice(0, 8).map((l) => '    ' + l.slice(0, 300)).join('\n')}`)
    console.log(`  ${crash ? `restarted after it ${crash}` : `fault removed: drained in ${(drainMs / 1000).toFixed(1)} s`}, then 202×${after}; stored ${r.storedRows}`)
    ledgerRow(f.what, ok, r, `${fmtCap(cap, ledger)}; inserts failed (${storeError || 'never'})${held ? ` ×${String(held.storeFailures)}, no crash` : ''}; ${crash ? `collector ${crash}` : 'fault removed, spool drained'}`)
  } catch (err) {
    throw new Error(`${f.what} (${stage}): ${(err as Error).message}`)
  } finally {
    f.cleanUp(ch)
  }
}

/** The engine's error line, shorter: "Code: 76. DB::ErrnoException: Cannot open file F: , errno: 30, strerror: Read-only file system. (CANNOT_OPEN_FILE)" → "Code 76 CANNOT_OPEN_FILE: Cannot open file F: Read-only file system". */
function engineError(line: string): string {
  const m = line.match(/Code: (\d+)\. DB::\w+: (.*?)(?:, errno: \d+, strerror: ([^.]*))?\.? \((\w+)\)/)
  return m ? `Code ${m[1]} ${m[4]}: ${m[2].replace(/:\s*$/, '')}${m[3] ? `: ${m[3]}` : ''}` : line.trim().slice(0, 300)
}

/** g. The embedded store's directory read-only before the collector starts: what it does, reported; nothing acknowledged lost. */
async function phaseReadOnlyAtStart(): Promise<void> {
  const what = 'fault g: store dir read-only before start'
  console.log('· fault g: the embedded store directory read-only before the collector starts ...')
  const dataDir = tempDir('analytics-load-rostart-')
  const ch = path.join(dataDir, 'clickhouse')
  const ledger = new Ledger('g')
  try {
    const first = await startServer(dataDir)
    await registerSite(first)
    let client = new BeaconClient(first.url, 10)
    const before = await waves(client, ledger, 2)
    client.close()
    await drain(first)
    await stopServer(first)
    bindReadOnly(ch)
    let s: Server | null = null
    let startError = ''
    try {
      s = await startServer(dataDir, { SPOOL_CAP_BYTES: String(CAP) }, 45_000, true)
    } catch (err) {
      // the engine's own line (e.g. "Code: 76. DB::ErrnoException: Cannot open file …"), else the first one
      const lines = (err as Error).message.split(dataDir).join('$DATA').split('\n')
      const engine = lines.find((l) => /Code: \d+\./.test(l))
      startError = engine ? engineError(engine) : (lines.find((l) => /error|exception|exited|timed out/i.test(l)) ?? lines[0]).trim().slice(0, 300)
      const exit = lines[0].match(/exited \(([^)]*)\)/)?.[1]
      if (exit) startError = `exit ${exit}: ${startError}`
    }
    let behaviour: string
    let cap: CapRun | null = null
    let recovered = 'restart'
    if (s) {
      const h = await health(s)
      client = new BeaconClient(s.url, 10)
      cap = await sendUntilRefused(client, ledger, { alive: () => alive(s!.child) })
      client.close()
      const failed = await storeFailure(s, 10_000)
      behaviour = `started (/healthz ${String(h.status)}, storeReady ${String(h.storeReady)}; store error: ${String(failed?.storeError ?? 'none')}); ${fmtCap(cap, ledger)}`
      unmount(ch)
      // does it recover in place once the directory is writable again?
      const drained = alive(s.child) ? await drain(s, 45_000).then(() => true, () => false) : false
      if (drained) recovered = 'in place'
      else {
        behaviour += alive(s.child) ? '; did not drain within 45 s of the directory turning writable' : `; ${exitOf(s.child)}`
        if (alive(s.child)) await stopChild(s.child, 30_000)
        s = await startServer(dataDir)
        await drain(s)
      }
    } else {
      behaviour = `refused to start: ${startError || 'no error line'}`
      unmount(ch)
      s = await startServer(dataDir)
      await drain(s)
    }
    const { after, r } = await acceptsAgainAndSettle(s, ledger)
    const ok = [
      ledgerHolds('read-only at start', r),
      check(cap !== null, `read-only at start: the collector ${behaviour}: no beacon could be taken into the spool`),
      ...(cap ? [capHolds('read-only at start', cap, ledger)] : []),
      check(before === 20 && after === 50, `read-only at start: before ${before}/20, after recovery ${after}/50 accepted`),
    ].every(Boolean)
    console.log(`  ${behaviour}; writable again: recovered ${recovered}, then 202×${after}; stored ${r.storedRows}`)
    ledgerRow(what, ok, r, `${behaviour.slice(0, 220)}; writable again: recovered by ${recovered === 'in place' ? 'itself' : 'a restart'}`)
  } finally {
    unmount(ch)
  }
}

// ---------------------------------------------------------------- h. clock jumps

/** libfaketime.so.1 where Debian and `make install` put it, or FAKETIME_LIB (only that one when set). */
function faketimeLib(): string | null {
  const candidates = process.env.FAKETIME_LIB
    ? [process.env.FAKETIME_LIB]
    : ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1', '/usr/local/lib/faketime/libfaketime.so.1']
  return candidates.find((c) => fs.existsSync(c)) ?? null
}

/** The server's wall clock (its Date header, to the second) minus ours, ms. */
async function serverClockOffset(s: Server): Promise<number> {
  const res = await fetch(s.url + '/healthz', { signal: AbortSignal.timeout(10_000) })
  await res.arrayBuffer()
  return Date.parse(res.headers.get('date') ?? '') - Date.now()
}

function fmtOffset(ms: number): string {
  const sign = ms < 0 ? '−' : '+'
  const a = Math.abs(ms)
  return a < 60_000 ? `${sign}${(a / 1000).toFixed(1)} s` : `${sign}${(a / 3_600_000).toFixed(1)} h`
}

const STAGE_MS = 2500

async function phaseClock(): Promise<void> {
  const what = 'fault h: clock jumps −2 h, +1 d, back'
  const lib = faketimeLib()
  if (!lib) {
    console.log('· fault h: not run: libfaketime is not installed (apt-get install faketime)')
    return notRun(what, 'not run: apt-get install faketime')
  }
  console.log(`· fault h: the server's wall clock moved under load by libfaketime (${lib}) ...`)
  const dataDir = tempDir('analytics-load-clock-')
  const rc = path.join(dataDir, 'faketime.rc')
  // atomic: the library reads the file on every call (FAKETIME_NO_CACHE) and must never see half of it
  const setClock = (spec: string) => {
    fs.writeFileSync(rc + '.tmp', spec + '\n')
    fs.renameSync(rc + '.tmp', rc)
  }
  setClock('+0')
  const s = await startServer(dataDir, { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: rc, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' })
  await registerSite(s)
  const ledger = new Ledger('h')
  const client = new BeaconClient(s.url, 5)
  const stages: [label: string, spec: string, offsetMs: number][] = [
    ['now', '+0', 0],
    ['2 h back', '-2h', -7_200_000],
    ['1 day ahead', '+1d', 86_400_000],
    ['back to now', '+0', 0],
  ]
  const seen: string[] = []
  let followed = true
  for (const [label, spec, offset] of stages) {
    setClock(spec)
    await sleep(1100) // the Date header is cached for up to a second
    const got = await serverClockOffset(s)
    if (Math.abs(got - offset) > 3000) followed = false
    seen.push(`${label} ${fmtOffset(got)}`)
    ledger.stage = label
    const until = Date.now() + STAGE_MS
    while (Date.now() < until && alive(s.child)) await wave(client, ledger, 5)
  }
  setClock('+0')
  client.close()
  await stopServer(s)
  const stored = await countPaths(dataDir, '/load/h/')
  const r = reconcile(ledger, stored)
  if (!followed) {
    console.log(`  the server's clock did not follow libfaketime (its Date header: ${seen.join(', ')})`)
    return notRun(what, `not run: libfaketime did not move the server's clock (${seen.join(', ')})`)
  }
  const order = outOfOrder(ledger, stored)
  // per stage: the stored ts against the real time each beacon was sent
  const perStage = stages.map(([label]) => {
    const offs = [...ledger.byPath].filter(([p, x]) => x.stage === label && stored.has(p)).map(([p, x]) => stored.get(p)!.ts - x.sentAt).sort((a, b) => a - b)
    return offs.length ? `${label}: ${fmtOffset(offs[Math.floor(offs.length / 2)])}` : `${label}: -`
  })
  const ok = [
    ledgerHolds('clock jumps', r),
    check(ledger.count('acked') === ledger.sent, `clock jumps: ${ledger.sent - ledger.count('acked')} beacons not accepted (${ledger.count('refused')} refused, ${JSON.stringify(ledger.oddities)})`),
    check(order.pairs === 0, `clock jumps: ${order.pairs} pairs of beacons stored out of send order (${order.beacons} beacons stored before one sent earlier)`),
  ].every(Boolean)
  console.log(`  server clock (Date header − real): ${seen.join(', ')}`)
  console.log(`  ${ledger.sent} beacons in ${ledger.wave} waves of 5; stored ts − real send time (median): ${perStage.join(', ')}`)
  console.log(`  out of send order: ${order.pairs} pairs (${order.beacons} beacons stored before a beacon sent earlier); ${order.ties} beacons share their ts with one sent earlier (no order between them in the store); stored ${r.storedRows}`)
  ledgerRow(what, ok, r, `${order.pairs} pairs out of order, ${order.ties} ts ties with an earlier beacon; stored ts − real: ${perStage.join(', ')}`)
}

// ---------------------------------------------------------------- 3. the stats API flooded

const FLOOD_S = Number(process.env.FLOOD_SECONDS || 10)
const FLOOD_BEACON_RPS = Number(process.env.FLOOD_BEACON_RPS || 100)
const FLOOD_CONNECTIONS = Number(process.env.FLOOD_CONNECTIONS || 32)
/** Beacon p99 under the flood may be at most this many times its value alone. */
const FLOOD_P99_RATIO = 2

/** wrk -t1 -c FLOOD_CONNECTIONS with bench/stats-flood.lua for `seconds`, asking with the shared link `token`. */
async function runStatsFlood(url: string, token: string, seconds: number): Promise<{ sent: number; byStatus: Record<string, number>; rps: number; p50ms: number; p99ms: number }> {
  // a long timeout: an attacker waits for answers (and a question that timed out would be asked again while the first still runs)
  const argv = ['-t1', `-c${FLOOD_CONNECTIONS}`, `-d${seconds}s`, '--timeout', '30s', '--latency', '-s', path.join(BENCH_DIR, 'stats-flood.lua'), url]
  const proc = spawn('wrk', argv, { env: { ...process.env, FLOOD_TOKEN: token, FLOOD_SITE: 'example.com' }, stdio: ['ignore', 'pipe', 'pipe'] })
  track(proc)
  let out = ''
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()))
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()))
  const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve))
  const line = out.split('\n').find((l) => l.startsWith('FLOOD_RESULT '))
  if (code !== 0 || !line) throw new Error(`wrk (stats flood) failed (exit ${code}):\n${out}`)
  const r = JSON.parse(line.slice('FLOOD_RESULT '.length)) as { sent: number; status: Record<string, number>; duration_us: number; latency_us: { p50: number; p99: number } }
  const answered = Object.values(r.status).reduce((a, b) => a + b, 0)
  return { sent: r.sent, byStatus: r.status, rps: answered / (r.duration_us / 1e6), p50ms: r.latency_us.p50 / 1000, p99ms: r.latency_us.p99 / 1000 }
}

/** i. Beacons at a steady rate alone, then under a flood of the stats API through a shared link. */
async function phaseStatsFlood(): Promise<void> {
  console.log(`· stats flood: ${FLOOD_BEACON_RPS} beacons/s for ${FLOOD_S} s alone, then ${FLOOD_S} s more while wrk -c${FLOOD_CONNECTIONS} asks the stats API through a shared link ...`)
  const dataDir = tempDir('analytics-load-flood-')
  const s = await startServer(dataDir)
  await registerSite(s)
  const made = await fetchJson(s.url + '/api/v1/tokens', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ site: 'example.com', scopes: ['shared'], name: 'flood' }),
  })
  if (made.status !== 201) throw new Error(`creating a shared link answered ${made.status} ${JSON.stringify(made.json)}`)
  const link = made.json.token as string
  const ledger = new Ledger('i')
  const client = new BeaconClient(s.url, CONNECTIONS)
  await paced(client, ledger, FLOOD_BEACON_RPS, 2) // connections opened, caches warm
  const alone = await paced(client, ledger, FLOOD_BEACON_RPS, FLOOD_S)
  const [flooded, flood] = await Promise.all([paced(client, ledger, FLOOD_BEACON_RPS, FLOOD_S), runStatsFlood(s.url, link, FLOOD_S)])
  client.close()
  const [p50a, p99a, p50f, p99f] = [percentile(alone, 50), percentile(alone, 99), percentile(flooded, 50), percentile(flooded, 99)]
  const ratio = p99f / p99a
  const expected = Math.round(FLOOD_BEACON_RPS * FLOOD_S)
  const answered = Object.values(flood.byStatus).reduce((a, b) => a + b, 0)
  // wrk stops with questions still waiting: those were asked but never answered in the window
  const answers = [...Object.entries(flood.byStatus).map(([k, v]) => `${k}×${v}`), `unanswered ${flood.sent - answered}`].join(', ')
  console.log(`  beacons alone: p50 ${p50a.toFixed(1)} ms, p99 ${p99a.toFixed(1)} ms; under the flood: p50 ${p50f.toFixed(1)} ms, p99 ${p99f.toFixed(1)} ms (${ratio.toFixed(2)}×)`)
  console.log(`  flood: ${flood.sent} questions asked, ${flood.rps.toFixed(1)}/s answered (${answers})${answered ? `, p50 ${flood.p50ms.toFixed(0)} ms, p99 ${flood.p99ms.toFixed(0)} ms` : ''}`)
  await drain(s)
  const r = await settle(s, ledger)
  const ok = [
    ledgerHolds('stats flood', r),
    check(ratio <= FLOOD_P99_RATIO, `stats flood: beacon p99 ${p99f.toFixed(1)} ms under the flood, ${ratio.toFixed(1)}× its ${p99a.toFixed(1)} ms alone (at most ${FLOOD_P99_RATIO}×)`),
    check(flooded.length === expected, `stats flood: ${expected - flooded.length} beacons under the flood not answered 202`),
    check(!Object.keys(flood.byStatus).some((st) => Number(st) >= 500), `stats flood: the flood got server errors: ${answers}`),
  ].every(Boolean)
  ledgerRow(`stats flood: wrk -c${FLOOD_CONNECTIONS} on a shared link, ${FLOOD_S} s`, ok, r, `beacon p99 ${p99a.toFixed(1)} → ${p99f.toFixed(1)} ms (${ratio.toFixed(2)}×, at most ${FLOOD_P99_RATIO}×), p50 ${p50a.toFixed(1)} → ${p50f.toFixed(1)} ms; flood of ${flood.sent}: ${answers}`)
}

// ---------------------------------------------------------------- the table

function table(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)))
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(i === r.length - 1 ? 0 : widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n')
}

async function main(): Promise<void> {
  const started = Date.now()
  if (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error !== undefined) throw new Error('wrk is not installed (apt-get install -y wrk)')
  const [load1] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number)
  if (load1 > 1) console.log(`NOTE: load average ${load1} before the run: other work shares the cores, figures will be low and noisy.`)
  const noMount = mountUnavailable()

  const phases: [id: string, name: string, run: () => Promise<unknown>][] = [
    ['load', 'load', phaseLoad],
    ['a', 'fault a', phaseKillUnderLoad],
    ['b', 'fault b', phaseTorn],
    ['c', 'fault c', phaseSpoolCap],
    ['d', 'fault d', phaseStoreRefuses],
    [
      'e',
      'fault e: store dir full',
      async () => {
        if (noMount) return notRun('fault e: store dir full (tmpfs)', `not run: ${noMount}`)
        console.log(`· fault e: the embedded store's directory on a 32 MB tmpfs, filled up after start, SPOOL_CAP_BYTES=${CAP} ...`)
        await phaseStoreDirFails({
          what: 'fault e: store dir full (tmpfs)',
          tag: 'e',
          prepare: (dir) => mountTmpfs(dir, 32 * 1024 * 1024),
          inject: (dir) => `filled with ${(fillUp(path.join(dir, 'filler')) / 1024 / 1024).toFixed(1)} MB`,
          remove: (dir) => fs.rmSync(path.join(dir, 'filler'), { force: true }),
          cleanUp: (dir) => unmount(dir),
        })
      },
    ],
    [
      'f',
      'fault f: store dir read-only',
      async () => {
        if (noMount) return notRun('fault f: store dir read-only after start', `not run: ${noMount}`)
        console.log(`· fault f: the embedded store's directory remounted read-only after start, SPOOL_CAP_BYTES=${CAP} ...`)
        await phaseStoreDirFails({
          what: 'fault f: store dir read-only after start',
          tag: 'f',
          inject: (dir) => {
            bindReadOnly(dir)
            return 'remounted read-only'
          },
          remove: (dir) => unmount(dir),
          cleanUp: (dir) => unmount(dir),
        })
      },
    ],
    ['g', 'fault g: store dir read-only before start', async () => (noMount ? notRun('fault g: store dir read-only before start', `not run: ${noMount}`) : phaseReadOnlyAtStart())],
    ['h', 'fault h: clock jumps', phaseClock],
    ['i', 'stats flood', phaseStatsFlood],
  ]
  let held: Awaited<ReturnType<typeof phaseLoad>> | undefined
  for (const [id, name, run] of phases) {
    if (ONLY.size && !ONLY.has(id)) continue
    try {
      const r = await run()
      if (id === 'load') held = r as typeof held
    } catch (err) {
      problems.push(`${name} failed to run: ${(err as Error).message.slice(0, 2000)}`)
      rows.push({ what: name, result: 'FAILED', accepted: null, stored: null, lost: null, duplicates: null, detail: `failed to run: ${(err as Error).message.split('\n')[0].slice(0, 120)}` })
      console.error(`${name} failed to run: ${(err as Error).stack}`)
    }
  }

  const lost = rows.reduce((a, r) => a + (r.lost ?? 0), 0)
  const dups = rows.reduce((a, r) => a + (r.duplicates ?? 0), 0)
  const faults = rows.filter((r) => r.what.startsWith('fault'))
  const survived = faults.filter((r) => r.result === 'survived').length
  const notRunFaults = faults.filter((r) => r.result === 'not run')
  const injected = faults.length - notRunFaults.length
  const n = (v: number | null) => (v === null ? '-' : String(v))

  console.log(`\n=== npm run test:load: reliability table (${new Date().toISOString().slice(0, 19)}Z, took ${((Date.now() - started) / 1000).toFixed(0)} s) ===`)
  console.log(table(['check', 'result', 'accepted', 'stored', 'lost', 'dups', 'detail'], rows.map((r) => [r.what, r.result, n(r.accepted), n(r.stored), n(r.lost), n(r.duplicates), r.detail])))
  console.log('')
  console.log(`load held:         ${held ? `${held.rps.toFixed(0)} req/s for ${held.seconds} s (wrk -t1 -c${CONNECTIONS}, 127.0.0.1, server and wrk share the cores)` : 'NOT MEASURED'}`)
  if (held) {
    const m = held.memory
    console.log(`memory (RSS MB):   start ${mb(m.start)}, peak ${mb(m.peak.mb)}, end of load ${mb(m.endOfLoad)}, after ${m.idleSeconds.toFixed(0)} s idle ${mb(m.afterIdle)}; every 10 s: ${m.every10s.map((x) => mb(x.mb)).join(' ')}`)
  }
  console.log(`faults:            ${injected} injected, ${survived} survived${notRunFaults.length ? `, ${notRunFaults.length} not run (${notRunFaults.map((r) => r.what.replace(/^fault (\w):.*/, '$1')).join(', ')})` : ''}`)
  console.log(`bad inputs tried:  ${held ? `${held.junk.tried} malformed beacons mixed into the load` : 0}`)
  console.log(`events lost: ${lost} · duplicates: ${dups}`)
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
