/**
 * Where a server's main thread spends its CPU, from Linux `perf` (`npm run bench -- --perf`).
 *
 * V8's own profiler (`--profile`) samples wall-clock time: a thread preempted inside a native
 * call (handing a write to libuv's pool wakes a thread that may take the CPU) counts as time in
 * that call. `perf record` on the software clock samples a thread only while it runs on a CPU,
 * kernel included (a socket write's TCP work, an fdatasync's), so its shares add up to the CPU
 * time the bench measures for the thread. Node's `--perf-basic-prof` names the JavaScript frames.
 *
 * Each sample goes to the nearest frame, from the leaf up, that a category claims (categoryOf):
 * the work a function asks of Fastify or Node (a hook calling `done()`, which reads the body) counts
 * as theirs, not the hook's. Collection counts as such wherever it is triggered.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'

/** A sample's frames, leaf first: the symbol and where its code lives. */
interface Frame {
  sym: string
  dso: string
}

/**
 * The project's functions by what they do (names as the bundle keeps them). V8 inlines the
 * pipeline's steps into `runPipeline` and that into `ingestThen` (run from `runTurn`, a turn's
 * beacons at a time), so they are one category.
 */
const ROUTE = 'the route: pipeline, outcome, answer'
const SPOOL = 'spool: record, write, columns (Spool)'
const PROJECT: Record<string, string> = {
  ingest: ROUTE,
  ingestThen: ROUTE,
  runTurn: ROUTE,
  runPipeline: ROUTE,
  answer: ROUTE,
  append: SPOOL,
  appendThen: SPOOL,
  writeGroup: SPOOL,
  flush: SPOOL,
  writeOnce: SPOOL,
  beaconLimit: 'hooks: per-client limit, CORS',
  openToEveryOrigin: 'hooks: per-client limit, CORS',
  parseJsonBody: 'the body (JSON.parse)',
}

const GC = /^v8::internal::(Heap::|Scavenger|ScavengerCollector|MarkCompact|MinorGC|MinorMarkSweep|ConcurrentMarking|IncrementalMarking|MemoryAllocator|PagedSpace|ArrayBufferSweeper)/

/** The category of a frame, or null to look further up the stack. */
function categoryOf(f: Frame, projectFile: (url: string) => boolean): string | null {
  if (GC.test(f.sym)) return 'garbage collection'
  const js = /^JS:[*~^+]?(\S*) (\S+)/.exec(f.sym)
  if (js) {
    const [, name, where] = js
    if (projectFile(where)) return PROJECT[name] ?? null
    if (where.includes('/node_modules/fastify/') || where.includes('/node_modules/@fastify/') || where.includes('/node_modules/find-my-way/')) return 'Fastify (routing, hooks, reply)'
    if (/node:_http_|node:internal\/streams|node:net/.test(where)) return 'Node HTTP and streams'
    return null
  }
  if (/llhttp|node::\(anonymous namespace\)::Parser/.test(f.sym)) return 'Node HTTP and streams'
  return null
}

/** Starts `perf record` on one thread (the main thread's id is the process id); stop() ends it and waits for the file. */
export function recordThread(tid: number, file: string): { stop(): Promise<void> } {
  const perf: ChildProcess = spawn('perf', ['record', '-q', '-F', '999', '-g', '-t', String(tid), '-o', file], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => perf.on('exit', () => resolve()))
  return {
    async stop() {
      perf.kill('SIGINT')
      await exited
    },
  }
}

/** Whether `perf` can sample here (installed, and allowed to by the kernel). */
export function perfAvailable(): boolean {
  const r = spawnSync('perf', ['record', '-q', '-F', '99', '-o', '/dev/null', '--', 'true'], { stdio: 'ignore' })
  return r.status === 0
}

export interface PerfSummary {
  samples: number
  /** Share of the samples per category, largest first. */
  shares: { name: string; share: number; kernel: number }[]
}

/** Reads a `perf record -g` file and sorts its samples by category (categoryOf). */
export function summarisePerf(file: string, projectFile: (url: string) => boolean): PerfSummary {
  const r = spawnSync('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (r.status !== 0) throw new Error(`perf script: ${r.stderr.slice(0, 300)}`)
  const counts = new Map<string, { n: number; kernel: number }>()
  let samples = 0
  for (const block of r.stdout.split('\n\n')) {
    const frames: Frame[] = []
    for (const line of block.split('\n')) {
      const m = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line)
      if (m) frames.push({ sym: m[1], dso: m[2] })
    }
    if (frames.length === 0) continue
    samples++
    let name = 'other (event loop, promises, V8, libc)'
    for (const f of frames) {
      const c = categoryOf(f, projectFile)
      if (c) {
        name = c
        break
      }
    }
    const kernel = frames[0].dso.includes('kernel') ? 1 : 0
    const had = counts.get(name) ?? { n: 0, kernel: 0 }
    counts.set(name, { n: had.n + 1, kernel: had.kernel + kernel })
  }
  const shares = [...counts].map(([name, c]) => ({ name, share: c.n / Math.max(1, samples), kernel: c.kernel / Math.max(1, samples) })).sort((a, b) => b.share - a.share)
  return { samples, shares }
}

/**
 * The categories side by side in µs a request: each server's share of its samples times the main
 * thread's CPU a request the bench measured for it (from /proc), "in the kernel" the part of it
 * in kernel code (system calls: socket reads and writes, the spool's O_DSYNC writes).
 */
export function formatPerf(title: string, servers: { label: string; summary: PerfSummary; mainUsPerReq: number }[]): string {
  const names = [...new Set(servers.flatMap((s) => s.summary.shares.map((x) => x.name)))]
  const us = (s: (typeof servers)[number], name: string) => {
    const x = s.summary.shares.find((y) => y.name === name)
    return x ? [x.share * s.mainUsPerReq, x.kernel * s.mainUsPerReq] : [0, 0]
  }
  names.sort((a, b) => us(servers[0], b)[0] - us(servers[0], a)[0])
  const w = 44
  const lines = [title, `  ${'where'.padEnd(w)}${servers.map((s) => `${s.label.slice(0, 22).padStart(24)} (kernel)`).join('')}`]
  for (const n of names) lines.push(`  ${n.padEnd(w)}${servers.map((s) => { const [a, k] = us(s, n); return `${a.toFixed(1).padStart(24)} ${`(${k.toFixed(1)})`.padStart(8)}` }).join('')}`)
  lines.push(`  ${'main thread, µs a request'.padEnd(w)}${servers.map((s) => `${s.mainUsPerReq.toFixed(1).padStart(24)} ${''.padStart(8)}`).join('')}`)
  lines.push(`  (${servers.map((s) => `${s.label}: ${s.summary.samples} samples`).join(', ')}; perf record -F 999 -g on the main thread during the load)`)
  return lines.join('\n')
}
