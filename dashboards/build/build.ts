/** Building the dashboards with Vite, from `npm install` (prepare) and from the server when the build is missing. */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

export const DASHBOARDS_DIR = path.dirname(import.meta.dirname)
export const DIST = path.join(DASHBOARDS_DIR, 'dist')

export const isBuilt = (dist = DIST) => fs.existsSync(path.join(dist, 'index.html'))

function newestMtime(p: string): number {
  const st = fs.statSync(p)
  if (!st.isDirectory()) return st.mtimeMs
  return Math.max(st.mtimeMs, ...fs.readdirSync(p).map((f) => newestMtime(path.join(p, f))))
}

/** The build is older than a source of it (src/, index.html, public/, vite.config.ts, build/). */
export function isStale(dist = DIST): boolean {
  if (!isBuilt(dist)) return true
  const built = fs.statSync(path.join(dist, 'index.html')).mtimeMs
  const sources = ['src', 'public', 'index.html', 'vite.config.ts', 'build'].map((f) => path.join(DASHBOARDS_DIR, f)).filter((f) => fs.existsSync(f))
  return Math.max(...sources.map(newestMtime)) > built
}

/** Vite's command-line entry, or null when dev dependencies were not installed. */
export function viteBin(): string | null {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js')
  } catch {
    return null
  }
}

const builds = new Map<string, Promise<number>>()

/**
 * Builds the app into `dist` with Vite in a child process (a server keeps none of Vite in
 * memory). The build goes to a temporary folder swapped into place at the end, so a process
 * building at the same time, or a server reading `dist`, never sees a half-written one.
 * Resolves with the build's time in ms.
 */
export function buildDashboards(dist = DIST, { replace = false } = {}): Promise<number> {
  const running = builds.get(dist)
  if (running) return running
  const build = new Promise<number>((resolve, reject) => {
    const vite = viteBin()
    if (!vite) return reject(new Error('Vite is not installed: run `npm install` with dev dependencies, or `npm run build:dashboards` where they are'))
    const tmp = `${dist}.${process.pid}.tmp`
    const started = Date.now()
    const child = spawn(process.execPath, [vite, 'build', DASHBOARDS_DIR, '--outDir', tmp, '--emptyOutDir', '--logLevel', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) {
        fs.rmSync(tmp, { recursive: true, force: true })
        return reject(new Error(`building the dashboards failed (vite exit ${code}): ${stderr.trim()}`))
      }
      const old = `${dist}.${process.pid}.old`
      if (replace && fs.existsSync(dist)) fs.renameSync(dist, old)
      try {
        fs.renameSync(tmp, dist)
      } catch {
        fs.rmSync(tmp, { recursive: true, force: true }) // another process got there first
      }
      fs.rmSync(old, { recursive: true, force: true })
      resolve(Date.now() - started)
    })
  })
  builds.set(dist, build)
  void build.finally(() => builds.delete(dist)).catch(() => {})
  return build
}
