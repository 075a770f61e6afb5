import { expect, it } from 'vitest'
import { collectGarbage } from '../../../collector/spool/memory.ts'

it('collectGarbage gives back the heap that garbage holds, with no command-line flag', () => {
  let burst: object[] = Array.from({ length: 300_000 }, (_, i) => ({ i, text: `event ${i}` }))
  expect(burst.length).toBe(300_000)
  burst = []
  const before = process.memoryUsage().heapUsed
  collectGarbage()
  collectGarbage() // a second call reuses V8's collector
  expect(process.memoryUsage().heapUsed).toBeLessThan(before - 10 * 1024 * 1024)
})
