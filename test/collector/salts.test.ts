import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import crypto from 'node:crypto'
import { keyedId, SaltStore, StoreSaltBackend, visitorHash } from '../../collector/salts.ts'
import { DOC_IPS, UA, rows, tempDataDir, testApp } from '../helpers/app.ts'

const DAY = 86_400_000

describe('salts in memory', () => {
  it('a keyed id is the first 8 bytes of SHA-256 over the salt and the message, as a decimal UInt64 (property)', () => {
    const salt = crypto.randomBytes(32)
    for (let i = 0; i < 2000; i++) {
      const message = `example.com\u0000198.51.100.${i % 256}\u0000${crypto.randomBytes(i % 40).toString('latin1')} ü ✓ ${i}`
      const expected = crypto.createHash('sha256').update(salt).update(message).digest().readBigUInt64BE(0)
      expect(keyedId(salt, message)).toBe((expected === 0n ? 1n : expected).toString())
    }
  })

  it('the same visitor hashes alike within a day and site, differently across days and sites', () => {
    let now = Date.UTC(2026, 10, 29, 12)
    const salts = new SaltStore(() => now)
    const h = (site: string) => visitorHash(salts.saltFor(now, 24), site, DOC_IPS[0], UA.chromeWindows)
    const today = h('example.com')
    expect(h('example.com')).toBe(today)
    expect(h('shop.example.com')).not.toBe(today)
    now += DAY
    expect(h('example.com')).not.toBe(today)
  })

  it('wipes a salt as soon as its period is over', () => {
    let now = Date.UTC(2026, 10, 29, 23, 59)
    const salts = new SaltStore(() => now)
    const salt = salts.saltFor(now, 24)
    const copy = Buffer.from(salt)
    expect(salts.size).toBe(1)
    now = Date.UTC(2026, 10, 30, 0, 0, 1)
    salts.rotate()
    expect(salts.size).toBe(0)
    expect(salt.equals(Buffer.alloc(32))).toBe(true) // zeroed, not just forgotten
    expect(copy.equals(Buffer.alloc(32))).toBe(false)
  })
})

// A policy that persists salts: a restart or a second collector keeps counting the same visitor.
let app: FastifyInstance
/**
 * The salts the store held for the day of the start, looked at right after it: the test that
 * checks them runs a minute or more later, perhaps on the next day, whose salt the collector
 * loads within a minute as the start day's is deleted.
 */
let atStart: { days: number[]; count: number }
beforeAll(async () => {
  const file = path.join(tempDataDir(), 'persist.yaml')
  fs.writeFileSync(file, 'version: 1\ndefaults:\n  visitor_hash:\n    salt_period_hours: 24\n    persist_salt: true\n')
  const before = Math.floor(Date.now() / DAY)
  app = await testApp({ policyFile: file })
  // two days only when the start itself ran across midnight UTC: it loaded one of them
  const days = [...new Set([before, Math.floor(Date.now() / DAY)])]
  const r = await rows<{ c: number }>(app, 'SELECT count() c FROM salts WHERE period IN {p:Array(UInt64)} AND period_hours = 24', { p: days })
  atStart = { days, count: Number(r[0].c) }
})
afterAll(async () => {
  await app?.close()
})

describe('persisted salts', () => {
  it('are shared by collectors and deleted from memory, store and disk after their period', async () => {
    const client = app.runtime.store.client
    let now = Date.UTC(2025, 0, 10, 10) // a past day, not the live one
    const period = Math.floor(now / DAY)
    const first = new SaltStore(() => now, new StoreSaltBackend(client))
    const second = new SaltStore(() => now, new StoreSaltBackend(client))
    await first.prepare(24, true)
    await second.prepare(24, true) // a second collector, or the first one after a restart
    expect(first.saltFor(now, 24, true).equals(second.saltFor(now, 24, true))).toBe(true)
    const stored = await rows<{ c: number }>(app, 'SELECT count() c FROM salts WHERE period = {p:UInt64}', { p: period })
    expect(stored[0].c).toBe(1)

    now += DAY // the period is over
    await first.rotateEverywhere()
    expect(first.size).toBe(0)
    expect((await rows<{ c: number }>(app, 'SELECT count() c FROM salts WHERE period = {p:UInt64}', { p: period }))[0].c).toBe(0)
    // dropped parts leave the disk within seconds (old_parts_lifetime = 1 on the table)
    let parts = 1
    for (let i = 0; i < 100 && parts > 0; i++) {
      await new Promise((r) => setTimeout(r, 500))
      parts = (await rows<{ c: number }>(app, "SELECT count() c FROM system.parts WHERE table = 'salts' AND partition_id = {id:String}", { id: `24-${period}` }))[0].c
    }
    expect(parts).toBe(0)
    const storeDir = path.join(app.runtime.config.dataDir, 'clickhouse')
    const partDirs = fs.readdirSync(storeDir, { recursive: true }).map(String).filter((p) => p.includes(`24-${period}_`))
    expect(partDirs).toEqual([])
  }, 90_000) // ClickHouse's cleanup thread removes dropped parts within seconds, later on a busy machine

  it('the running collector loaded today\'s salt from the store at start', () => {
    expect(atStart.count, `salts of day ${atStart.days.join(' or ')}`).toBe(1)
  })
})
