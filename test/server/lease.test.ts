import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../store/client.ts'
import { migrate } from '../../store/migrate.ts'
import { StoreLease } from '../../server/lease.ts'
import { tempDataDir } from '../helpers/app.ts'

/** Leases between "processes" (lease objects with their own holder ids) over one store. */
let store: Store
beforeAll(async () => {
  store = await openStore({ dataDir: tempDataDir(), clickhouseDatabase: 'analytics' })
  await migrate(store.client)
})
afterAll(async () => {
  await store?.close()
})

const TTL = 1_500
const lease = (name: string, holder: string, onChange?: (held: boolean) => void) => new StoreLease(store.client, { name, holder, ttlMs: TTL, settleMs: 150, onChange })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('a lease in the store', () => {
  it('is held by one process; another takes it only once it has expired', async () => {
    const changes: boolean[] = []
    const a = lease('l1', 'a', (held) => changes.push(held))
    const b = lease('l1', 'b')
    expect(await a.tryTake()).toBe(true)
    expect(await b.tryTake()).toBe(false)
    expect(await a.tryTake()).toBe(true) // a renewal
    // a stops renewing (it died): it lets go before the row expires, b takes it after
    await sleep(TTL * 0.9 + 50)
    expect(a.held).toBe(false)
    // the holder hears of it from a timer, which a loaded machine may run a little late
    await expect.poll(() => changes).toEqual([true, false])
    let taken = await b.tryTake()
    for (let i = 0; i < 20 && !taken; i++) taken = await sleep(100).then(() => b.tryTake())
    expect(taken).toBe(true)
    expect(await a.tryTake()).toBe(false)
  })

  it('goes to exactly one of several contenders for a free lease', async () => {
    for (let round = 0; round < 3; round++) {
      const contenders = ['a', 'b', 'c', 'd'].map((h) => lease(`l2-${round}`, h))
      const won = await Promise.all(contenders.map((c) => c.tryTake()))
      expect(won.filter(Boolean)).toHaveLength(1)
    }
  })

  it('is free at once when its holder stops', async () => {
    const a = lease('l3', 'a')
    const b = lease('l3', 'b')
    expect(await a.tryTake()).toBe(true)
    await a.stop()
    expect(a.held).toBe(false)
    expect(await b.tryTake()).toBe(true)
  })

  it('runs exclusive work in one process at a time, renewed however long it runs', async () => {
    const a = lease('l4', 'a')
    const b = lease('l4', 'b')
    const log: string[] = []
    const work = (who: string) => async () => {
      log.push(`${who} in`)
      await sleep(TTL * 1.5) // longer than the TTL: the lease is renewed meanwhile
      log.push(`${who} out`)
      return who
    }
    expect(await Promise.all([a.exclusive(work('a')), sleep(50).then(() => b.exclusive(work('b')))])).toEqual(['a', 'b'])
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out'])
  })
})
