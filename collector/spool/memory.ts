import v8 from 'node:v8'
import vm from 'node:vm'
import type { Store } from '../../store/client.ts'

let gc: (() => void) | null = null

/**
 * Full garbage collections, for when a burst is over (SpoolWriter's `onIdle`). V8 collects its
 * old generation as JS allocates, and an idle collector does not allocate: the 40–50 MB of heap
 * a burst leaves (garbage included) would stay until the next one. Two passes: the young
 * generation's pages (up to 32 MB) are given back by the second (an idle server measured 336 MB
 * after one, 305 after two, 304 after eight). About 30 ms each, run only once things have stayed
 * quiet a while. (`gc` is V8's own, exposed at run time by
 * `v8.setFlagsFromString('--expose-gc')` and taken from a new context: no command-line flag.)
 */
export function collectGarbage(passes = 2): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc')
    gc = vm.runInNewContext('gc') as () => void
  }
  for (let i = 0; i < passes; i++) gc()
  heapAfterRelease = v8.getHeapStatistics().used_heap_size
}

let heapAfterRelease = 0
let heapSeen = { bytes: 0, at: 0 }
const HEAP_GROWTH = 4 * 1024 * 1024
const HEAP_WOBBLE = 512 * 1024

/**
 * Whether a burst that was not beacons (questions to the stats API, a site registered, a
 * dashboard opened) is over and left heap behind: the heap has grown by HEAP_GROWTH since the
 * last release and not moved by more than HEAP_WOBBLE for `quietMs` (an idle process allocates
 * next to nothing). Asked by the spool writer once a second while the spool is empty.
 */
export function heapSettled(quietMs: number, now = performance.now()): boolean {
  const used = v8.getHeapStatistics().used_heap_size
  if (Math.abs(used - heapSeen.bytes) > HEAP_WOBBLE) heapSeen = { bytes: used, at: now }
  return used - heapAfterRelease > HEAP_GROWTH && now - heapSeen.at >= quietMs
}

/**
 * What a burst leaves, given back once it is over: V8's heap (`collectGarbage`) and, for the
 * embedded engine, the pages its allocator (jemalloc) keeps for reuse after the inserts and
 * merges: ~100 MB after a burst, returned only after its decay time otherwise. A ClickHouse
 * server is left alone: its memory is its own.
 */
export async function releaseMemory(store: Pick<Store, 'embedded' | 'client'>): Promise<void> {
  collectGarbage()
  if (!store.embedded) return
  try {
    await store.client.command({ query: 'SYSTEM JEMALLOC PURGE' })
  } catch {
    // an engine without jemalloc, or one shutting down: its pages are returned on its own schedule
  }
}
