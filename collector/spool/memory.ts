import fs from 'node:fs'
import v8 from 'node:v8'
import vm from 'node:vm'
import koffi from 'koffi'
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
  pageOutCode()
  if (!store.embedded) return
  try {
    await store.client.command({ query: 'SYSTEM JEMALLOC PURGE' })
  } catch {
    // an engine without jemalloc, or one shutting down: its pages are returned on its own schedule
  }
}

/** madvise(2)'s advice to reclaim pages now (Linux 5.4 and later): clean file pages are dropped, to be read again when touched. */
const MADV_PAGEOUT = 21
/** The files whose code a process maps and touches mostly while starting: the embedded engine's library, node itself. */
const isCodeFile = (file: string) => file.endsWith('/libchdb.so') || file === process.execPath

type Madvise = (addr: bigint, length: bigint, advice: number) => number
let madvise: Madvise | null | undefined

/**
 * `signature`, a function of glibc, through koffi (a foreign function interface: Node has no
 * binding of its own for these), or null where there is none (not Linux, musl, no libc of that
 * name): callers then go without.
 */
export function libcFunction<F>(signature: string): F | null {
  if (process.platform !== 'linux') return null
  try {
    return koffi.load('libc.so.6').func(signature) as F
  } catch {
    return null
  }
}

/** libc's madvise, or null (the kernel then reclaims these pages under pressure on its own). */
function libcMadvise(): Madvise | null {
  if (madvise === undefined) madvise = libcFunction<Madvise>('int madvise(uintptr_t addr, size_t length, int advice)')
  return madvise
}

/** The read-only mappings of the files `files` picks (/proc/self/maps), start and end addresses. */
export function readOnlyMappings(files: (file: string) => boolean = isCodeFile): { start: bigint; end: bigint }[] {
  let maps: string
  try {
    maps = fs.readFileSync('/proc/self/maps', 'utf8')
  } catch {
    return []
  }
  const out: { start: bigint; end: bigint }[] = []
  for (const line of maps.split('\n')) {
    // start-end perms offset dev inode path
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s+(\S.*)$/.exec(line)
    if (!m || m[3].includes('w') || !files(m[4])) continue
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`) })
  }
  return out
}

/**
 * The pages of code (and read-only data) of the embedded engine's library and of node that
 * only starting touched, handed back to the kernel: chDB's library is 560 MB, and loading it
 * runs the registration of every function, format and engine it has, which leaves some 170 MB
 * of its pages resident that a running server never touches again (an idle server measured
 * 323 MB, 145 MB right after this). They are clean pages of files: the kernel would reclaim them
 * under memory pressure anyway, and any page touched again is read back from the file. Asked
 * once the store is ready and after each burst (releaseMemory); returns the bytes advised
 * (0 where madvise is not at hand).
 */
export function pageOutCode(files: (file: string) => boolean = isCodeFile): number {
  const advise = libcMadvise()
  if (!advise) return 0
  let bytes = 0
  for (const { start, end } of readOnlyMappings(files)) {
    // an older kernel answers EINVAL: nothing is reclaimed early, nothing else changes
    if (advise(start, end - start, MADV_PAGEOUT) === 0) bytes += Number(end - start)
  }
  return bytes
}
