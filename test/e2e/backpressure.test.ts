import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { DOC_IPS, UA, beacon, testApp } from '../helpers/app.ts'
import { rowOf } from '../../collector/spool/event-block.ts'

// One app whose store stops taking batches: what is answered 202 must be on disk.
let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({ spoolCapBytes: 3000 })
  await app.runtime.writer.stop()
})
afterAll(async () => {
  await app?.close()
})

const spooled = () => {
  const dir = path.join(app.runtime.config.dataDir, 'spool')
  return fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('')
}

describe('the collector while the store takes nothing', () => {
  it('spools scrubbed rows only: no IP, no User-Agent, no query string', async () => {
    const res = await beacon(app, { n: 'pageview', u: 'https://example.com/x?token=abcdef&utm_campaign=w', d: 'example.com', r: 'https://ref.example.org/p?q=1' }, { ip: '203.0.113.77', ua: UA.firefoxLinux })
    expect(res.statusCode).toBe(202)
    await app.runtime.spool.drainAppends()
    const text = spooled()
    // each line is a row's values by position (rowValues)
    expect(text.split('\n').filter(Boolean).map((l) => rowOf(JSON.parse(l)).utm_campaign)).toContain('w')
    expect(text).not.toMatch(/203\.0\.113|Mozilla|Firefox\/132|token|abcdef|q=1/)
  })

  it('answers 503 with Retry-After past the spool cap, never losing an accepted event', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await beacon(app, { n: 'pageview', u: `https://example.com/full/${i}`, d: 'example.com' }, { ip: DOC_IPS[i % DOC_IPS.length], ua: UA.safariMac })
      statuses.push(res.statusCode)
      if (res.statusCode === 503) {
        expect(res.headers['retry-after']).toBe('30')
        expect(res.json().error).toMatch(/retry/)
      }
    }
    const accepted = statuses.filter((s) => s === 202).length
    expect(accepted).toBeGreaterThan(0)
    expect(statuses.at(-1)).toBe(503)
    await app.runtime.spool.drainAppends()
    const lines = spooled().split('\n').filter(Boolean)
    expect(lines).toHaveLength(accepted + 1) // + the probe of the test before
  })
})
