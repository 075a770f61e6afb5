import fs from 'node:fs'
import net from 'node:net'
import { createRequire } from 'node:module'

/**
 * The network (ISP or organisation) an IP belongs to, from the RouteViews + DB-IP ASN
 * ranges shipped in `@ip-location-db/asn` (CC BY 4.0). Ranges are held in typed arrays and
 * found by binary search; IPv6 ranges are compared on their upper 64 bits (allocations are
 * far coarser than /64).
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
    const v4rows = readRanges(dir + 'asn-ipv4-num.csv')
    const v4 = { start: new Uint32Array(v4rows.length), end: new Uint32Array(v4rows.length), org: new Uint32Array(v4rows.length) }
    v4rows.forEach(([s, e, o], i) => {
      v4.start[i] = Number(s)
      v4.end[i] = Number(e)
      v4.org[i] = orgId(o)
    })
    const v6rows = readRanges(dir + 'asn-ipv6-num.csv')
    const v6 = { start: new BigUint64Array(v6rows.length), end: new BigUint64Array(v6rows.length), org: new Uint32Array(v6rows.length) }
    v6rows.forEach(([s, e, o], i) => {
      v6.start[i] = BigInt(s) >> 64n
      v6.end[i] = BigInt(e) >> 64n
      v6.org[i] = orgId(o)
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

/** `start,end,asn,"organisation"` lines → [start, end, organisation]. */
function readRanges(file: string): [string, string, string][] {
  const out: [string, string, string][] = []
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue
    const a = line.indexOf(',')
    const b = line.indexOf(',', a + 1)
    const c = line.indexOf(',', b + 1)
    let org = line.slice(c + 1)
    if (org.startsWith('"')) org = org.slice(1, -1).replace(/""/g, '"')
    out.push([line.slice(0, a), line.slice(a + 1, b), org])
  }
  return out
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
