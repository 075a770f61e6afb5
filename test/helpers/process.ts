import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { afterAll } from 'vitest'
import { ADMIN_TOKEN } from './app.ts'

/** Helpers for tests that run the real server as users do: its own process, a real port. */
const root = path.resolve(import.meta.dirname, '../..')
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) c.kill('SIGKILL')
})

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export function env(dataDir: string, port: number, extra: Record<string, string> = {}) {
  return { ...process.env, ANALYTICS_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ANALYTICS_ADMIN_TOKEN: ADMIN_TOKEN, TRUST_PROXY: '1', LOG_LEVEL: 'info', ...extra }
}

/** The real server as users run it, in its own process. */
export async function startServer(dataDir: string, port: number, extra: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['bin/analytics.js', 'serve'], { cwd: root, env: env(dataDir, port, extra), stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let log = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => (log += d))
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${log}`)
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { child, base, log: () => log }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`server did not start: ${log}`)
}

export function runCli(args: string[], dataDir: string, port: number) {
  return new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, ['bin/analytics.js', ...args], { cwd: root, env: env(dataDir, port), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (out += d))
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(out))))
  })
}

