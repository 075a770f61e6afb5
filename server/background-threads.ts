import fs from 'node:fs'
import { libcFunction } from '../collector/spool/memory.ts'

/**
 * sched(7)'s SCHED_BATCH: a thread that, when woken, does not preempt the thread running on its
 * CPU (it runs at its next turn), with the same share of the CPU as any other (nice unchanged).
 * A thread may take it without privileges.
 */
const SCHED_BATCH = 3

interface Scheduler {
  get: (tid: number) => number
  set: (tid: number, policy: number, param: Int32Array) => number
}

let scheduler: Scheduler | null | undefined

/** libc's sched_getscheduler/sched_setscheduler, or null where there are none: every thread then keeps the default policy. */
function libcScheduler(): Scheduler | null {
  if (scheduler !== undefined) return scheduler
  const get = libcFunction<Scheduler['get']>('int sched_getscheduler(int pid)')
  const set = libcFunction<Scheduler['set']>('int sched_setscheduler(int pid, int policy, const int *param)')
  scheduler = get && set ? { get, set } : null
  return scheduler
}

/** The ids of this process's threads but the main one (whose id is the process's). */
function otherThreads(): number[] {
  try {
    return fs
      .readdirSync('/proc/self/task')
      .map(Number)
      .filter((tid) => tid !== process.pid)
  } catch {
    return []
  }
}

/** Makes each of this process's threads but the main one SCHED_BATCH; returns how many it changed. */
export function batchOtherThreads(): number {
  const s = libcScheduler()
  if (!s) return 0
  const param = new Int32Array([0])
  let changed = 0
  for (const tid of otherThreads()) {
    // a thread that ended since the listing answers -1: nothing to do
    if (s.get(tid) === SCHED_BATCH) continue
    if (s.set(tid, SCHED_BATCH, param) === 0) changed++
  }
  return changed
}

/**
 * Keeps the main thread, where beacons are answered, from being preempted by the threads it
 * hands work to. Each spool write, engine insert and V8 helper task wakes a thread (libuv's
 * pool, the engine's, V8's); on a small machine the kernel would often run the woken thread at
 * once on the main thread's CPU and leave the main thread waiting for its next turn: in the
 * bench, the call that hands the spool's write to the pool took 211-230 µs on average (p99
 * 2.6-4.6 ms, at most 17 ms) against 3-10 µs in a process of its own. Those threads are made
 * SCHED_BATCH (they keep their share of the CPU, but a wakeup waits for the running thread's
 * turn to end): 37-50 µs. Threads come and go (the engine grows its pools, libuv starts its
 * own at first use, and new threads take the policy of the thread that made them), so the list
 * is walked again every `everyMs`. Returns what stops it.
 */
export function keepOtherThreadsBatch(everyMs = 5_000): () => void {
  if (!libcScheduler()) return () => {}
  batchOtherThreads()
  const timer = setInterval(batchOtherThreads, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}

/** A thread's scheduling policy as the kernel reports it (/proc: the 41st field of its stat), for tests. */
export function schedulingPolicy(tid: number): number {
  const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
  // the name (2nd field) is in parentheses and may hold spaces
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3])
}

export { SCHED_BATCH }
