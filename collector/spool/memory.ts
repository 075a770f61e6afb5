import v8 from 'node:v8'
import vm from 'node:vm'

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
