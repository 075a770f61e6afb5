import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventBlock } from '../../collector/spool/event-block.ts'
import type { EventRow } from '../../collector/pipeline/types.ts'
import { isRefusedData } from '../../store/errors.ts'
import { NativeBlockWriter, NativeEncodeError } from '../../store/native-format.ts'
import { rows, testApp } from '../helpers/app.ts'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp()
})
afterAll(async () => {
  await app?.close()
})

const SITE = 'native.example.com'
let ts = Date.UTC(2026, 10, 29, 12)

function event(fields: Partial<EventRow>): EventRow {
  return {
    site: SITE, ts: ts++, name: 'pageview', visitor_id: '1', network_id: '0', visit_id: '0', visit_flags: 0,
    hostname: SITE, pathname: '/', query: '', referrer_host: '', referrer_path: '', source: '', channel: '',
    utm_source: '', utm_medium: '', utm_campaign: '', utm_content: '', utm_term: '', browser: '', browser_version: '',
    os: '', os_version: '', device: '', screen: '', country: '', region: '', city: '', network: '', returning: 2,
    engagement_ms: 0, props: {}, revenue_amount: '0', revenue_currency: '', scroll_depth: 255,
    ...fields,
  }
}

/** Every kind of value the columns take, at the edges of their encodings. */
const EDGES: EventRow[] = [
  event({ pathname: '', props: {} }),
  event({ pathname: 'a'.repeat(42), city: 'Zürich', visitor_id: '18446744073709551615', visit_id: '9007199254740993', network_id: '4294967296' }),
  event({ pathname: 'a'.repeat(43), city: 'São Paulo', visitor_id: '4294967295', visit_id: '1000000000', network_id: '999999999' }),
  event({ pathname: '/' + 'x'.repeat(300), region: '日'.repeat(42), visitor_id: '12345678901234567890', returning: 0, visit_flags: 3 }),
  event({ pathname: '/blog/🚀', region: '日'.repeat(43), engagement_ms: 4294967295, returning: 1 }),
  event({ name: 'Signup', props: { plan: 'pro', 'ключ': 'значение', long: 'v'.repeat(256) } }),
  event({ name: 'Purchase', revenue_amount: '1000000000000000', revenue_currency: 'EUR' }),
  event({ name: 'engagement', scroll_depth: 100 }),
]

describe('Native blocks into the real events table', () => {
  it('store every column as it was given, whatever the length or the script of the text', async () => {
    const block = eventBlock()
    for (const r of EDGES) block.append(r)
    await app.runtime.store.insertBlock('events', block.finish(), 'native-edges')
    const stored = await rows<Record<string, unknown>>(
      app,
      `SELECT * EXCEPT (ts, visitor_id, network_id, visit_id, revenue_amount), toUnixTimestamp64Milli(ts) AS ts,
         toString(visitor_id) AS visitor_id, toString(network_id) AS network_id, toString(visit_id) AS visit_id, toString(revenue_amount) AS revenue_amount
       FROM events WHERE site = {site:String} ORDER BY ts`,
      { site: SITE },
    )
    expect(stored).toEqual(EDGES.map((r) => ({ ...r, ts: Number(r.ts) })))
  })

  it('a dimension with many distinct values takes wider indexes (UInt16, UInt32) and loses none', async () => {
    for (const [site, distinct] of [['wide16.example.com', 300], ['wide32.example.com', 70_000]] as const) {
      const block = eventBlock()
      for (let i = 0; i < distinct + 10; i++) block.append(event({ site, city: `City ${i % distinct}`, ts: Date.UTC(2026, 10, 29) + i }))
      await app.runtime.store.insertBlock('events', block.finish(), `native-${site}`)
      const [row] = await rows<{ n: number; cities: number; last: string }>(
        app,
        'SELECT count() n, uniqExact(city) cities, argMax(city, ts) last FROM events WHERE site = {site:String}',
        { site },
      )
      expect(row).toEqual({ n: distinct + 10, cities: distinct, last: `City ${(distinct + 9) % distinct}` })
    }
  })

  it('a row without a column gets the table\'s default', async () => {
    const block = eventBlock()
    const { returning: _r, props: _p, visit_id: _v, scroll_depth: _s, ...partial } = event({ site: 'partial.example.com' })
    block.append(partial as EventRow)
    await app.runtime.store.insertBlock('events', block.finish(), 'native-partial')
    const [row] = await rows(app, "SELECT returning, props, visit_id, scroll_depth FROM events WHERE site = 'partial.example.com'")
    expect(row).toEqual({ returning: 2, props: {}, visit_id: 0, scroll_depth: 255 })
  })

  it('the same token is stored once; another token again', async () => {
    const build = () => {
      const b = eventBlock()
      for (let i = 0; i < 3; i++) b.append(event({ site: 'token.example.com', pathname: `/t${i}`, ts: Date.UTC(2026, 10, 29) + i }))
      return b.finish()
    }
    const count = async () => (await rows<{ n: number }>(app, "SELECT count() n FROM events WHERE site = 'token.example.com'"))[0].n
    await app.runtime.store.insertBlock('events', build(), 'native-once')
    await app.runtime.store.insertBlock('events', build(), 'native-once')
    expect(await count()).toBe(3)
    await app.runtime.store.insertBlock('events', build(), 'native-twice')
    expect(await count()).toBe(6)
  })
})

describe('values a column cannot take', () => {
  const cases: [string, Partial<Record<keyof EventRow, unknown>>][] = [
    ['a time with a fraction of a millisecond', { ts: 1795978048455.4731 }],
    ['a time that is text', { ts: '2026-11-29' }],
    ['an id that is not decimal', { visitor_id: '0x1f' }],
    ['an id past 2^64 − 1', { visitor_id: '18446744073709551616' }],
    ['a negative id', { visitor_id: '-1' }],
    ['a number where text belongs', { pathname: 404 }],
    ['a flag past 255', { visit_flags: 256 }],
    ['a prop that is not text', { props: { secret: 42 } }],
  ]
  for (const [what, fields] of cases) {
    it(`refuses ${what} as data, naming the column and never the value`, () => {
      const err = (() => {
        try {
          eventBlock().append({ ...event({}), ...fields } as EventRow)
        } catch (e) {
          return e
        }
      })()
      expect(err).toBeInstanceOf(NativeEncodeError)
      expect(isRefusedData(err)).toBe(true)
      expect((err as Error).message).toMatch(new RegExp(`^column ${Object.keys(fields)[0]}:`))
      for (const v of Object.values(fields)) expect((err as Error).message).not.toContain(typeof v === 'object' ? '42' : String(v))
    })
  }
})

it('writes any UInt64 as its 8 little-endian bytes', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
      const w = new NativeBlockWriter<{ v: string }>({ v: { type: 'UInt64' } })
      w.append({ v: n.toString() })
      const bytes = w.finish().bytes
      expect(bytes.readBigUInt64LE(bytes.length - 8)).toBe(n)
    }),
    { numRuns: 2000 },
  )
})
