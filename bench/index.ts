/**
 * `npm run bench`: the collector under load, against a bare Fastify route, in one run.
 *
 *  1. the real collector (`node --import tsx cli/index.ts serve`) on a fresh data directory,
 *     site example.com registered, loaded with wrk (-t1 -c50, 10 s) with realistic pageview
 *     beacons from varied addresses and browsers; req/s, p50/p99, 202s, CPU by thread, RSS
 *     idle (before the load), at its peak and 10 s after the drain;
 *     then the spool is drained (GET /healthz spoolBytes), the stats API asked (shown as a
 *     note: it may read rollups built on a schedule), the collector stopped, and its store
 *     counted directly (bench/count-events.ts): stored must equal accepted.
 *     Once with the spool's fsync on (the default), once with SPOOL_FSYNC=0.
 *  2. a bare Fastify server (bench/bare-server.ts) under the identical load.
 *  3. the ingestion pipeline in-process on 50 k synthetic events, ns/event per step, then what
 *     a row costs the spool (its JSON line, its Native columns); and the insert cost a row by
 *     format (JSONEachRow, TSV, RowBinary, Native) into a Null table and into `events`.
 *
 * Options: --profile (CPU-profile the servers and print the hot spots of the load window;
 * --profile-dir=<dir> also keeps the .cpuprofile files), --perf (sample the servers' main threads
 * with Linux perf during the load and print where their CPU went, in µs a request: bench/perf-profile.ts),
 * --no-nofsync (skip the SPOOL_FSYNC=0 run). Env: BENCH_DURATION (s, default 10),
 * BENCH_CONNECTIONS (default 50), BENCH_PIPELINE_EVENTS (default 50000), BENCH_WARMUP (beacons
 * sent before each measured load, default 3000),
 * BENCH_FORCE_AUTOCANNON=1 (use the autocannon fallback even when wrk is installed).
 *
 *  4. freshness (bench/freshness.ts): a fresh collector on the default settings under a steady
 *     load (wrk paced at BENCH_FRESHNESS_SHARE, default 25 %, of the req/s measured in 1, or
 *     BENCH_FRESHNESS_RPS), one probe pageview a second on a probe site, the time from each
 *     probe's 202 to the stats API counting it; median and worst of BENCH_FRESHNESS_PROBES
 *     (default 20), a probe not counted within BENCH_FRESHNESS_DEADLINE s (default 90) a
 *     timeout. `--no-freshness` skips it.
 *  5. what keeping the statistics current costs (bench/upkeep.ts): ten minutes of a site of ten
 *     million events a day (BENCH_UPKEEP_EVENTS_PER_DAY) inserted as the spool writer sends them,
 *     into `events` and into a copy no view reads, then the day built; CPU an event and the share
 *     of a core at that rate. `--no-upkeep` skips it.
 *  6. the query bench (bench/queries.ts): 10 million events (BENCH_QUERY_EVENTS), rollups, the
 *     dashboard's queries for a 30-day range against a bare count(), and each panel under six
 *     pairs of filters; `--no-queries` skips it.
 *
 * It reports; it does not judge: the exit status is non-zero only when something failed to run.
 */
import { spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchFreshness, formatFreshness, type FreshnessResult } from './freshness.ts'
import { busyPct, cleanUpOnExit, collectorEnv, countStored, fetchJson, freePort, machineCpu, procStatusMb, ROOT, sleep, startChild, stopChild, stolenPct, tempDir, track, waitFor, serveArgs } from './lib.ts'
import { formatProfile, summariseProfile } from './profile.ts'
import { formatPerf, perfAvailable, recordThread, summarisePerf, type PerfSummary } from './perf-profile.ts'
import type { EventRow } from '../collector/pipeline/types.ts'
import { utcDay } from '../store/time.ts'

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const LOAD_S = Number(process.env.BENCH_DURATION || 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50)
const PIPELINE_EVENTS = Number(process.env.BENCH_PIPELINE_EVENTS || 50_000)
const args = new Set(process.argv.slice(2))
const KEEP_PROFILES = process.argv.slice(2).find((a) => a.startsWith('--profile-dir='))?.slice('--profile-dir='.length)
const PROFILE = args.has('--profile') || KEEP_PROFILES !== undefined
const NOFSYNC_RUN = !args.has('--no-nofsync')
const PERF = args.has('--perf')
const FRESHNESS_RUN = !args.has('--no-freshness')
const FRESHNESS_PROBES = Number(process.env.BENCH_FRESHNESS_PROBES || 20)
const FRESHNESS_DEADLINE_S = Number(process.env.BENCH_FRESHNESS_DEADLINE || 90)
// a steady load well below saturation: a saturated collector would time its own queue
const FRESHNESS_SHARE = Number(process.env.BENCH_FRESHNESS_SHARE || 0.25)

cleanUpOnExit('bench')

/** Where a CPU profile goes: kept under --profile-dir=<dir>, else a temporary directory. */
function profileDir(label: string): string {
  if (!KEEP_PROFILES) return tempDir('analytics-bench-prof-')
  const d = path.resolve(KEEP_PROFILES, label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, ''))
  fs.rmSync(d, { recursive: true, force: true })
  fs.mkdirSync(d, { recursive: true })
  return d
}

/** --cpu-prof writes one file per thread (tsx's loader runs in its own): the main thread's is `CPU.<date>.<time>.<pid>.0.<n>`. */
function mainThreadProfile(dir: string): string | undefined {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  return files.find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? files[0]
}


// ---------------------------------------------------------------- small helpers








/** utime + stime of a process (all its threads), in ms. */
function cpuMs(pid: number, file = `/proc/${pid}/stat`): number {
  try {
    const stat = fs.readFileSync(file, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15)
    return (ticks * 1000) / 100 // USER_HZ is 100 on Linux
  } catch {
    return NaN
  }
}

/** CPU ms of every thread of a process, keyed by thread id, with the thread's name. */
function threadCpu(pid: number): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>()
  let tids: string[] = []
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    const ms = cpuMs(Number(tid), `/proc/${pid}/task/${tid}/stat`)
    if (!Number.isFinite(ms)) continue
    let name = ''
    try {
      name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
    } catch {
      continue
    }
    out.set(Number(tid), { name: Number(tid) === pid ? 'main thread (JS)' : name, ms })
  }
  return out
}

/**
 * CPU µs per request by thread name between two snapshots (threads that ended are missed): the
 * busiest six as text, and the JS main thread's figure.
 */
function threadCpuPerReq(before: Map<number, { name: string; ms: number }>, after: Map<number, { name: string; ms: number }>, requests: number): { text: string; mainUs: number } {
  const byName = new Map<string, number>()
  for (const [tid, a] of after) {
    const d = a.ms - (before.get(tid)?.ms ?? 0)
    if (d > 0) byName.set(a.name, (byName.get(a.name) ?? 0) + d)
  }
  const perReq = (ms: number) => (ms * 1000) / Math.max(1, requests)
  const text = [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([name, ms]) => `${name} ${perReq(ms).toFixed(1)}`)
    .join(', ')
  return { text, mainUs: perReq(byName.get('main thread (JS)') ?? NaN) }
}

/** Polls VmRSS every 50 ms until stopped: the peak during the load. */
function rssSampler(pid: number) {
  let peak = 0
  const timer = setInterval(() => {
    peak = Math.max(peak, procStatusMb(pid, 'VmRSS'))
  }, 50)
  return {
    stop: () => {
      clearInterval(timer)
      peak = Math.max(peak, procStatusMb(pid, 'VmRSS'))
      return { peakRssMb: peak, hwmMb: procStatusMb(pid, 'VmHWM') }
    },
  }
}

// ---------------------------------------------------------------- the load

interface LoadResult {
  tool: string
  rps: number
  p50ms: number
  p99ms: number
  maxMs: number
  completed: number
  sent: number
  byStatus: Record<string, number>
  /** Answered 202: should be stored (the load sends nothing a policy drops). */
  accepted: number
  errors: string
  /** True when nothing was in flight when the tool stopped (exact accounting). */
  exact: boolean
  /** CPU the load tool itself used, µs per answered request (wrk only; NaN when unknown). */
  toolCpuUsPerReq: number
  /** Share of the machine's cores busy (anything, this bench or not) during the load, %. */
  machineBusyPct: number
  /** Share of the machine's time its host took away during the load (steal), %: see stolenPct. */
  stolenPct: number
}

function haveWrk(): boolean {
  if (process.env.BENCH_FORCE_AUTOCANNON === '1') return false
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined
}

async function runWrk(url: string): Promise<LoadResult> {
  // One second longer than the load: the script stops sending after LOAD_S (see the script),
  // so every beacon sent is answered before wrk stops.
  const argv = ['-t1', `-c${CONNECTIONS}`, `-d${LOAD_S + 1}s`, '--latency', '-s', path.join(BENCH_DIR, 'wrk-script.lua'), url + '/api/event']
  const m0 = machineCpu()
  const proc = spawn('wrk', argv, { env: { ...process.env, BENCH_LOAD_S: String(LOAD_S) }, stdio: ['ignore', 'pipe', 'pipe'] })
  track(proc)
  let out = ''
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()))
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()))
  // wrk's own CPU: its last reading before it exits (it is idle in its final second anyway)
  let wrkCpuMs = NaN
  let m1 = m0
  const t0 = Date.now()
  const poll = setInterval(() => {
    const ms = cpuMs(proc.pid ?? -1)
    if (Number.isFinite(ms)) wrkCpuMs = ms
    if (Date.now() - t0 <= LOAD_S * 1000) m1 = machineCpu() // the load phase, not wrk's idle last second
  }, 100)
  const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve))
  clearInterval(poll)
  const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${out}`)
  const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
    sent: number
    window_s: number
    status: Record<string, number>
    completed: number
    errors: Record<string, number>
    latency_us: { p50: number; p99: number; max: number }
  }
  const errs = Object.entries(r.errors).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')
  const answered = Object.values(r.status).reduce((a, b) => a + b, 0)
  return {
    tool: 'wrk',
    rps: answered / r.window_s,
    p50ms: r.latency_us.p50 / 1000,
    p99ms: r.latency_us.p99 / 1000,
    maxMs: r.latency_us.max / 1000,
    completed: answered,
    sent: r.sent,
    byStatus: r.status,
    accepted: r.status['202'] ?? 0,
    errors: errs,
    exact: r.sent === answered,
    toolCpuUsPerReq: (wrkCpuMs * 1000) / Math.max(1, answered),
    machineBusyPct: busyPct(m0, m1),
    stolenPct: stolenPct(m0, m1),
  }
}

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
]
const PATHS = ['/', '/', '/', '/pricing', '/features', '/blog', '/blog/launch', '/blog/privacy-by-design', '/docs', '/docs/install', '/about', '/signup']
const DOC_RANGES = ['192.0.2.', '198.51.100.', '203.0.113.']

/** The fallback when wrk is not installed; autocannon shares the cores and understates the server. */
async function runAutocannon(url: string): Promise<LoadResult> {
  const name = 'autocannon' // not typed; loaded only for the fallback
  const autocannon = ((await import(name)) as { default: (opts: object) => PromiseLike<Record<string, any>> & { on: Function } }).default
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]
  const byStatus: Record<string, number> = {}
  let sent = 0
  const started = Date.now()
  const m0 = machineCpu()
  const instance = autocannon({
    url: url + '/api/event',
    connections: CONNECTIONS,
    duration: LOAD_S,
    method: 'POST',
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => {
          sent++
          return {
            ...req,
            headers: {
              'content-type': 'text/plain',
              'user-agent': pick(AGENTS),
              'x-forwarded-for': pick(DOC_RANGES) + (1 + Math.floor(Math.random() * 254)),
            },
            body: JSON.stringify({ n: 'pageview', u: `https://example.com${pick(PATHS)}?utm_source=x`, d: 'example.com', r: 'https://www.google.com/', w: 1280 }),
          }
        },
      },
    ],
  })
  instance.on('response', (_client: unknown, status: number) => {
    byStatus[status] = (byStatus[status] ?? 0) + 1
  })
  const r = await instance
  const answered = Object.values(byStatus).reduce((a, b) => a + b, 0)
  const seconds = (Date.now() - started) / 1000
  const m1 = machineCpu()
  return {
    tool: 'autocannon',
    rps: answered / seconds,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    maxMs: r.latency.max,
    completed: answered,
    sent,
    byStatus,
    accepted: byStatus['202'] ?? 0,
    errors: [r.errors ? `errors ${r.errors}` : '', r.timeouts ? `timeouts ${r.timeouts}` : ''].filter(Boolean).join(', '),
    exact: sent === answered,
    toolCpuUsPerReq: NaN,
    machineBusyPct: busyPct(m0, m1),
    stolenPct: stolenPct(m0, m1),
  }
}

const runLoad = (url: string, tool: 'wrk' | 'autocannon') => (tool === 'wrk' ? runWrk(url) : runAutocannon(url))

const WARMUP_REQUESTS = Number(process.env.BENCH_WARMUP ?? 3000)
/** How long after the drain the collector's RSS is read again. */
const DRAINED_AFTER_MS = 10_000
const IDLE_AFTER_MS = 8_000

/**
 * Before the measured load: WARMUP_REQUESTS beacons, 25 at a time, so both servers are
 * measured JIT-warm. Returns how many were answered 202 (they are stored too).
 */
async function warmUp(url: string): Promise<number> {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]
  let next = 0
  let accepted = 0
  const worker = async () => {
    while (next++ < WARMUP_REQUESTS) {
      const res = await fetch(url + '/api/event', {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': pick(AGENTS), 'x-forwarded-for': pick(DOC_RANGES) + (1 + Math.floor(Math.random() * 254)) },
        body: JSON.stringify({ n: 'pageview', u: `https://example.com${pick(PATHS)}?utm_source=x`, d: 'example.com', r: 'https://www.google.com/', w: 1280 }),
        signal: AbortSignal.timeout(10_000),
      })
      await res.arrayBuffer()
      if (res.status === 202) accepted++
    }
  }
  await Promise.all(Array.from({ length: 25 }, worker))
  return accepted
}

// ---------------------------------------------------------------- the collector

interface CollectorRun {
  label: string
  load: LoadResult
  /** Beacons accepted during the warm-up (stored as well). */
  warmAccepted: number
  /** Filled in by `count()`, once the collector has stopped. */
  stored: number
  storedNote: string
  count: () => Promise<void>
  peakRssMb: number
  hwmMb: number
  /** RSS once healthy, before the load. */
  idleRssMb: number
  /** RSS a few seconds after the spool drained into the store. */
  drainedRssMb: number
  cpuUsPerReq: number
  /** CPU µs per request by thread name during the load, and the JS main thread's. */
  threads: { text: string; mainUs: number }
  startMs: number
  drainMs: number
  profile?: string
  perf?: PerfSummary
}

/** A frame of the project's own code: the bundle `npm start` runs, or a source file (tsx). */
const projectFile = (url: string) => {
  const root = ROOT.replace(/\/$/, '')
  return !url.includes('/node_modules/') && (url.startsWith(`file://${root}/`) || url.startsWith(`${root}/`))
}

/** Samples the main thread with perf while `load` runs (--perf); the samples are sorted into categories once it is over. */
async function underPerf<T>(pid: number, load: () => Promise<T>): Promise<{ result: T; perf?: PerfSummary }> {
  if (!PERF) return { result: await load() }
  const dir = tempDir('analytics-bench-perf-')
  const file = path.join(dir, 'perf.data')
  const rec = recordThread(pid, file)
  try {
    const result = await load()
    await rec.stop()
    return { result, perf: summarisePerf(file, projectFile) }
  } finally {
    await rec.stop()
    // the JIT's symbol map --perf-basic-prof wrote (it names JavaScript frames for perf script)
    fs.rmSync(`/tmp/perf-${pid}.map`, { force: true })
  }
}

/** V8's log of each isolate of a server run with --perf-basic-prof (the main one, the workers'), in its working directory: removed once it has stopped. */
function removeIsolateLogs(pid: number): void {
  if (!PERF) return
  const own = new RegExp(`^isolate-0x[0-9a-f]+-${pid}-v8\\.log$`)
  for (const f of fs.readdirSync(ROOT)) if (own.test(f)) fs.rmSync(path.join(ROOT, f), { force: true })
}

async function benchCollector(label: string, extraEnv: Record<string, string>, tool: 'wrk' | 'autocannon'): Promise<CollectorRun> {
  const dataDir = tempDir('analytics-bench-')
  const port = await freePort()
  const token = crypto.randomBytes(24).toString('hex')
  const url = `http://127.0.0.1:${port}`
  const env = collectorEnv(dataDir, port, token, extraEnv)
  const profDir = PROFILE ? profileDir(label) : null
  // as `npm start` runs it; a profiled run reads the TypeScript through tsx, so that its samples name the project's files
  const nodeArgs = serveArgs(profDir ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], tsx: true } : PERF ? { nodeFlags: ['--perf-basic-prof'] } : {})
  const t0 = Date.now()
  const child = startChild(process.execPath, nodeArgs, env)
  try {
    await waitFor(`${label}: GET /healthz`, child, 90_000, async () => ((await fetchJson(url + '/healthz')).status === 200 ? true : undefined))
    const startMs = Date.now() - t0
    const auth = { authorization: `Bearer ${token}` }
    const added = await fetchJson(url + '/api/v1/sites', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ domain: 'example.com', timezone: 'UTC' }),
    })
    if (added.status !== 201) throw new Error(`${label}: registering example.com answered ${added.status} ${JSON.stringify(added.json)}`)

    const day = utcDay()
    // idle: once the start's own burst (migrations, the engine's first queries) is given back (SpoolWriter's onIdle, 5 s)
    await sleep(IDLE_AFTER_MS)
    const idleRssMb = procStatusMb(child.pid, 'VmRSS')
    const warmAccepted = await warmUp(url)
    const rss = rssSampler(child.pid)
    const cpu0 = cpuMs(child.pid)
    const threads0 = threadCpu(child.pid)
    const loadFromUs = Number(process.hrtime.bigint() / 1000n)
    const { result: load, perf } = await underPerf(child.pid, () => runLoad(url, tool))
    const loadToUs = Number(process.hrtime.bigint() / 1000n)
    const cpu1 = cpuMs(child.pid)
    const threads = threadCpuPerReq(threads0, threadCpu(child.pid), load.completed)
    const mem = rss.stop()

    // The spool drains into the store: wait until /healthz says it is empty (twice in a row).
    const d0 = Date.now()
    let emptyPolls = 0
    await waitFor(`${label}: spool drain`, child, 60_000, async () => {
      const h = await fetchJson(url + '/healthz')
      if (h.status === 200 && h.json.spoolBytes === 0) emptyPolls++
      else emptyPolls = 0
      return emptyPolls >= 2 ? true : undefined
    })
    const drainMs = Date.now() - d0
    // what the collector holds once the backlog is in the store and the load is over
    await sleep(DRAINED_AFTER_MS)
    const drainedRssMb = procStatusMb(child.pid, 'VmRSS')
    // What the stats API says (it may read rollups that are rebuilt on a schedule, so it can lag).
    // `day` is today in the site's zone (UTC); should the run have crossed midnight, 7d covers both days.
    const period = utcDay() === day ? 'day' : '7d'
    const agg = await fetchJson(`${url}/api/v1/stats/aggregate?site=example.com&period=${period}&metrics=events,visitors`, { headers: auth })
    let apiNote: string
    if (agg.status !== 200) apiNote = `stats API answered ${agg.status} ${JSON.stringify(agg.json).slice(0, 200)}`
    else {
      const results = (agg.json.results ?? {}) as Record<string, { value: number | null; withheld?: string } | undefined>
      const ev = results.events
      apiNote = ev?.value != null ? `stats API: events ${ev.value}, visitors ${results.visitors?.value}` : `stats API: events ${ev?.withheld ? `withheld (${ev.withheld})` : 'missing'}`
    }

    // The count itself: stop the collector (it flushes what is left), then read the store directly.
    await stopChild(child)
    const exit = child.proc.exitCode ?? child.proc.signalCode
    if (exit !== 0) throw new Error(`${label}: the collector did not stop cleanly (${exit}). Its output:\n${child.output()}`)
    // counted later (bench/count-events.ts in a process of its own), in parallel with the other run's count
    const count = async () => {
      const counted = await countStored(dataDir, env)
      run.stored = counted.events
      run.storedNote = `store: ${counted.events} events from ${counted.visitors} visitor hashes; ${apiNote}`
    }

    let profile: string | undefined
    if (profDir) {
      const file = mainThreadProfile(profDir)
      profile = file
        ? formatProfile(`CPU profile of the main thread, ${label}, load window only`, summariseProfile(path.join(profDir, file), 15, [loadFromUs, loadToUs]))
        : `(no CPU profile was written for ${label})`
    }
    const run: CollectorRun = {
      label,
      load,
      warmAccepted,
      stored: NaN,
      storedNote: '',
      count,
      peakRssMb: mem.peakRssMb,
      hwmMb: mem.hwmMb,
      idleRssMb,
      drainedRssMb,
      cpuUsPerReq: ((cpu1 - cpu0) * 1000) / Math.max(1, load.completed),
      threads,
      startMs,
      drainMs,
      profile,
      perf,
    }
    return run
  } finally {
    await stopChild(child)
    removeIsolateLogs(child.pid)
  }
}


async function benchBare(tool: 'wrk' | 'autocannon'): Promise<{ load: LoadResult; cpuUsPerReq: number; peakRssMb: number; threads: { text: string; mainUs: number }; profile?: string; perf?: PerfSummary }> {
  const port = await freePort()
  const profDir = PROFILE ? profileDir('bare Fastify') : null
  const child = startChild(process.execPath, ['--import', 'tsx', ...(PERF ? ['--perf-basic-prof'] : []), ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), path.join(BENCH_DIR, 'bare-server.ts')], {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
  })
  try {
    await waitFor('bare Fastify server', child, 30_000, async () => (child.output().includes('ready ') ? true : undefined))
    await warmUp(`http://127.0.0.1:${port}`)
    const rss = rssSampler(child.pid)
    const cpu0 = cpuMs(child.pid)
    const threads0 = threadCpu(child.pid)
    const loadFromUs = Number(process.hrtime.bigint() / 1000n)
    const { result: load, perf } = await underPerf(child.pid, () => runLoad(`http://127.0.0.1:${port}`, tool))
    const loadToUs = Number(process.hrtime.bigint() / 1000n)
    const cpu1 = cpuMs(child.pid)
    const threads = threadCpuPerReq(threads0, threadCpu(child.pid), load.completed)
    const mem = rss.stop()
    await stopChild(child)
    let profile: string | undefined
    if (profDir) {
      const file = mainThreadProfile(profDir)
      profile = file
        ? formatProfile('CPU profile of the main thread, bare Fastify (204), load window only', summariseProfile(path.join(profDir, file), 8, [loadFromUs, loadToUs]))
        : '(no CPU profile was written for the bare server)'
    }
    return { load, cpuUsPerReq: ((cpu1 - cpu0) * 1000) / Math.max(1, load.completed), peakRssMb: mem.peakRssMb, threads, profile, perf }
  } finally {
    await stopChild(child)
    removeIsolateLogs(child.pid)
  }
}

// ---------------------------------------------------------------- the pipeline, step by step

async function pipelineTimings(n: number): Promise<{ text: string; rows: EventRow[]; pipelineUs: number; spoolUs: number }> {
  const { runPipeline, runPipelineTimed, isDrop, STEPS } = await import('../collector/pipeline/index.ts')
  const { GeoLocator } = await import('../collector/lookups/geo.ts')
  const { UserAgentParser } = await import('../collector/lookups/user-agents.ts')
  const { loadPolicy } = await import('../policy/policy.ts')
  const { SaltStore } = await import('../collector/salts.ts')
  const { VisitTracker } = await import('../collector/visits.ts')
  const { syntheticTraffic } = await import('../cli/seed-traffic.ts')
  const { eventBlock, rowValues } = await import('../collector/spool/event-block.ts')

  const ctx = {
    policy: loadPolicy(path.join(ROOT, 'policies/strict.yaml')),
    isKnownSite: () => true,
    geo: await GeoLocator.open(),
    salts: new SaltStore(() => 0),
    visits: new VisitTracker(),
    userAgents: new UserAgentParser(),
  }
  const events = [...syntheticTraffic({ site: 'example.com', events: n, days: 1, randomSeed: 42 })].flat()
  const inputs = events.map((e) => ({ body: e.body, ip: e.ip, userAgent: e.userAgent, dnt: false, gpc: false, receivedAt: e.receivedAt }))

  // warm-up (JIT, UA cache, salts), then the timed pass, then an untimed pass for the true total
  for (let i = 0; i < Math.min(5_000, inputs.length); i++) runPipeline(inputs[i], ctx)
  const timings = new Map<string, number>()
  const drops = new Map<string, number>()
  for (const input of inputs) {
    const r = runPipelineTimed(input, ctx, timings)
    if (isDrop(r)) drops.set(r.drop, (drops.get(r.drop) ?? 0) + 1)
  }
  const rows: EventRow[] = []
  const t0 = processCpuUs()
  for (const input of inputs) {
    const r = runPipeline(input, ctx)
    if (!isDrop(r)) rows.push(r)
  }
  const untimedNs = (processCpuUs() - t0) * 1000
  // then, on the main thread too, each row into the spool: its JSON line, and its values into the segment's Native columns
  const t1 = processCpuUs()
  for (const r of rows) JSON.stringify(rowValues(r))
  const jsonNs = ((processCpuUs() - t1) * 1000) / rows.length
  const t2 = processCpuUs()
  for (let i = 0; i < rows.length; i += 5000) {
    const block = eventBlock()
    for (const r of rows.slice(i, i + 5000)) block.append(r)
    block.finish()
  }
  const nativeNs = ((processCpuUs() - t2) * 1000) / rows.length

  const order = ['parseBeacon', ...STEPS.map(([name]) => name), 'toRow']
  const total = order.reduce((a, k) => a + (timings.get(k) ?? 0), 0)
  const lines = [
    `Pipeline per step, in-process, ${inputs.length} synthetic events (cli/seed-traffic.ts, strict policy, DB-IP geo, ${new Set(events.map((e) => e.userAgent)).size} distinct UAs):`,
    `  ${'step'.padEnd(24)}${'ns/event'.padStart(10)}${'share'.padStart(9)}`,
  ]
  for (const k of order) {
    const ns = timings.get(k) ?? 0
    lines.push(`  ${k.padEnd(24)}${(ns / inputs.length).toFixed(0).padStart(10)}${(((100 * ns) / total).toFixed(1) + ' %').padStart(9)}`)
  }
  lines.push(`  ${'total (timed)'.padEnd(24)}${(total / inputs.length).toFixed(0).padStart(10)}`)
  lines.push(`  ${'runPipeline, untimed'.padEnd(24)}${(untimedNs / inputs.length).toFixed(0).padStart(10)}   CPU = ${((inputs.length * 1e9) / untimedNs / 1000).toFixed(0)} k events/s on one core`)
  lines.push(`  ${'spool: JSON line'.padEnd(24)}${jsonNs.toFixed(0).padStart(10)}   CPU a row (the durable record)`)
  lines.push(`  ${'spool: Native columns'.padEnd(24)}${nativeNs.toFixed(0).padStart(10)}   CPU a row (the block the writer sends)`)
  ctx.geo.close()
  lines.push(`  (each step's figure includes one performance.now() call, ~${measureNowOverheadNs().toFixed(0)} ns; drops: ${[...drops].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; steps are wall time, totals CPU)`)
  return { text: lines.join('\n'), rows, pipelineUs: untimedNs / inputs.length / 1000, spoolUs: (jsonNs + nativeNs) / 1000 }
}

/** CPU of every thread of this process (the store's included), µs. */
function processCpuUs(): number {
  const c = process.cpuUsage()
  return c.user + c.system
}

/**
 * The store's side of an event, in-process on a fresh embedded store, by insert format: the
 * pipeline's rows in inserts of a default spool segment's size, each format read from a file by the engine
 * (`file(…)`, the spool writer's way for Native), CPU of every thread of this process a row.
 * Into a Null-engine copy of `events` (the format's parsing and conversion alone), and for the
 * format the writer sends, into `events` itself (parts written, materialised views fed). The
 * JS columns say what producing the format costs the collector; TSV and RowBinary are exported
 * by the engine itself, for comparison only.
 */
async function insertCostByFormat(rows: EventRow[]): Promise<string> {
  const { openStore } = await import('../store/client.ts')
  const { migrate } = await import('../store/migrate.ts')
  const { loadConfig } = await import('../server/config.ts')
  // as large as the spool's segments on the default settings (BATCH_ROWS): an insert's cost depends on its size
  const batchRows = loadConfig({}).batchRows
  const { eventBlock } = await import('../collector/spool/event-block.ts')
  const dir = tempDir('analytics-bench-store-')
  const store = await openStore(loadConfig({ ANALYTICS_DATA_DIR: dir }))
  const { client } = store
  try {
    await migrate(client)
    await client.command({ query: 'CREATE TABLE events_null AS events ENGINE = Null' })
    const batches: EventRow[][] = []
    for (let i = 0; i < rows.length; i += batchRows) batches.push(rows.slice(i, i + batchRows))
    const described = (await (await client.query({ query: 'DESCRIBE TABLE events', format: 'JSONEachRow' })).json<{ name: string; type: string }>()).filter((c) => c.name in rows[0])
    const structure = described.map((c) => `${c.name} ${c.type}`).join(', ')
    const columns = described.map((c) => c.name)

    // each format's files, and what making them cost in JS where the collector would make them
    const files: Record<string, { paths: string[]; encodeUs: number }> = {}
    const write = (format: string, i: number, data: Buffer | string) => {
      const file = path.join(dir, `${format}-${i}`)
      fs.writeFileSync(file, data)
      ;(files[format] ??= { paths: [], encodeUs: NaN }).paths.push(file)
    }
    let t = processCpuUs()
    const json = batches.map((b) => b.map((r) => JSON.stringify(r)).join('\n') + '\n')
    const jsonUs = processCpuUs() - t
    json.forEach((text, i) => write('JSONEachRow', i, text))
    files.JSONEachRow.encodeUs = jsonUs / rows.length
    t = processCpuUs()
    const native = batches.map((b) => {
      const block = eventBlock()
      for (const r of b) block.append(r)
      return block.finish()
    })
    const nativeUs = processCpuUs() - t
    native.forEach((block, i) => write('Native', i, block.bytes))
    files.Native.encodeUs = nativeUs / rows.length
    // the engine's own TSV and RowBinary of the same rows, from the first insert
    for (const [i, block] of native.entries()) await store.insertBlock('events', block, `bench-native-${i}`)
    for (const format of ['TSV', 'RowBinary']) {
      for (let i = 0; i < batches.length; i++) {
        const rs = await client.exec({
          query: `SELECT ${columns.join(', ')} FROM events ORDER BY ts, pathname LIMIT {n:UInt32} OFFSET {off:UInt32} FORMAT ${format}`,
          query_params: { n: batchRows, off: i * batchRows },
        })
        const chunks: Buffer[] = []
        for await (const c of rs.stream) chunks.push(c as Buffer)
        write(format, i, Buffer.concat(chunks))
      }
    }

    const insertUs = async (table: string, format: string): Promise<number> => {
      const t0 = processCpuUs()
      for (const [i, file] of files[format].paths.entries()) {
        await client.command({
          query: `INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM file({file:String}, {format:String}, {structure:String})`,
          query_params: { file, format, structure },
          clickhouse_settings: { insert_deduplication_token: `bench-${table}-${format}-${i}-${Date.now()}` },
        })
      }
      return (processCpuUs() - t0) / rows.length
    }
    const order = ['JSONEachRow', 'TSV', 'RowBinary', 'Native']
    const lines = [
      `Insert cost a row by format: ${rows.length} pipeline rows in inserts of ${batchRows}, in-process embedded chDB, CPU µs a row (every thread):`,
      `  ${'format'.padEnd(12)}${'JS encode'.padStart(11)}${'into a Null table'.padStart(19)}${'into events'.padStart(13)}`,
    ]
    for (const format of order) {
      await insertUs('events_null', format) // warm: the file in the page cache, the format's code paged in
      const nullUs = await insertUs('events_null', format)
      // into events only for the format sent today and the one sent before (JSON lines), each
      // into an empty table, so that neither pays for merging the other's parts
      let eventsUs = NaN
      if (format === 'Native' || format === 'JSONEachRow') {
        await client.command({ query: 'TRUNCATE TABLE events' })
        eventsUs = await insertUs('events', format)
      }
      lines.push(`  ${format.padEnd(12)}${f2(files[format].encodeUs).padStart(11)}${f2(nullUs).padStart(19)}${f2(eventsUs).padStart(13)}`)
    }
    lines.push('  (the spool writer sends Native; "into events" includes its parts, merges started meanwhile and the visits and event-count views)')
    return lines.join('\n')
  } finally {
    await store.close()
  }
}

function measureNowOverheadNs(): number {
  const n = 200_000
  const t0 = process.hrtime.bigint()
  let x = 0
  for (let i = 0; i < n; i++) x += performance.now()
  const ns = Number(process.hrtime.bigint() - t0) / n
  return x > 0 ? ns : ns
}

// ---------------------------------------------------------------- the report

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-')
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-')
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-')

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n')
}

const totalAccepted = (r: CollectorRun) => r.load.accepted + r.warmAccepted

function verdict(r: CollectorRun): string {
  const accepted = totalAccepted(r)
  if (r.stored === accepted) return 'yes'
  if (!r.load.exact && r.stored > accepted && r.stored <= accepted + (r.load.sent - r.load.completed)) {
    return `yes, +${r.stored - accepted} in flight at stop`
  }
  return `NO: ${r.stored - accepted > 0 ? '+' : ''}${r.stored - accepted}`
}

async function main(): Promise<void> {
  if (args.has('--collectors')) return (await import('./collectors.ts')).benchCollectors(process.argv.slice(2)) // bench/collectors.ts
  const started = Date.now()
  let tool: 'wrk' | 'autocannon' = 'wrk'
  if (!haveWrk()) {
    tool = 'autocannon'
    console.log('NOTE: wrk is not installed (apt-get install -y wrk); falling back to autocannon, which shares the two cores with the server and understates it (~12 k req/s ceiling here).')
  }
  const [load1] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number)
  if (load1 > 1) console.log(`NOTE: load average ${load1} before the bench: other work shares the 2 cores, figures will be low and noisy.`)
  if (PERF && !perfAvailable()) throw new Error('--perf needs Linux perf, allowed to sample (apt-get install -y linux-perf; kernel.perf_event_paranoid ≤ 2 for a process of your own)')
  if (PERF && PROFILE) throw new Error('--perf and --profile each sample the main thread: ask one at a time')
  console.log(`bench: ${tool} -t1 -c${CONNECTIONS}, ${LOAD_S} s of POST /api/event per server, all on 127.0.0.1${PROFILE ? '; collector CPU-profiled (adds overhead)' : ''}${PERF ? '; main threads sampled by perf (adds a little overhead)' : ''}`)

  const runs: CollectorRun[] = []
  console.log('· collector, spool fsync on (default) ...')
  runs.push(await benchCollector('collector (fsync on)', {}, tool))
  if (NOFSYNC_RUN) {
    console.log('· collector, SPOOL_FSYNC=0 ...')
    runs.push(await benchCollector('collector (SPOOL_FSYNC=0)', { SPOOL_FSYNC: '0' }, tool))
  }
  console.log('· counting the stored events ...')
  await Promise.all(runs.map((r) => r.count()))
  console.log('· bare Fastify route ...')
  const bare = await benchBare(tool)
  console.log(`· pipeline, ${PIPELINE_EVENTS} events in-process ...`)
  const pipeline = await pipelineTimings(PIPELINE_EVENTS)
  console.log('· store inserts by format, in-process ...')
  const storeTiming = await insertCostByFormat(pipeline.rows)
  let freshness: FreshnessResult | undefined
  if (FRESHNESS_RUN) {
    const rps = Math.max(1, Math.round(Number(process.env.BENCH_FRESHNESS_RPS) || runs[0].load.rps * FRESHNESS_SHARE))
    console.log(`· freshness, ${FRESHNESS_PROBES} probes under ${rps} req/s (up to ${FRESHNESS_DEADLINE_S} s each) ...`)
    freshness = await benchFreshness({ rps, probes: FRESHNESS_PROBES, deadlineMs: FRESHNESS_DEADLINE_S * 1000, connections: CONNECTIONS, tool })
  }

  const head = ['server', 'req/s', 'ratio', 'p50 ms', 'p99 ms', 'max ms', 'answered', 'accepted', 'stored', 'stored==accepted', 'RSS MB idle/peak/drained', 'CPU µs/req', `${tool} µs/req`, 'cores busy (stolen by the host)']
  const rows = runs.map((r) => [
    r.label,
    f0(r.load.rps),
    f2(r.load.rps / bare.load.rps),
    f2(r.load.p50ms),
    f2(r.load.p99ms),
    f1(r.load.maxMs),
    String(r.load.completed),
    String(totalAccepted(r)),
    String(r.stored),
    verdict(r),
    `${f0(r.idleRssMb)}/${f0(r.peakRssMb)}/${f0(r.drainedRssMb)}`,
    f0(r.cpuUsPerReq),
    f0(r.load.toolCpuUsPerReq),
    `${f0(r.load.machineBusyPct)} % (${f0(r.load.stolenPct)} %)`,
  ])
  rows.push(['bare Fastify (204)', f0(bare.load.rps), '1.00', f2(bare.load.p50ms), f2(bare.load.p99ms), f1(bare.load.maxMs), String(bare.load.completed), '-', '-', '-', `-/${f0(bare.peakRssMb)}/-`, f0(bare.cpuUsPerReq), f0(bare.load.toolCpuUsPerReq), `${f0(bare.load.machineBusyPct)} % (${f0(bare.load.stolenPct)} %)`])

  console.log('\n' + pipeline.text)
  console.log('\n' + storeTiming)
  for (const r of runs) if (r.profile) console.log('\n' + r.profile)
  if (bare.profile) console.log('\n' + bare.profile)
  if (KEEP_PROFILES) console.log(`\n(.cpuprofile files kept under ${path.resolve(KEEP_PROFILES)}; open them in Chrome DevTools or speedscope)`)
  const sampled = [...runs.map((r) => ({ label: r.label, perf: r.perf, mainUs: r.threads.mainUs })), { label: 'bare Fastify (204)', perf: bare.perf, mainUs: bare.threads.mainUs }]
  if (PERF) {
    console.log(
      '\n' +
        formatPerf(
          "Where the main thread's CPU went, in µs a request (perf: on-CPU samples, the kernel's part in parentheses)",
          sampled.filter((x) => x.perf).map((x) => ({ label: x.label, summary: x.perf!, mainUsPerReq: x.mainUs })),
        ),
    )
  }

  console.log(`\n=== npm run bench: POST /api/event, ${tool} -t1 -c${CONNECTIONS}, ${LOAD_S} s each, load tool and server share 2 cores ===`)
  console.log(table(head, rows))
  for (const r of [...runs, { label: 'bare Fastify (204)', load: bare.load }]) {
    const other = Object.entries(r.load.byStatus).filter(([s]) => s !== '202' && s !== '204')
    const notes = [
      other.length ? `other statuses: ${other.map(([s, n]) => `${s}×${n}`).join(', ')}` : '',
      r.load.errors ? `socket errors: ${r.load.errors}` : '',
      r.load.exact ? '' : `${r.load.sent - r.load.completed} requests in flight when ${r.load.tool} stopped`,
    ].filter(Boolean)
    if (notes.length) console.log(`  ${r.label}: ${notes.join('; ')}`)
  }
  console.log(`  accepted = answered 202 during the measured load + ${WARMUP_REQUESTS} warm-up beacons sent before it (not in req/s or latency)`)
  for (const r of [...runs, { label: 'bare Fastify (204)', threads: bare.threads }]) console.log(`  ${r.label}: CPU µs/req by thread: ${r.threads.text}`)
  console.log('  (threads: "node" = libuv pool on Node 20 (chDB inserts and queries, the spool\'s O_DSYNC writes) and V8 helpers; ThreadPool, MergeMutate... = chDB\'s own)')
  for (const r of runs) {
    console.log(
      `  ${r.label}: start to healthy ${(r.startMs / 1000).toFixed(1)} s; spool drained ${(r.drainMs / 1000).toFixed(1)} s after the load; ` +
        `RSS ${f0(r.idleRssMb)} MB before the load, ${f0(r.peakRssMb)} MB at its peak, ${f0(r.drainedRssMb)} MB ${DRAINED_AFTER_MS / 1000} s after the drain; VmHWM ${f0(r.hwmMb)} MB (whole life)`,
    )
    console.log(`  ${r.label}: ${r.storedNote}`)
  }
  const main = runs[0]
  console.log(
    `\nratio collector/bare (fsync on) = ${f2(main.load.rps / bare.load.rps)} (first target ≥ 0.5); stored == accepted: ${verdict(main)}` +
      (runs[1] ? `; SPOOL_FSYNC=0 ratio = ${f2(runs[1].load.rps / bare.load.rps)}` : ''),
  )
  console.log(
    `targets (fsync on): p99 ${f2(main.load.p99ms)} ms = ${f1(main.load.p99ms / bare.load.p99ms)}× the bare route's (≤ 3×); ` +
      `CPU ${f0(main.cpuUsPerReq)} µs a beacon, all threads (≤ 60); RSS idle ${f0(main.idleRssMb)} MB (≤ 300), peak ${f0(main.peakRssMb)} MB (≤ 450), ${f0(main.drainedRssMb)} MB after the drain`,
  )
  // the main thread's microseconds a beacon, by what spends them: the bare route's share is the
  // HTTP server and Fastify themselves; the pipeline and the spool's records are measured in-process
  const rest = main.threads.mainUs - bare.threads.mainUs - pipeline.pipelineUs - pipeline.spoolUs
  console.log(
    `where the main thread's ${f1(main.threads.mainUs)} µs a beacon go (fsync on): HTTP and Fastify as on the bare route ${f1(bare.threads.mainUs)}, ` +
      `pipeline ${f1(pipeline.pipelineUs)}, spool record (JSON line + Native columns) ${f1(pipeline.spoolUs)}, ` +
      `the rest ${f1(rest)} (body, hooks, rate limit, answer, spool writes, GC, and caches shared with the store's threads under load)`,
  )
  if (freshness) console.log(formatFreshness(freshness).join('\n'))
  // The store's own benches each in a process of its own: chDB binds one data directory per process.
  if (!args.has('--no-upkeep')) {
    const u = spawnSync(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'upkeep.ts')], { cwd: ROOT, stdio: 'inherit', env: process.env })
    if (u.status !== 0) throw new Error('the upkeep bench failed')
  }
  if (!args.has('--no-queries')) {
    const q = spawnSync(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'queries.ts')], { cwd: ROOT, stdio: 'inherit', env: process.env })
    if (q.status !== 0) throw new Error('the query bench failed')
  }
  console.log(`bench took ${((Date.now() - started) / 1000).toFixed(0)} s`)
}

main()
  .then(() => process.exit(0))
  .catch((err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}`)
    process.exit(1)
  })
