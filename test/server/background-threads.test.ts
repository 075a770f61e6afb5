import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import { afterAll, describe, expect, it } from 'vitest'
import { batchOtherThreads, keepOtherThreadsBatch, SCHED_BATCH, schedulingPolicy } from '../../server/background-threads.ts'
import type { FastifyInstance } from 'fastify'
import { testApp } from '../helpers/app.ts'

const threads = () => fs.readdirSync('/proc/self/task').map(Number)
const others = () => threads().filter((tid) => tid !== process.pid)
const comm = (tid: number) => {
  try {
    return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8')
  } catch {
    return '' // ended since the listing
  }
}
const policyOrGone = (tid: number) => {
  try {
    return schedulingPolicy(tid)
  } catch {
    return -1
  }
}

describe.runIf(process.platform === 'linux')('background threads yield to the main thread', () => {
  let app: FastifyInstance | undefined
  afterAll(async () => {
    await app?.close()
  })

  // first: nothing in this process has been made SCHED_BATCH by the tests below yet
  it('a server started on the embedded store runs its engine threads SCHED_BATCH, its main thread not', async () => {
    app = await testApp()
    // the engine's own threads (named by ClickHouse: ThreadPool, BgSchPool...) are there once the store is ready
    const engine = () => others().filter((tid) => /^(ThreadPool|BgSchPool|BgMBSchPool|MergeMutate|Common|Move)/.test(comm(tid)))
    expect(engine().length).toBeGreaterThan(0)
    // those started since the last walk (every 5 s) are caught at the next
    await expect.poll(() => engine().filter((tid) => policyOrGone(tid) === 0), { timeout: 12_000 }).toEqual([])
    expect(schedulingPolicy(process.pid)).toBe(0)
  })

  it('makes every thread but the main one SCHED_BATCH, libuv pool threads and workers among them', async () => {
    // starts libuv's pool
    await fs.promises.readFile(import.meta.filename)
    expect(others().length).toBeGreaterThan(0)
    // a thread the main thread starts takes the main thread's policy
    const before = new Set(threads())
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true })
    await new Promise((resolve) => worker.once('online', resolve))
    const fresh = threads().filter((tid) => !before.has(tid))
    expect(fresh.map(schedulingPolicy)).toContain(0)
    expect(schedulingPolicy(process.pid)).toBe(0)
    expect(batchOtherThreads()).toBeGreaterThan(0)
    for (const tid of fresh) expect(schedulingPolicy(tid)).toBe(SCHED_BATCH)
    for (const tid of others()) expect(schedulingPolicy(tid)).toBe(SCHED_BATCH)
    expect(schedulingPolicy(process.pid)).toBe(0)
    // nothing left to change
    expect(batchOtherThreads()).toBe(0)
    await worker.terminate()
  })

  it('catches threads started later, until stopped', async () => {
    const stop = keepOtherThreadsBatch(50)
    const started = new Set(threads())
    // a thread the main thread starts takes the main thread's policy
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true })
    await new Promise((resolve) => worker.once('online', resolve))
    const fresh = threads().filter((tid) => !started.has(tid))
    expect(fresh.length).toBeGreaterThan(0)
    await expect.poll(() => fresh.map(schedulingPolicy)).toEqual(fresh.map(() => SCHED_BATCH))
    stop()
    const later = new Worker('setInterval(() => {}, 1000)', { eval: true })
    await new Promise((resolve) => later.once('online', resolve))
    const after = threads().filter((tid) => !started.has(tid) && !fresh.includes(tid))
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(after.map(schedulingPolicy)).toContain(0)
    await worker.terminate()
    await later.terminate()
  })
})
