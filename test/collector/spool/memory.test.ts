import fs from 'node:fs'
import { expect, it } from 'vitest'
import { collectGarbage, heapSettled, pageOutCode, readOnlyMappings, releaseMemory } from '../../../collector/spool/memory.ts'
import { openStore } from '../../../store/client.ts'
import { tempDataDir } from '../../helpers/app.ts'

/** This process's anonymous resident pages (its heaps, the engine's among them; no file's pages), in MB. */
const anonMb = () => Number(/RssAnon:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024

/**
 * What of the embedded engine's library is resident now and this process's alone (/proc/self/smaps
 * `Private_Clean`), in MB: pages another process maps too (another test file's engine) are the
 * kernel's to keep, and the relocated ones (`Private_Dirty`) are this process's own copies.
 */
function engineLibraryPrivateCleanMb(): number {
  let mine = false
  let kb = 0
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mine = /\/libchdb\.so$/.test(line)
    else if (mine && line.startsWith('Private_Clean:')) kb += Number(/(\d+)/.exec(line)![1])
  }
  return kb / 1024
}

it('pageOutCode hands back what loading the engine touched (its library was ~185 MB resident), and the engine goes on answering', async () => {
  const store = await openStore({ dataDir: tempDataDir(), clickhouseDatabase: 'analytics' })
  try {
    const count = async () => (await (await store.client.query({ query: 'SELECT count() AS n FROM numbers(1000)', format: 'JSONEachRow' })).json<{ n: string | number }>())[0].n
    expect(Number(await count())).toBe(1000)
    // code and read-only data only: the library's writable pages (and its relocated ones, which madvise leaves) stay
    expect(readOnlyMappings((file) => file.endsWith('/libchdb.so')).length).toBeGreaterThanOrEqual(2)
    expect(pageOutCode()).toBeGreaterThan(400 * 1024 * 1024) // the library's 560 MB are mostly code and read-only data
    // what only this process mapped is gone (alone, the library measured ~185 MB resident before, 13 MB after: its relocated pages)
    expect(engineLibraryPrivateCleanMb()).toBeLessThan(8)
    expect(Number(await count())).toBe(1000) // a page touched again is read back from the file
  } finally {
    await store.close()
  }
}, 60_000)

it('collectGarbage gives back the heap that garbage holds, with no command-line flag', () => {
  let burst: object[] = Array.from({ length: 300_000 }, (_, i) => ({ i, text: `event ${i}` }))
  expect(burst.length).toBe(300_000)
  burst = []
  const before = process.memoryUsage().heapUsed
  collectGarbage()
  collectGarbage() // a second call reuses V8's collector
  expect(process.memoryUsage().heapUsed).toBeLessThan(before - 10 * 1024 * 1024)
})

it('heapSettled: a burst that left heap behind is over once the heap has stopped moving, and not before; a release resets it', () => {
  collectGarbage()
  expect(heapSettled(5000, 0)).toBe(false) // nothing grew since the release
  const kept: string[] = Array.from({ length: 200_000 }, (_, i) => `left by a burst ${i}`)
  const t = 1e12 // a clock of the test's own, far from any earlier call's
  expect(heapSettled(5000, t)).toBe(false) // the heap just moved: the burst may go on
  expect(heapSettled(5000, t + 4000)).toBe(false)
  expect(heapSettled(5000, t + 5000)).toBe(true) // quiet for 5 s with more heap than after the release
  collectGarbage()
  expect(heapSettled(5000, t + 20_000)).toBe(false) // what is still held is the new baseline
  expect(kept).toHaveLength(200_000)
})

it('releaseMemory also gives back the pages the embedded engine kept after a burst of inserts', async () => {
  const store = await openStore({ dataDir: tempDataDir(), clickhouseDatabase: 'analytics' })
  try {
    await store.client.command({ query: 'CREATE TABLE burst (a UInt64, b String) ENGINE = MergeTree ORDER BY a' })
    for (let i = 0; i < 6; i++) {
      await store.client.command({ query: "INSERT INTO burst SELECT number, repeat('x', 200) FROM numbers(100000)" })
    }
    // the heap's share and the code pages first (pageOutCode: those another test file's engine maps
    // too stay resident, so the total varied with what ran beside this one: 19 MB given back in a
    // CI run, 72-112 MB alone); what is left to give back is the engine's own memory, anonymous pages
    collectGarbage()
    pageOutCode()
    const before = anonMb()
    await releaseMemory(store)
    expect(anonMb()).toBeLessThan(before - 10)
  } finally {
    await store.close()
  }
}, 60_000)
