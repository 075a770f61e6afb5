/**
 * `npm run bench -- --collectors N` (default 2): beacons into N collector processes over
 * `analytics store serve` (the embedded engine in a process of its own), against one
 * `analytics serve` process with the engine inside, under the same wrk load on the same machine
 * in the same run. Prints each setup's req/s, latency, CPU per beacon by process, stored versus
 * accepted, and the ratio of the two rates.
 *
 * The load is BENCH_CONNECTIONS (default 50) connections for BENCH_DURATION s (default 10),
 * split evenly over the collectors (one wrk per collector, as a proxy in front would spread it).
 */
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Sites } from '../accounts/sites.ts'
import { openStore } from '../store/client.ts'
import { migrate } from '../store/migrate.ts'
import { collectorEnv, countStored, fetchJson, freePort, startChild, stopChild, tempDir, track, waitFor, type Child, serveArgs } from './lib.ts'

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const LOAD_S = Number(process.env.BENCH_DURATION || 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50)
const WARMUP = 2000
const STORE_PASSWORD = crypto.randomBytes(16).toString('hex')

interface Load {
  rps: number
  p50ms: number
  p99ms: number
  answered: number
  accepted: number
}

/** One wrk on `url` with bench/wrk-script.lua (its exact accounting: nothing in flight at the end). */
async function wrk(url: string, connections: number): Promise<Load> {
  const argv = ['-t1', `-c${connections}`, `-d${LOAD_S + 1}s`, '--latency', '-s', path.join(BENCH_DIR, 'wrk-script.lua'), url + '/api/event']
  const proc = spawn('wrk', argv, { env: { ...process.env, BENCH_LOAD_S: String(LOAD_S) }, stdio: ['ignore', 'pipe', 'pipe'] })
  track(proc)
  let out = ''
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()))
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()))
  const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve))
  const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${out}`)
  const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as { window_s: number; status: Record<string, number>; latency_us: { p50: number; p99: number } }
  const answered = Object.values(r.status).reduce((a, b) => a + b, 0)
  return { rps: answered / r.window_s, p50ms: r.latency_us.p50 / 1000, p99ms: r.latency_us.p99 / 1000, answered, accepted: r.status['202'] ?? 0 }
}

/** Beacons before the measured load, so that every process is measured JIT-warm; answers how many were accepted. */
async function warmUp(url: string, n: number): Promise<number> {
  let next = 0
  let accepted = 0
  const worker = async () => {
    while (next++ < n) {
      const res = await fetch(url + '/api/event', {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0', 'x-forwarded-for': `198.51.100.${1 + (next % 254)}` },
        body: JSON.stringify({ n: 'pageview', u: 'https://example.com/warm-up', d: 'example.com' }),
      })
      await res.arrayBuffer()
      if (res.status === 202) accepted++
    }
  }
  await Promise.all(Array.from({ length: 20 }, worker))
  return accepted
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

async function healthy(label: string, child: Child, url: string): Promise<void> {
  await waitFor(`${label}: GET /healthz`, child, 180_000, async () => ((await fetchJson(url + '/healthz')).status === 200 ? true : undefined))
}

/** Until every collector's spool is empty, twice in a row. */
async function drained(label: string, child: Child, url: string): Promise<void> {
  let empty = 0
  await waitFor(`${label}: spool drain`, child, 120_000, async () => {
    const h = await fetchJson(url + '/healthz')
    empty = h.status === 200 && h.json.spoolBytes === 0 ? empty + 1 : 0
    return empty >= 2 ? true : undefined
  })
}

interface Setup {
  label: string
  load: Load
  accepted: number
  stored: number
  /** CPU µs per answered beacon, by process. */
  cpu: [string, number][]
}

/** One process, the engine inside: what `npm start` runs. */
async function oneProcess(): Promise<Setup> {
  const dataDir = tempDir('analytics-bench-one-')
  const port = await freePort()
  const token = crypto.randomBytes(24).toString('hex')
  const url = `http://127.0.0.1:${port}`
  const child = startChild(process.execPath, serveArgs(), collectorEnv(dataDir, port, token))
  await healthy('serve', child, url)
  const added = await fetchJson(url + '/api/v1/sites', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ domain: 'example.com' }) })
  if (added.status !== 201) throw new Error(`registering example.com answered ${added.status}`)
  const warm = await warmUp(url, WARMUP)
  const cpu0 = cpuMs(child.pid)
  const load = await wrk(url, CONNECTIONS)
  const cpu = (cpuMs(child.pid) - cpu0) * 1000 / load.answered
  await drained('serve', child, url)
  await stopChild(child)
  const stored = (await countStored(dataDir)).events
  return { label: 'one process (serve)', load, accepted: warm + load.accepted, stored, cpu: [['serve', cpu]] }
}

/** `store serve` and `n` collectors, each its own process. */
async function overStoreServe(n: number): Promise<Setup> {
  const storeDir = tempDir('analytics-bench-store-')
  const storePort = await freePort()
  const storeUrl = `http://127.0.0.1:${storePort}`
  const store = startChild(process.execPath, serveArgs({ command: ['store', 'serve', '--port', String(storePort)] }), collectorEnv(storeDir, 0, 'unused', { CLICKHOUSE_PASSWORD: STORE_PASSWORD }))
  const children: Child[] = [store]
  try {
    await waitFor('store serve: GET /ping', store, 180_000, async () => ((await fetch(storeUrl + '/ping')).ok ? true : undefined))
    const admin = await openStore({ dataDir: storeDir, clickhouseUrl: storeUrl, clickhousePassword: STORE_PASSWORD, clickhouseDatabase: 'analytics' })
    await migrate(admin.client)
    await new Sites(admin.client).add('example.com')
    const collectors = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const port = await freePort()
        const env = collectorEnv(tempDir('analytics-bench-collector-'), port, 'unused', { CLICKHOUSE_URL: storeUrl, CLICKHOUSE_PASSWORD: STORE_PASSWORD })
        const child = startChild(process.execPath, serveArgs({ args: ['--role', 'collector'] }), env)
        children.push(child)
        const url = `http://127.0.0.1:${port}`
        await healthy(`collector ${i + 1}`, child, url)
        return { child, url }
      }),
    )
    const warm = (await Promise.all(collectors.map((c) => warmUp(c.url, Math.ceil(WARMUP / n))))).reduce((a, b) => a + b, 0)
    const cpu0 = children.map((c) => cpuMs(c.pid))
    const loads = await Promise.all(collectors.map((c, i) => wrk(c.url, Math.floor(CONNECTIONS / n) + (i < CONNECTIONS % n ? 1 : 0))))
    const cpu1 = children.map((c) => cpuMs(c.pid))
    const answered = loads.reduce((a, l) => a + l.answered, 0)
    const load: Load = {
      rps: loads.reduce((a, l) => a + l.rps, 0),
      p50ms: Math.max(...loads.map((l) => l.p50ms)),
      p99ms: Math.max(...loads.map((l) => l.p99ms)),
      answered,
      accepted: loads.reduce((a, l) => a + l.accepted, 0),
    }
    await Promise.all(collectors.map((c, i) => drained(`collector ${i + 1}`, c.child, c.url)))
    const rs = await admin.client.query({ query: "SELECT count() AS n FROM events WHERE site = 'example.com'", format: 'JSONEachRow' })
    const [{ n: stored }] = await rs.json<{ n: number }>()
    await admin.close()
    const names = ['store serve', ...collectors.map((_, i) => `collector ${i + 1}`)]
    return {
      label: `store serve + ${n} collectors`,
      load,
      accepted: warm + load.accepted,
      stored: Number(stored),
      cpu: names.map((name, i) => [name, ((cpu1[i] - cpu0[i]) * 1000) / answered]),
    }
  } finally {
    for (const c of children.slice(1)) await stopChild(c)
    await stopChild(store)
  }
}

const f = (n: number, d = 0) => n.toFixed(d)

export async function benchCollectors(argv: string[]): Promise<void> {
  const n = Number(argv[argv.indexOf('--collectors') + 1]) || 2
  const [load1] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number)
  console.log(`bench --collectors ${n}: wrk -c${CONNECTIONS} for ${LOAD_S} s (split over the collectors), all on 127.0.0.1, ${(await import('node:os')).availableParallelism()} cores`)
  if (load1 > 1) console.log(`NOTE: load average ${load1} before the bench: other work shares the cores, figures will be low and noisy.`)
  console.log('· one process (serve) ...')
  const one = await oneProcess()
  console.log(`· store serve + ${n} collectors ...`)
  const many = await overStoreServe(n)
  console.log(`\n=== npm run bench -- --collectors ${n} ===`)
  for (const s of [one, many]) {
    console.log(
      `${s.label.padEnd(28)} ${f(s.load.rps).padStart(7)} req/s  p50 ${f(s.load.p50ms, 2)} ms  p99 ${f(s.load.p99ms, 2)} ms  ` +
        `accepted ${s.accepted}  stored ${s.stored} (${s.stored === s.accepted ? 'all' : `MISSING ${s.accepted - s.stored}`})`,
    )
    console.log(`${''.padEnd(28)} CPU µs per beacon: ${s.cpu.map(([name, us]) => `${name} ${f(us)}`).join(', ')}`)
  }
  console.log(`\nratio (store serve + ${n} collectors) / (one process) = ${f(many.load.rps / one.load.rps, 2)}`)
}
