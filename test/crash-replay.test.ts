import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, DOC_IPS, UA, tempDataDir } from './helpers.ts'

const root = path.resolve(import.meta.dirname, '..')
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) c.kill('SIGKILL')
})

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function env(dataDir: string, port: number, extra: Record<string, string> = {}) {
  return { ...process.env, ANALYTICS_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ANALYTICS_ADMIN_TOKEN: ADMIN_TOKEN, TRUST_PROXY: 'true', LOG_LEVEL: 'info', ...extra }
}

/** The real server as users run it, in its own process. */
async function startServer(dataDir: string, port: number, extra: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'serve'], { cwd: root, env: env(dataDir, port, extra), stdio: ['ignore', 'pipe', 'pipe'] })
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

function runCli(args: string[], dataDir: string, port: number) {
  return new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'cli/index.ts', ...args], { cwd: root, env: env(dataDir, port), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (out += d))
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(out))))
  })
}

async function storedEvents(base: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/stats/aggregate?site=example.com&period=day&metrics=events,visitors`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const body = (await res.json()) as { results: { events: { value: number | null } } }
  return body.results.events.value ?? -1
}

describe('kill -9 after 202', () => {
  it('loses nothing: the spool is replayed once on restart, without duplicates', async () => {
    const dataDir = tempDataDir()
    const port = await freePort()
    await runCli(['site', 'add', 'example.com'], dataDir, port)
    // batches are held for a minute, so nothing reaches the store before the kill
    const first = await startServer(dataDir, port, { BATCH_MS: '60000', BATCH_ROWS: '100000' })
    const uas = Object.values(UA).slice(0, 5)
    const sent = 60
    for (let i = 0; i < sent; i++) {
      const res = await fetch(`${first.base}/api/event`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': uas[i % uas.length], 'x-forwarded-for': DOC_IPS[i % DOC_IPS.length] },
        body: JSON.stringify({ n: 'pageview', u: `https://example.com/crash/${i}`, d: 'example.com' }),
      })
      expect(res.status).toBe(202)
    }
    first.child.kill('SIGKILL')
    await new Promise((r) => first.child.once('exit', r))
    const spoolDir = path.join(dataDir, 'spool')
    expect(fs.readdirSync(spoolDir).length).toBeGreaterThan(0)

    const second = await startServer(dataDir, port)
    for (let i = 0; i < 100 && fs.readdirSync(spoolDir).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    expect(fs.readdirSync(spoolDir)).toEqual([])
    expect(await storedEvents(second.base)).toBe(sent)
    // the server log says nothing about the visitors
    expect(second.log() + first.log()).not.toMatch(/192\.0\.2|198\.51\.100|203\.0\.113|2001:db8|Mozilla|\/crash\//)
    second.child.kill('SIGTERM')
    await new Promise((r) => second.child.once('exit', r))
  })
})
