import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createClient } from '@clickhouse/client'
import { afterAll, describe, expect, it } from 'vitest'
import { Sites } from '../../accounts/sites.ts'
import { buildApp } from '../../server/app.ts'
import { openStore } from '../../store/client.ts'
import { migrate } from '../../store/migrate.ts'
import { ADMIN_TOKEN, tempDataDir, testConfig, UA, visitorIp } from '../helpers/app.ts'
import { env, freePort } from '../helpers/process.ts'
import { awayFromMidnight } from '../helpers/midnight.ts'

/**
 * Beyond one process: `analytics store serve` (the embedded engine behind ClickHouse's HTTP
 * interface), two collectors and two aggregators on 127.0.0.1, each its own process reaching the
 * store through CLICKHOUSE_URL, as users run them. A collector is killed with -9 under load and
 * the store with it; the aggregators' numbers must equal what the collectors accepted, the jobs
 * lease must pass to the other aggregator when its holder is killed, and the HTTP path's
 * answers must equal the embedded engine's on the same data directory.
 */
const root = path.resolve(import.meta.dirname, '../..')
const PASSWORD = 'multi-process-store-password'
const VISITORS = 40
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

interface Proc {
  child: ChildProcess
  base: string
  log: () => string
}
const procs: Proc[] = []
afterAll(() => {
  for (const p of procs) p.child.kill('SIGKILL')
})

/** `analytics <args>` in its own process, as users run it; resolves once `ready` answers. */
async function start(args: string[], dataDir: string, port: number, extra: Record<string, string>, ready: string): Promise<Proc> {
  const child = spawn(process.execPath, ['bin/analytics.js', ...args], { cwd: root, env: env(dataDir, port, extra), stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => (log += d))
  const proc = { child, base: `http://127.0.0.1:${port}`, log: () => log }
  procs.push(proc)
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited: ${log}`)
    if (await fetch(proc.base + ready).then((r) => r.ok, () => false)) return proc
    await sleep(50)
  }
  throw new Error(`${args.join(' ')} did not start: ${log}`)
}

async function kill9(p: Proc): Promise<void> {
  p.child.kill('SIGKILL')
  if (p.child.exitCode === null) await new Promise((r) => p.child.once('exit', r))
}

async function stop(p: Proc): Promise<void> {
  p.child.kill('SIGTERM')
  if (p.child.exitCode === null) await new Promise((r) => p.child.once('exit', r))
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    // the processes' last words say why
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${procs.map((p) => p.log()).join('\n----\n').slice(-6000)}`)
    await sleep(100)
  }
}

const get = async (base: string, url: string) => {
  const res = await fetch(base + url, { headers: auth })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** The questions both paths answer; today is every event's day. */
const QUESTIONS = [
  '/api/v1/stats/aggregate?site=example.com&period=day&metrics=visitors,visits,pageviews,events,views_per_visit,bounce_rate,visit_duration',
  '/api/v1/stats/breakdown?site=example.com&period=day&property=page&metrics=visitors,pageviews,events',
  '/api/v1/stats/breakdown?site=example.com&period=day&property=browser&metrics=visitors,visits',
  '/api/v1/stats/timeseries?site=example.com&period=7d&metrics=visitors,pageviews',
]

/**
 * One pageview of `visitor` in `round` (its own /48, a browser of four), carrying its id as a
 * prop: 'accepted' when answered 202, 'unanswered' when the connection failed before any answer
 * (a collector killed with the beacon in flight may or may not have spooled it).
 */
async function pageview(base: string, visitor: number, round: number): Promise<'accepted' | 'unanswered' | 'refused'> {
  const uas = [UA.chromeWindows, UA.safariMac, UA.firefoxLinux, UA.iphone]
  const res = await fetch(`${base}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': uas[visitor % uas.length], 'x-forwarded-for': visitorIp(visitor) },
    body: JSON.stringify({ n: 'pageview', u: `https://example.com/step/${round}`, d: 'example.com', p: { beacon: beaconId(visitor, round) } }),
  }).catch(() => null)
  return res === null ? 'unanswered' : res.status === 202 ? 'accepted' : 'refused'
}

const beaconId = (visitor: number, round: number) => `v${visitor}r${round}`

/** The test's own look into the store (the program never returns rows): how often each beacon id is stored. */
async function storedBeacons(url: string): Promise<Map<string, number>> {
  const client = createClient({ url, password: PASSWORD, database: 'default', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })
  try {
    const rs = await client.query({ query: "SELECT props['beacon'] AS id, count() AS n FROM events WHERE site = 'example.com' GROUP BY id", format: 'JSONEachRow' })
    return new Map((await rs.json<{ id: string; n: number }>()).map((r) => [r.id, Number(r.n)]))
  } finally {
    await client.close()
  }
}

describe('collectors and aggregators over `analytics store serve`', () => {
  it('lose nothing across kill -9 of a collector and of the store, agree with each other, hand the jobs over, and match the embedded engine', { timeout: 360_000 }, async () => {
    // every beacon and question on one day (today's period, one daily salt per visitor): a run
    // that would cross midnight UTC (it takes under three minutes) waits for the next day first
    await awayFromMidnight({ before: 180_000 })
    const storeDir = tempDataDir()
    const storePort = await freePort()
    const policyFile = path.join(tempDataDir(), 'policy.yaml')
    // salts kept in the store, so that every collector, and a restarted one, hashes a visitor alike
    fs.writeFileSync(policyFile, fs.readFileSync(path.join(root, 'policies/strict.yaml'), 'utf8').replace('persist_salt: false', 'persist_salt: true'))
    const startStore = () => start(['store', 'serve', '--port', String(storePort)], storeDir, storePort, { CLICKHOUSE_PASSWORD: PASSWORD }, '/ping')
    let store = await startStore()
    // `default`: the database the embedded engine uses, so that the same directory can be opened embedded at the end
    const shared = { CLICKHOUSE_URL: store.base, CLICKHOUSE_PASSWORD: PASSWORD, CLICKHOUSE_DATABASE: 'default', POLICY_FILE: policyFile, LEASE_TTL_MS: '2000', ROLLUP_INTERVAL_MS: '0' }
    const role = async (r: 'collector' | 'aggregator', dataDir: string, port: number, extra: Record<string, string> = {}) =>
      start(['serve', '--role', r], dataDir, port, { ...shared, ...extra }, '/healthz')

    // the schema made and the site registered before the servers start, so that every collector knows it from its first beacon
    const admin = await openStore({ dataDir: tempDataDir(), clickhouseUrl: store.base, clickhousePassword: PASSWORD, clickhouseDatabase: 'default' })
    await migrate(admin.client)
    await new Sites(admin.client).add('example.com')
    await admin.close()

    const [agg1Port, agg2Port, c1Port, c2Port] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    const c1Dir = tempDataDir()
    // collector 1 holds its batches a minute: what it accepts before the kill is in its spool only
    let [c1, c2, agg1, agg2] = await Promise.all([
      role('collector', c1Dir, c1Port, { BATCH_MS: '60000' }),
      role('collector', tempDataDir(), c2Port),
      role('aggregator', tempDataDir(), agg1Port),
      role('aggregator', tempDataDir(), agg2Port),
    ])
    const collectorOf = (visitor: number) => (visitor % 2 === 0 ? c1 : c2)

    // a visitor always reaches the same collector, as behind a proxy hashing addresses
    const outcomes = new Map<string, 'accepted' | 'unanswered' | 'refused'>()
    const send = async (visitors: number[], round: number, concurrency = 8) => {
      const queue = [...visitors]
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let v = queue.shift(); v !== undefined; v = queue.shift()) outcomes.set(beaconId(v, round), await pageview(collectorOf(v).base, v, round))
        }),
      )
    }
    const ids = (outcome: string) => [...outcomes].filter(([, o]) => o === outcome).map(([id]) => id)
    const everyone = Array.from({ length: VISITORS }, (_, i) => i)
    const half = (parity: number) => everyone.filter((v) => v % 2 === parity)

    // round 0 under load, collector 1 killed -9 halfway through its share
    const load = send(everyone, 0)
    await until('collector 1 to accept half its share', async () => (half(0).filter((v) => outcomes.get(beaconId(v, 0)) === 'accepted').length >= VISITORS / 4 ? true : undefined))
    await kill9(c1)
    await load
    expect(fs.readdirSync(path.join(c1Dir, 'spool')).length).toBeGreaterThan(0)

    // the store killed -9 too: collector 2 keeps accepting into its spool, and catches up once the store is back
    await kill9(store)
    await send(half(1), 1)
    // collector 1 on its own data directory again (its spool is replayed), while the store comes back
    ;[store, c1] = await Promise.all([startStore(), role('collector', c1Dir, c1Port)])
    await send(half(0), 1)
    await send(everyone, 2)

    // every beacon answered 202 stored once, and nothing else but beacons in flight when collector 1 died
    expect(ids('refused')).toEqual([])
    const accepted = ids('accepted')
    const stored = await until('every accepted beacon to reach the store', async () => {
      const rows = await storedBeacons(store.base)
      return accepted.every((id) => rows.has(id)) ? rows : undefined
    })
    expect([...stored.values()].every((n) => n === 1)).toBe(true)
    expect([...stored.keys()].filter((id) => !accepted.includes(id)).every((id) => outcomes.get(id) === 'unanswered')).toBe(true)
    const visitors = new Set([...stored.keys()].map((id) => id.split('r')[0])).size
    expect(visitors).toBe(VISITORS)
    // and the aggregators count exactly that
    const counted = await until('the aggregator to count every stored beacon', async () => {
      const { body } = await get(agg1.base, QUESTIONS[0])
      const results = body.results as Record<string, { value: number | null }>
      return results.events.value === stored.size ? results : undefined
    })
    expect(counted.pageviews.value).toBe(stored.size)
    expect(counted.visitors.value).toBe(visitors)
    expect(counted.visits.value).toBe(visitors)

    // the same answers whichever aggregator answers
    const answers = await Promise.all(QUESTIONS.map((q) => get(agg1.base, q)))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    expect(await Promise.all(QUESTIONS.map((q) => get(agg2.base, q)))).toEqual(answers)

    // one aggregator runs the scheduled jobs; killed, the other takes them over once its lease expires
    const jobs = async (p: Proc) => (await get(p.base, '/healthz')).body.jobs as boolean
    const holder = await until('one aggregator to hold the jobs lease', async () => {
      const [a, b] = [await jobs(agg1), await jobs(agg2)]
      return a !== b ? (a ? agg1 : agg2) : undefined
    })
    const other = holder === agg1 ? agg2 : agg1
    await kill9(holder)
    await until('the other aggregator to take the jobs over', async () => ((await jobs(other)) ? true : undefined), 15_000)

    // the HTTP path against the embedded engine on the same data directory, after a clean stop
    await Promise.all([c1, c2, other].map(stop))
    await stop(store)
    const logs = procs.map((p) => p.log()).join('\n')
    expect(logs).not.toMatch(/2001:db8|Mozilla|\/step\//)
    const embedded = await buildApp(testConfig({ dataDir: storeDir, policyFile }), { logger: false })
    try {
      for (const [i, q] of QUESTIONS.entries()) {
        const res = await embedded.inject({ url: q, headers: auth })
        expect({ status: res.statusCode, body: res.json() }, q).toEqual(answers[i])
      }
    } finally {
      await embedded.close()
    }
  })
})
