/**
 * What the benchmark, the load test and the fuzz run share: child processes and temporary
 * directories that are cleaned up however the run ends, ports, and small waits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

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
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true })
  tempDirs.clear()
}

/** Children killed and temporary directories removed on exit and on SIGINT, SIGTERM and SIGHUP. */
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

/** What a stopped collector's store holds for example.com, counted by bench/count-events.ts in its own process. */
export async function countStored(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Stored> {
  const script = fileURLToPath(new URL('./count-events.ts', import.meta.url))
  const child = startChild(process.execPath, ['--import', 'tsx', script, 'example.com'], { ...env, ANALYTICS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
  const code = await Promise.race([child.exited, sleep(60_000).then(() => 'timeout' as const)])
  if (code === 'timeout') {
    await stopChild(child, 1000)
    throw new Error('counting stored events timed out')
  }
  const line = child.output().split('\n').find((l) => l.startsWith('{'))
  if (code !== 0 || !line) throw new Error(`counting stored events failed (exit ${code}):\n${child.output()}`)
  return JSON.parse(line) as Stored
}
