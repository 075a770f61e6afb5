import v8 from 'node:v8'
import vm from 'node:vm'
import type { Store } from '../../store/client.ts'

let gc: (() => void) | null = null

/**
 * A full garbage collection, for when a burst of beacons is over (SpoolWriter's `onIdle`). V8
 * collects its old generation as JS allocates, and an idle collector does not allocate: the
 * 40–50 MB of heap a burst leaves (garbage included) would stay until the next one. It takes
 * ~50 ms, run only once the spool has stayed empty a while. (`gc` is V8's own, exposed at run
 * time by `v8.setFlagsFromString('--expose-gc')` and taken from a new context: no command-line flag.)
 */
export function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc')
    gc = vm.runInNewContext('gc') as () => void
  }
  gc()
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
