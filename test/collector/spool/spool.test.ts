import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { EVENT_FIELDS, rowValues } from '../../../collector/spool/event-block.ts'
import { Spool } from '../../../collector/spool/spool.ts'
import type { EventRow } from '../../../collector/pipeline/types.ts'
import { tempDataDir } from '../../helpers/app.ts'

function row(i: number) {
  return { site: 'spool.example.com', ts: 1_795_000_000_000 + i, name: 'pageview', visitor_id: String(i + 1), hostname: 'spool.example.com', pathname: `/p${i}`, props: {} }
}

const nextTick = () => new Promise((resolve) => setImmediate(resolve))

/** Each segment's records, as the files hold them (`read` skips blank lines and reports torn ones). */
function onDisk(spool: Spool): number[][] {
  const out: number[][] = []
  for (let seg = spool.peek(); seg; seg = spool.peek()) {
    out.push(spool.recordsOf(seg).map((r) => Number(r.visitor_id) - 1))
    expect(spool.toBlock(seg).rows).toBe(out.at(-1)!.length)
    spool.done(seg)
  }
  return out
}

describe('spool appends', () => {
  it('appends that arrive while a write is being made durable are written beside it, each record once, file and block alike', async () => {
    const spool = new Spool({ dir: tempDataDir(), fsync: true, segmentRows: 100_000, segmentMs: 60_000, capBytes: 1e9 })
    const done: Promise<void>[] = []
    // one append a turn of the event loop, none awaited: each arrives while earlier ones are being written
    for (let i = 0; i < 300; i++) {
      done.push(spool.append(row(i)))
      await nextTick()
    }
    await Promise.all(done)
    spool.seal()
    const seg = spool.peek()!
    expect(seg.block!.rows).toBe(300)
    const segments = onDisk(spool)
    expect(segments).toHaveLength(1)
    expect([...segments[0]].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i))
  })

  it('a segment sealed while writes are in flight keeps them; later appends go to the next segment, in order', async () => {
    const dir = tempDataDir()
    const torn: string[] = []
    // sealed by time every few milliseconds and by rows every 7 records, while appends keep coming
    const spool = new Spool({ dir, fsync: true, segmentRows: 7, segmentMs: 3, capBytes: 1e9, onTorn: (s) => torn.push(s) })
    const done: Promise<void>[] = []
    for (let i = 0; i < 200; i++) {
      done.push(spool.append(row(i)))
      if (i % 3 === 2) {
        await nextTick()
        // at most two rounds of three in flight: written rows pass segmentRows again and again, however slow the disk
        if (i >= 8) await done[i - 6]
      }
    }
    await Promise.all(done)
    await spool.drainAppends()
    const sealed: string[] = []
    const segments: number[][] = []
    for (let seg = spool.peek(); seg; seg = spool.peek()) {
      sealed.push(seg.name)
      const records = spool.recordsOf(seg).map((r) => Number(r.visitor_id) - 1)
      // the block sent from memory holds what the file holds
      expect(seg.block?.rows).toBe(records.length)
      segments.push(records)
      spool.done(seg)
    }
    expect(segments.length).toBeGreaterThan(1)
    expect(sealed).toEqual([...sealed].sort())
    // every record once, and a segment's records all come after the segments before it
    expect(segments.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i))
    for (let k = 1; k < segments.length; k++) expect(Math.min(...segments[k])).toBeGreaterThan(Math.max(...segments[k - 1]))
    expect(torn).toEqual([])
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('a write torn part-way, with a write made beside it landing after it, loses only its own records', async () => {
    const dir = tempDataDir()
    const torn: string[] = []
    const spool = new Spool({ dir, fsync: true, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9, onTorn: (s) => torn.push(s) })
    await Promise.all([0, 1].map((i) => spool.append(row(i))))
    // a write that failed part-way (the disk full) left the start of a line at the end of the file
    const [file] = fs.readdirSync(dir).filter((f) => f.endsWith('.ndjson'))
    fs.appendFileSync(path.join(dir, file), JSON.stringify(rowValues(row(2) as EventRow)).slice(0, 30))
    // the next write starts a line of its own: its records stay whole
    await Promise.all([3, 4].map((i) => spool.append(row(i))))
    spool.seal()
    const seg = spool.peek()!
    const replayed = new Spool({ dir, fsync: true, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9, onTorn: (s) => torn.push(s) })
    const back = replayed.peek()!
    expect(back.name).toBe(seg.name)
    expect(replayed.recordsOf(back).map((r) => r.visitor_id)).toEqual(['1', '2', '4', '5'])
    expect(torn).toEqual([seg.name])
    expect(replayed.toBlock(back).rows).toBe(4)
  })
})

describe('spool lines', () => {
  /** Every column set, none at its default, each value distinct. */
  const full: EventRow = {
    site: 'lines.example.com', ts: 1_795_000_000_123, name: 'Signup', visitor_id: '18446744073709551615', network_id: '42', visit_id: '7', visit_flags: 3,
    hostname: 'lines.example.com', pathname: '/pricing', query: 'plan=pro', referrer_host: 'search.example.org', referrer_path: '/q', source: 'Search', channel: 'search',
    utm_source: 'news', utm_medium: 'email', utm_campaign: 'dec', utm_content: 'top', utm_term: 'privacy', browser: 'Firefox', browser_version: '132',
    os: 'Linux', os_version: '6', device: 'Desktop', screen: 'Laptop', country: 'DE', region: 'Hesse', city: 'Frankfurt am Main', network: 'Example "ISP"\n', returning: 1,
    engagement_ms: 5000, props: { plan: 'pro', 'a key': 'ü ✓' }, revenue_amount: '1999', revenue_currency: 'EUR', scroll_depth: 80,
  }

  it('are the row\'s values in the columns\' order, half the bytes of the row as an object, and read back as the row', async () => {
    const dir = tempDataDir()
    const spool = new Spool({ dir, fsync: false, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    await spool.append(full)
    spool.seal()
    const seg = spool.peek()!
    const [line, rest] = fs.readFileSync(seg.file, 'utf8').split('\n')
    expect(rest).toBe('')
    expect(JSON.parse(line)).toEqual(EVENT_FIELDS.map((k) => full[k]))
    expect(Object.keys(full).sort()).toEqual([...EVENT_FIELDS].sort())
    expect(line.length).toBeLessThan(0.6 * JSON.stringify(full).length)
    expect(spool.recordsOf(seg)).toEqual([full])
    // a later process has only the file: its line converts to the same Native block as the one built while writing
    const replayed = new Spool({ dir, fsync: false, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    const back = replayed.peek()!
    expect(back.block).toBeUndefined()
    expect(replayed.toBlock(back).bytes.equals(spool.toBlock(seg).bytes)).toBe(true)
  })

  it('a row that lacks fields reads back without them', async () => {
    const spool = new Spool({ dir: tempDataDir(), fsync: false, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    await spool.append(row(3))
    spool.seal()
    expect(spool.recordsOf(spool.peek()!)).toEqual([row(3)])
  })

  it('segments of object lines, as written before, are replayed; so are lines written before a column was added', () => {
    const dir = tempDataDir()
    fs.mkdirSync(dir, { recursive: true })
    const shorter = JSON.stringify(rowValues({ ...full, visitor_id: '2' }).slice(0, -1))
    fs.writeFileSync(path.join(dir, '000000000000001-0000000000-aaaaaaaaaaaa.ndjson'), [JSON.stringify(full), shorter, ''].join('\n'))
    const spool = new Spool({ dir, fsync: false, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9 })
    const seg = spool.peek()!
    const { scroll_depth: _, ...withoutLast } = { ...full, visitor_id: '2' }
    expect(spool.recordsOf(seg)).toEqual([full, withoutLast])
    expect(spool.toBlock(seg).rows).toBe(2)
  })
})
