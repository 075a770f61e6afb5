/**
 * What the benchmark, the load test and the fuzz run share: child processes, temporary
 * directories and mounts that are cleaned up however the run ends, ports, small waits, a
 * process's resident memory, the machine's CPU, and the store of a stopped collector counted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * The server as `npm start` runs it (package.json's `start`: the bundled CLI under plain Node,
 * with its V8 flags): `nodeFlags` are added to Node's, `command` replaces the script's own
 * arguments (`serve`), `args` follow them; with `tsx`, the TypeScript itself runs (for CPU
 * profiles that name the project's files).
 */
export function serveArgs(opts: { nodeFlags?: string[]; command?: string[]; args?: string[]; tsx?: boolean } = {}): string[] {
  const start = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  const [cmd, ...words] = start.trim().split(/\s+/)
  const script = words.findIndex((w) => !w.startsWith('-'))
  if (cmd !== 'node' || script < 0) throw new Error(`package.json's start script is not \`node [flags] <script> …\`: ${start}`)
  const flags = [...words.slice(0, script), ...(opts.nodeFlags ?? [])]
  const entry = opts.tsx ? ['--import', 'tsx', 'cli/index.ts'] : [words[script]]
  return [...flags, ...entry, ...(opts.command ?? words.slice(script + 1)), ...(opts.args ?? [])]
}

const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()

export function killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  children.clear()
}

/** A child started elsewhere that must not outlive the run. */
export function track(proc: ChildProcess): void {
  children.add(proc)
  proc.on('exit', () => children.delete(proc))
}

export function removeTempDirs(): void {
  // a mount inside a temporary directory goes first: never delete through a read-only or tmpfs mount
  unmountAll()
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true })
    } catch (err) {
      console.error(`could not remove ${d}: ${(err as Error).message}`)
    }
  }
  tempDirs.clear()
}

/** Children killed, mounts undone and temporary directories removed on exit and on SIGINT, SIGTERM and SIGHUP. */
export function cleanUpOnExit(label: string): void {
  process.on('exit', () => {
    killAll()
    removeTempDirs()
  })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\n${label}: ${sig}, stopping children and removing temporary directories`)
      process.exit(130)
    })
  }
}

export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.add(d)
  return d
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Resident memory of a process in MB (0 once it is gone). */
export function rssMb(pid: number): number {
  return procStatusMb(pid, 'VmRSS')
}

/** A memory figure of a process from /proc (VmRSS now, VmHWM its peak), in MB; 0 once it is gone. */
export function procStatusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0
  }
}

/**
 * Busy and total jiffies of the whole machine (all cores), from /proc/stat, and of those the
 * time the virtual machine's host gave to others while this one had work (`steal`).
 */
export function machineCpu(): { busy: number; total: number; steal: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  const idle = f[3] + (f[4] ?? 0) // idle + iowait
  return { busy: total - idle, total, steal: f[7] ?? 0 }
}

/** The share of the machine's cores busy (anything, this bench or not) between two readings, in percent. */
export function busyPct(m0: { busy: number; total: number }, m1: { busy: number; total: number }): number {
  return (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total)
}

/**
 * The share of the machine's time its host took away between two readings, in percent: on a
 * virtual machine whose host is busy, every wall-clock figure measured meanwhile is longer by
 * about this share, which the figures printed beside it should be read with.
 */
export function stolenPct(m0: { steal: number; total: number }, m1: { steal: number; total: number }): number {
  return (100 * (m1.steal - m0.steal)) / Math.max(1, m1.total - m0.total)
}

// ---------------------------------------------------------------- mounts (root only)

/** Mount points made by this run, newest last: undone in reverse order, however the run ends. */
const mounts: string[] = []

function run(cmd: string, argv: string[]): { ok: boolean; err: string } {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' })
  return { ok: r.status === 0, err: (r.error?.message ?? r.stderr ?? '').trim() }
}

/** Why this process cannot mount file systems, or null when it can (a 1 MB tmpfs is tried). */
export function mountUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount'
  const d = tempDir('mount-probe-')
  const r = run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d])
  if (!r.ok) return `needs root to mount (mount -t tmpfs: ${r.err.slice(0, 120)})`
  run('umount', [d])
  return null
}

/** A tmpfs of `bytes` mounted at `dir` (which must exist). */
export function mountTmpfs(dir: string, bytes: number): void {
  const r = run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 1024)}k`, 'tmpfs', dir])
  if (!r.ok) throw new Error(`mount -t tmpfs at ${dir}: ${r.err}`)
  mounts.push(dir)
}

/** `dir` bind-mounted onto itself and remounted read-only: new writes below it fail with EROFS. */
export function bindReadOnly(dir: string): void {
  const r = run('mount', ['--bind', dir, dir])
  if (!r.ok) throw new Error(`mount --bind ${dir}: ${r.err}`)
  mounts.push(dir)
  const ro = run('mount', ['-o', 'remount,ro,bind', dir])
  if (!ro.ok) {
    unmount(dir)
    throw new Error(`mount -o remount,ro,bind ${dir}: ${ro.err}`)
  }
}

/** Undoes the newest mount at `dir` (lazily if it is busy). */
export function unmount(dir: string): void {
  const i = mounts.lastIndexOf(dir)
  if (i < 0) return
  if (!run('umount', [dir]).ok) {
    const lazy = run('umount', ['-l', dir])
    if (!lazy.ok) console.error(`could not unmount ${dir}: ${lazy.err}`)
  }
  mounts.splice(i, 1)
}

export function unmountAll(): void {
  while (mounts.length) unmount(mounts[mounts.length - 1])
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export interface Child {
  proc: ChildProcess
  pid: number
  output: () => string
  exited: Promise<number | null>
}

/**
 * The environment of a collector started by the bench, the load test or the fuzz run: its own
 * data directory and port on 127.0.0.1, a known admin token, X-Forwarded-For believed (the
 * load carries documentation-range addresses), warnings only; `extra` on top.
 */
export function collectorEnv(dataDir: string, port: number, token: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ANALYTICS_DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    ANALYTICS_ADMIN_TOKEN: token,
    TRUST_PROXY: '1',
    LOG_LEVEL: 'warn',
    ...extra,
  }
}

/** Starts a child whose pid is the serving node process itself (no wrapper). */
export function startChild(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  let out = ''
  const keep = (b: Buffer) => {
    out += b.toString()
    if (out.length > 64_000) out = out.slice(-32_000)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      children.delete(proc)
      resolve(code)
    }),
  )
  if (!proc.pid) throw new Error(`could not start ${cmd}`)
  return { proc, pid: proc.pid, output: () => out, exited }
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(c: Child, graceMs = 15_000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return
  c.proc.kill('SIGTERM')
  const done = await Promise.race([c.exited.then(() => true), sleep(graceMs).then(() => false)])
  if (!done) {
    c.proc.kill('SIGKILL')
    await c.exited
  }
}

export async function fetchJson(url: string, init: RequestInit = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>
  return { status: res.status, json }
}

/** Polls `probe` until it answers, failing early if the child exits. */
export async function waitFor<T>(what: string, child: Child, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${what}: the process exited (${child.proc.exitCode ?? child.proc.signalCode}). Its output:\n${child.output()}`)
    }
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch {
      // not yet
    }
    await sleep(100)
  }
  throw new Error(`${what}: timed out after ${timeoutMs} ms. Output so far:\n${child.output()}`)
}

export interface Stored {
  events: number
  visitors: number
  paths: number
  load_events: number
  junk: number
}

/** Runs bench/count-events.ts on a stopped collector's data directory; its JSON line. */
async function runCounter(dataDir: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const script = fileURLToPath(new URL('./count-events.ts', import.meta.url))
  // never the collector's own test settings (a preloaded fake clock, a server URL): the store as it is on disk
  const clean = { ...env }
  for (const k of ['LD_PRELOAD', 'FAKETIME_TIMESTAMP_FILE', 'CLICKHOUSE_URL']) delete clean[k]
  const child = startChild(process.execPath, ['--import', 'tsx', script, ...argv], { ...clean, ANALYTICS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
  const code = await Promise.race([child.exited, sleep(60_000).then(() => 'timeout' as const)])
  if (code === 'timeout') {
    await stopChild(child, 1000)
    throw new Error('counting stored events timed out')
  }
  const line = child.output().split('\n').find((l) => l.startsWith('{'))
  if (code !== 0 || !line) throw new Error(`counting stored events failed (exit ${code}):\n${child.output()}`)
  return JSON.parse(line) as Record<string, unknown>
}

/** What a stopped collector's store holds for example.com, counted by bench/count-events.ts in its own process. */
export async function countStored(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Stored> {
  return (await runCounter(dataDir, ['example.com'], env)) as unknown as Stored
}

export interface PathCount {
  /** Rows stored with this path (more than 1: duplicates). */
  n: number
  /** The earliest stored `ts` of those rows, ms since the epoch. */
  ts: number
}

/** Rows per path of example.com's events whose path starts with `prefix`, in a stopped collector's store. */
export async function countPaths(dataDir: string, prefix: string, env: NodeJS.ProcessEnv = process.env): Promise<Map<string, PathCount>> {
  const out = path.join(tempDir('analytics-paths-'), 'paths.tsv')
  await runCounter(dataDir, ['example.com', '--paths', prefix, out], env)
  const paths = new Map<string, PathCount>()
  for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
    if (!line) continue
    const [p, n, ts] = line.split('\t')
    paths.set(p, { n: Number(n), ts: Number(ts) })
  }
  fs.rmSync(path.dirname(out), { recursive: true, force: true })
  return paths
}
