/**
 * The freshness half of `npm run bench`: how long after its 202 a beacon is counted by the
 * stats API, while the collector carries a steady load well below its maximum.
 *
 * Only HTTP, so it measures whatever statistics engine sits behind the API: a collector on a
 * fresh data directory with the default settings (ROLLUP_INTERVAL_MS unset whatever the
 * caller's environment says) and the strict default policy plus one section for a probe site,
 * probe.example.com, whose dashboard k is 1 so a single probe is not withheld. example.com
 * takes a paced load (wrk with bench/wrk-script.lua with BENCH_WRK_RATE, or autocannon's overallRate when wrk
 * is missing); after a few seconds of it, one probe pageview a second goes to the probe site,
 * each from a new visitor (its own /48 of the IPv6 documentation range), while
 * `GET /api/v1/stats/aggregate?site=probe.example.com&period=day&metrics=pageviews` is polled
 * every 100 ms. The n-th accepted probe counts as counted at the answer of the first poll,
 * sent after its 202, that shows at least n pageviews: a count, not an identity, because the
 * aggregate is what a dashboard reads; a probe never counted therefore holds back the ones
 * after it (they time out too, and the summary says so).
 *
 * Alone, for working on the engine without the whole bench: `node --import tsx bench/freshness.ts`
 * (BENCH_FRESHNESS_RPS, default 1000, since there is no measured maximum to take a share of;
 * BENCH_FRESHNESS_PROBES, BENCH_FRESHNESS_DEADLINE, BENCH_CONNECTIONS as in bench/index.ts).
 */
import { spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import YAML from 'yaml'
import { busyPct, cleanUpOnExit, collectorEnv, fetchJson, freePort, machineCpu, ROOT, sleep, startChild, stopChild, tempDir, track, waitFor, serveArgs } from './lib.ts'
import { visitorHeaders } from './load-client.ts'
import { utcDay } from '../store/time.ts'

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const PROBE_SITE = 'probe.example.com'
const LOAD_SITE = 'example.com'
/** Load before the first probe: the collector is measured busy, not idle. */
const SETTLE_MS = 3000
const PROBE_EVERY_MS = 1000
const POLL_EVERY_MS = 100

export interface FreshnessOptions {
  /** Background load on example.com, requests/s over all connections. */
  rps: number
  probes: number
  /** A probe not counted this long after its 202 is a timeout. */
  deadlineMs: number
  connections: number
  tool: 'wrk' | 'autocannon'
}

export interface FreshnessResult {
  /** Seconds from 202 to counted, of the probes that were counted. */
  latenciesS: number[]
  /** Over every accepted probe, a timeout counting as Infinity (so a median can be "> deadline"). */
  medianS: number
  worstS: number
  deadlineS: number
  /** Probes answered 202. */
  accepted: number
  timeouts: number
  /** Probes answered anything else. */
  refused: string[]
  /** Polls answered other than 200. */
  pollErrors: number
  polls: number
  targetRps: number
  /** The background load as answered, req/s. */
  loadRps: number
  loadTool: string
  loadStatuses: Record<string, number>
  loadP50ms: number
  loadP99ms: number
  /** Share of the machine's cores busy during the probes, %. */
  machineBusyPct: number
}

/** The strict default policy (the server's default) with a section of its own for the probe site. */
function writePolicy(dir: string): string {
  const strict = YAML.parse(fs.readFileSync(path.join(ROOT, 'policies/strict.yaml'), 'utf8')) as Record<string, unknown>
  const policy = {
    ...strict,
    name: `${strict.name ?? 'Strict default'} + bench probe site`,
    sites: {
      ...((strict.sites as object | undefined) ?? {}),
      // k = 1 on the dashboard, for visitors and for networks: one probe from one new visitor must
      // show, not be withheld (with the default 5 networks the first four probes waited for the fifth)
      [PROBE_SITE]: { min_visitors: { dashboard: 1 }, min_networks: { dashboard: 1 } },
    },
  }
  const file = path.join(dir, 'policy.yaml')
  fs.writeFileSync(file, YAML.stringify(policy))
  return file
}

/** The background load: started now, stopped (and its tally returned) by `stop()`. */
interface Load {
  stop: () => Promise<{ rps: number; statuses: Record<string, number>; tool: string; p50ms: number; p99ms: number }>
}

function wrkLoad(url: string, opts: FreshnessOptions): Load {
  // -d only as a backstop: the load is stopped with SIGINT once the probes are done (wrk then reports)
  const maxS = Math.ceil((SETTLE_MS + opts.probes * PROBE_EVERY_MS + opts.deadlineMs) / 1000) + 120
  const argv = ['-t1', `-c${opts.connections}`, `-d${maxS}s`, '-s', path.join(BENCH_DIR, 'wrk-script.lua'), url + '/api/event']
  const proc = spawn('wrk', argv, { env: { ...process.env, BENCH_WRK_RATE: String(opts.rps), BENCH_LOAD_S: String(maxS + 60) }, stdio: ['ignore', 'pipe', 'pipe'] })
  track(proc)
  let out = ''
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()))
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve))
  return {
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT')
      const code = await exited
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
      if (code !== 0 || !line) throw new Error(`wrk (freshness load) failed (exit ${code}):\n${out}`)
      const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as { status: Record<string, number>; window_s: number; latency_us: { p50: number; p99: number } }
      const answered = Object.values(r.status).reduce((a, b) => a + b, 0)
      return { rps: answered / Math.max(1e-9, r.window_s), statuses: r.status, tool: 'wrk', p50ms: r.latency_us.p50 / 1000, p99ms: r.latency_us.p99 / 1000 }
    },
  }
}

async function autocannonLoad(url: string, opts: FreshnessOptions): Promise<Load> {
  const name = 'autocannon' // not typed; loaded only for the fallback
  const autocannon = ((await import(name)) as { default: (opts: object) => PromiseLike<Record<string, any>> & { on: Function; stop: () => void } }).default
  const statuses: Record<string, number> = {}
  const started = Date.now()
  const instance = autocannon({
    url: url + '/api/event',
    connections: opts.connections,
    overallRate: opts.rps,
    duration: 24 * 3600, // stopped once the probes are done
    method: 'POST',
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => ({
          ...req,
          headers: visitorHeaders(),
          body: JSON.stringify({ n: 'pageview', u: `https://${LOAD_SITE}/?utm_source=x`, d: LOAD_SITE, r: 'https://www.google.com/', w: 1280 }),
        }),
      },
    ],
  })
  instance.on('response', (_client: unknown, status: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1
  })
  return {
    stop: async () => {
      instance.stop()
      const r = await instance
      const answered = Object.values(statuses).reduce((a, b) => a + b, 0)
      return { rps: answered / ((Date.now() - started) / 1000), statuses, tool: 'autocannon (overallRate)', p50ms: r.latency?.p50 ?? NaN, p99ms: r.latency?.p99 ?? NaN }
    },
  }
}

interface Probe {
  /** performance.now() at the 202. */
  ackAt: number
  /** How many pageviews the probe site has once this probe is counted. */
  needed: number
  countedAt?: number
  timedOut?: boolean
}

const median = (xs: number[]) => {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export async function benchFreshness(opts: FreshnessOptions): Promise<FreshnessResult> {
  const dataDir = tempDir('analytics-bench-fresh-')
  const port = await freePort()
  const token = crypto.randomBytes(24).toString('hex')
  const url = `http://127.0.0.1:${port}`
  const env = collectorEnv(dataDir, port, token, { POLICY_FILE: writePolicy(tempDir('analytics-bench-policy-')) })
  // the default rebuild schedule is what is measured, whatever this shell exports
  delete env.ROLLUP_INTERVAL_MS
  const child = startChild(process.execPath, serveArgs(), env)
  let load: Load | undefined
  try {
    await waitFor('freshness: GET /healthz', child, 90_000, async () => ((await fetchJson(url + '/healthz')).status === 200 ? true : undefined))
    const auth = { authorization: `Bearer ${token}` }
    for (const domain of [LOAD_SITE, PROBE_SITE]) {
      const added = await fetchJson(url + '/api/v1/sites', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ domain, timezone: 'UTC' }),
      })
      if (added.status !== 201) throw new Error(`freshness: registering ${domain} answered ${added.status} ${JSON.stringify(added.json)}`)
    }

    load = opts.tool === 'wrk' ? wrkLoad(url, opts) : await autocannonLoad(url, opts)
    await sleep(SETTLE_MS)
    const m0 = machineCpu()

    const probes: Probe[] = []
    const refused: string[] = []
    let accepted = 0
    let sendingDone = false
    const sender = async () => {
      const t0 = performance.now()
      for (let i = 0; i < opts.probes; i++) {
        await sleep(Math.max(0, t0 + i * PROBE_EVERY_MS - performance.now()))
        const res = await fetch(url + '/api/event', {
          method: 'POST',
          // a new visitor on a network of its own each time (k counts distinct visitors)
          headers: { ...visitorHeaders(), 'x-forwarded-for': `2001:db8:${(i + 1).toString(16)}::1` },
          body: JSON.stringify({ n: 'pageview', u: `https://${PROBE_SITE}/probe`, d: PROBE_SITE, r: '', w: 1280 }),
          signal: AbortSignal.timeout(10_000),
        }).catch((err: Error) => err)
        const ackAt = performance.now()
        if (res instanceof Error) {
          refused.push(`probe ${i + 1}: ${res.message}`)
          continue
        }
        await res.arrayBuffer()
        if (res.status !== 202) {
          refused.push(`probe ${i + 1}: ${res.status}`)
          continue
        }
        probes.push({ ackAt, needed: ++accepted })
      }
      sendingDone = true
    }

    // Day boundaries: should the run cross midnight UTC, ask for both days.
    const firstDay = utcDay()
    const question = () => {
      const today = utcDay()
      const period = today === firstDay ? 'period=day' : `period=custom&from=${firstDay}&to=${today}`
      return `${url}/api/v1/stats/aggregate?site=${PROBE_SITE}&${period}&metrics=pageviews`
    }
    let polls = 0
    let pollErrors = 0
    const poller = async () => {
      while (!sendingDone || probes.some((p) => p.countedAt === undefined && !p.timedOut)) {
        const askedAt = performance.now()
        const r = await fetchJson(question(), { headers: auth }).catch(() => ({ status: 0, json: {} as Record<string, unknown> }))
        const answeredAt = performance.now()
        polls++
        if (r.status !== 200) pollErrors++
        else {
          // null: fewer than k = 1 visitors, i.e. none yet
          const value = ((r.json.results as Record<string, { value: number | null } | undefined> | undefined)?.pageviews?.value ?? 0) as number
          // only a question asked after the 202 can say the event is counted
          for (const p of probes) if (p.countedAt === undefined && !p.timedOut && p.ackAt <= askedAt && value >= p.needed) p.countedAt = answeredAt
        }
        for (const p of probes) if (p.countedAt === undefined && answeredAt - p.ackAt > opts.deadlineMs) p.timedOut = true
        if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw new Error(`freshness: the collector exited. Its output:\n${child.output()}`)
        await sleep(Math.max(0, askedAt + POLL_EVERY_MS - performance.now()))
      }
    }
    await Promise.all([sender(), poller()])
    const m1 = machineCpu()
    const l = await load.stop()
    load = undefined

    const latenciesS = probes.filter((p) => p.countedAt !== undefined).map((p) => (p.countedAt! - p.ackAt) / 1000)
    const timeouts = probes.filter((p) => p.timedOut).length
    const all = [...latenciesS, ...Array<number>(timeouts).fill(Infinity)]
    return {
      latenciesS,
      medianS: median(all),
      worstS: all.length ? Math.max(...all) : NaN,
      deadlineS: opts.deadlineMs / 1000,
      accepted,
      timeouts,
      refused,
      pollErrors,
      polls,
      targetRps: opts.rps,
      loadRps: l.rps,
      loadTool: l.tool,
      loadStatuses: l.statuses,
      loadP50ms: l.p50ms,
      loadP99ms: l.p99ms,
      machineBusyPct: busyPct(m0, m1),
    }
  } finally {
    if (load) await load.stop().catch(() => undefined)
    await stopChild(child)
  }
}

/** wrk when installed (and not overridden), as the rest of the bench decides. */
export function freshnessTool(): 'wrk' | 'autocannon' {
  if (process.env.BENCH_FORCE_AUTOCANNON === '1') return 'autocannon'
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined ? 'wrk' : 'autocannon'
}

/** The summary line and its notes, in the style of the bench's report. */
export function formatFreshness(r: FreshnessResult): string[] {
  const s = (n: number) => (n === Infinity ? `> ${r.deadlineS} s (timeout)` : Number.isFinite(n) ? `${n.toFixed(1)} s` : '-')
  const lines = [
    `freshness: median ${s(r.medianS)}, worst ${s(r.worstS)} (${r.accepted} probes${r.timeouts ? `, ${r.timeouts} TIMED OUT` : ''}, under ${r.loadRps.toFixed(0)} req/s)`,
  ]
  const other = Object.entries(r.loadStatuses).filter(([st]) => st !== '202')
  const notes = [
    `202 → counted by GET /api/v1/stats/aggregate (polled every ${POLL_EVERY_MS} ms), default settings (ROLLUP_INTERVAL_MS unset); one probe a second on ${PROBE_SITE}, each a new visitor`,
    `background load: ${r.loadTool} paced at ${r.targetRps.toFixed(0)} req/s on ${LOAD_SITE}, answered ${r.loadRps.toFixed(0)} req/s (p50 ${r.loadP50ms.toFixed(1)} ms, p99 ${r.loadP99ms.toFixed(1)} ms)${other.length ? ` (other statuses: ${other.map(([st, n]) => `${st}×${n}`).join(', ')})` : ''}; cores busy ${r.machineBusyPct.toFixed(0)} %`,
    r.latenciesS.length ? `per probe, in the order sent (s): ${r.latenciesS.map((x) => x.toFixed(1)).join(' ')}` : '',
    r.timeouts ? `${r.timeouts} of ${r.accepted} accepted probes were not counted within ${r.deadlineS} s of their 202 (a probe never counted also holds back the ones after it)` : '',
    r.refused.length ? `probes not accepted: ${r.refused.join('; ')}` : '',
    r.pollErrors ? `${r.pollErrors} of ${r.polls} polls did not answer 200` : '',
  ].filter(Boolean)
  return [...lines, ...notes.map((n) => `  ${n}`)]
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cleanUpOnExit('freshness')
  const opts: FreshnessOptions = {
    rps: Number(process.env.BENCH_FRESHNESS_RPS || 1000),
    probes: Number(process.env.BENCH_FRESHNESS_PROBES || 20),
    deadlineMs: Number(process.env.BENCH_FRESHNESS_DEADLINE || 90) * 1000,
    connections: Number(process.env.BENCH_CONNECTIONS || 50),
    tool: freshnessTool(),
  }
  console.log(`freshness: ${opts.probes} probes under ${opts.rps} req/s (${opts.tool}), up to ${opts.deadlineMs / 1000} s each ...`)
  benchFreshness(opts)
    .then((r) => {
      console.log(formatFreshness(r).join('\n'))
      process.exit(0)
    })
    .catch((err: Error) => {
      console.error(`freshness failed: ${err.stack ?? err.message}`)
      process.exit(1)
    })
}
