import fs from 'node:fs'
import net from 'node:net'
import { createRequire } from 'node:module'

/**
 * The network (ISP or organisation) an IP belongs to, from the RouteViews + DB-IP ASN
 * ranges shipped in `@ip-location-db/asn` (CC BY 4.0). Ranges are held in typed arrays and
 * found by binary search; IPv6 ranges are compared on their upper 64 bits (allocations are
 * far coarser than /64). The CSV files (32 MB) are parsed as bytes straight into those arrays:
 * lines and arrays of strings made the heap grow by 200 MB, and kept the files' text alive.
 */
export class NetworkLocator {
  private constructor(
    private v4: { start: Uint32Array; end: Uint32Array; org: Uint32Array },
    private v6: { start: BigUint64Array; end: BigUint64Array; org: Uint32Array },
    private names: string[],
  ) {}

  static open(): NetworkLocator {
    const require = createRequire(import.meta.url)
    const dir = require.resolve('@ip-location-db/asn/package.json').replace(/package\.json$/, '')
    const names: string[] = []
    const index = new Map<string, number>()
    const orgId = (name: string) => {
      let id = index.get(name)
      if (id === undefined) {
        id = names.length
        names.push(name)
        index.set(name, id)
      }
      return id
    }
    const v4csv = fs.readFileSync(dir + 'asn-ipv4-num.csv')
    const v4lines = lineCount(v4csv)
    const v4 = { start: new Uint32Array(v4lines), end: new Uint32Array(v4lines), org: new Uint32Array(v4lines) }
    eachRange(v4csv, (i, start, end, org) => {
      v4.start[i] = Number(start)
      v4.end[i] = Number(end)
      v4.org[i] = orgId(org)
    })
    const v6csv = fs.readFileSync(dir + 'asn-ipv6-num.csv')
    const v6lines = lineCount(v6csv)
    const v6 = { start: new BigUint64Array(v6lines), end: new BigUint64Array(v6lines), org: new Uint32Array(v6lines) }
    eachRange(v6csv, (i, start, end, org) => {
      v6.start[i] = BigInt(start) >> 64n
      v6.end[i] = BigInt(end) >> 64n
      v6.org[i] = orgId(org)
    })
    return new NetworkLocator(v4, v6, names)
  }

  /** The organisation's name, or '' when the address is in no announced range. */
  locate(ip: string): string {
    const family = net.isIP(ip)
    if (family === 4) {
      const n = ipv4ToNumber(ip)
      const i = search(this.v4.start, n)
      return i >= 0 && n <= this.v4.end[i] ? this.names[this.v4.org[i]] : ''
    }
    if (family === 6) {
      const mapped = ip.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i)
      if (mapped) return this.locate(mapped[1])
      const hi = ipv6High64(ip)
      const i = search(this.v6.start, hi)
      return i >= 0 && hi <= this.v6.end[i] ? this.names[this.v6.org[i]] : ''
    }
    return ''
  }
}

const NEWLINE = 0x0a
const COMMA = 0x2c
const QUOTE = 0x22

/** Lines of a CSV file (its last line may lack the newline). */
function lineCount(csv: Buffer): number {
  let n = 0
  for (let at = csv.indexOf(NEWLINE); at >= 0; at = csv.indexOf(NEWLINE, at + 1)) n++
  return csv.length > 0 && csv[csv.length - 1] !== NEWLINE ? n + 1 : n
}

/** Each `start,end,asn,"organisation"` line: its number, start, end and organisation. */
function eachRange(csv: Buffer, range: (i: number, start: string, end: string, org: string) => void): void {
  let i = 0
  for (let from = 0; from < csv.length; ) {
    let to = csv.indexOf(NEWLINE, from)
    if (to < 0) to = csv.length
    if (to > from) {
      const a = csv.indexOf(COMMA, from)
      const b = csv.indexOf(COMMA, a + 1)
      const c = csv.indexOf(COMMA, b + 1)
      const org = csv[c + 1] === QUOTE ? csv.toString('utf8', c + 2, to - 1).replace(/""/g, '"') : csv.toString('utf8', c + 1, to)
      range(i++, csv.toString('latin1', from, a), csv.toString('latin1', a + 1, b), org)
    }
    from = to + 1
  }
}

function search<T extends number | bigint>(starts: { length: number; [i: number]: T }, value: T): number {
  let lo = 0
  let hi = starts.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (starts[mid] <= value) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}

function ipv4ToNumber(ip: string): number {
  const [a, b, c, d] = ip.split('.').map(Number)
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d
}

function ipv6High64(ip: string): bigint {
  const [head, tail = ''] = ip.split('::')
  const h = head ? head.split(':') : []
  const t = ip.includes('::') ? (tail ? tail.split(':') : []) : []
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  let v = 0n
  for (let i = 0; i < 4; i++) v = (v << 16n) | BigInt(parseInt(groups[i] || '0', 16))
  return v
}
