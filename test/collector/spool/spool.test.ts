import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Spool } from '../../../collector/spool/spool.ts'
import { tempDataDir } from '../../helpers/app.ts'

function row(i: number) {
  return { site: 'spool.example.com', ts: 1_795_000_000_000 + i, name: 'pageview', visitor_id: String(i + 1), hostname: 'spool.example.com', pathname: `/p${i}`, props: {} }
}

const nextTick = () => new Promise((resolve) => setImmediate(resolve))

/** Each segment's records, as the files hold them (`read` skips blank lines and reports torn ones). */
function onDisk(spool: Spool): number[][] {
  const out: number[][] = []
  for (let seg = spool.peek(); seg; seg = spool.peek()) {
    out.push(spool.read(seg).map((line) => Number(JSON.parse(line).visitor_id) - 1))
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
      const records = spool.read(seg).map((line) => Number(JSON.parse(line).visitor_id) - 1)
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
    fs.appendFileSync(path.join(dir, file), JSON.stringify(row(2)).slice(0, 30))
    // the next write starts a line of its own: its records stay whole
    await Promise.all([3, 4].map((i) => spool.append(row(i))))
    spool.seal()
    const seg = spool.peek()!
    const replayed = new Spool({ dir, fsync: true, segmentRows: 1000, segmentMs: 60_000, capBytes: 1e9, onTorn: (s) => torn.push(s) })
    const back = replayed.peek()!
    expect(back.name).toBe(seg.name)
    expect(replayed.read(back).map((l) => JSON.parse(l).visitor_id)).toEqual(['1', '2', '4', '5'])
    expect(torn).toEqual([seg.name])
    expect(replayed.toBlock(back).rows).toBe(4)
  })
})
