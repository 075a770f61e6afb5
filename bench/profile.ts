/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by
 * where the code lives (a package, a project file, GC, idle), and inclusive time of the
 * project's own functions. Used by `npm run bench -- --profile`.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  totalMs: number
  bySelf: { name: string; ms: number }[]
  byPlace: { name: string; ms: number }[]
  inclusive: { name: string; ms: number }[]
}

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')

/** Where a frame's code lives: a package name, a project file, or a V8 pseudo-frame. */
function place(url: string, functionName: string): string {
  if (!url) {
    if (functionName.startsWith('(')) return functionName // (garbage collector), (idle), (program)
    return '(native)'
  }
  const file = url.replace(/^file:\/\//, '')
  const nm = file.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (file.startsWith('node:')) return 'node:' + file.slice(5).split('/')[0]
  if (file.startsWith(ROOT)) return path.relative(ROOT, file)
  return file
}

function label(f: CallFrame): string {
  const where = place(f.url, f.functionName)
  const name = f.functionName || '(anonymous)'
  if (name.startsWith('(') && !f.url) return name
  // tsx-compiled project files report line 0: the name and file are what is known
  return f.lineNumber > 0 ? `${name} ${where}:${f.lineNumber + 1}` : `${name} ${where}`
}

/**
 * `window` limits the summary to samples taken in [from, to], in µs of CLOCK_MONOTONIC (what
 * `process.hrtime.bigint() / 1000n` reads in any process on the machine, and what V8 stamps
 * the profile with on Linux).
 */
export function summariseProfile(file: string, top = 15, window?: [number, number]): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of prof.nodes) byId.set(n.id, n)
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

  const self = new Map<string, number>()
  const places = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  let at = prof.startTime
  for (let i = 0; i < prof.samples.length; i++) {
    at += prof.timeDeltas[i] ?? 0
    if (window && (at < window[0] || at > window[1])) continue
    // timeDeltas[i] is the gap before sample i; the time after it belongs to it
    const us = prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0
    const node = byId.get(prof.samples[i])
    if (!node) continue
    total += us
    const f = node.callFrame
    self.set(label(f), (self.get(label(f)) ?? 0) + us)
    const p = place(f.url, f.functionName)
    places.set(p, (places.get(p) ?? 0) + us)
    // inclusive time of the project's own functions (each counted once per sample)
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame
      const file = cf.url.replace(/^file:\/\//, '')
      if (!file.startsWith(ROOT) || file.includes('/node_modules/')) continue
      const l = label(cf)
      if (seen.has(l)) continue
      seen.add(l)
      inclusive.set(l, (inclusive.get(l) ?? 0) + us)
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000 }))
  return { totalMs: total / 1000, bySelf: sorted(self), byPlace: sorted(places), inclusive: sorted(inclusive) }
}

export function formatProfile(title: string, s: ProfileSummary): string {
  const pct = (ms: number) => ((100 * ms) / s.totalMs).toFixed(1).padStart(5) + ' %'
  const lines = [`${title}: ${(s.totalMs / 1000).toFixed(1)} s of samples`]
  const table = (head: string, rows: { name: string; ms: number }[]) => {
    lines.push(`  ${head}`)
    for (const r of rows) lines.push(`    ${r.ms.toFixed(0).padStart(7)} ms ${pct(r.ms)}  ${r.name}`)
  }
  table('self time by place', s.byPlace)
  table('self time by function', s.bySelf)
  table('inclusive time, project functions', s.inclusive)
  return lines.join('\n')
}
