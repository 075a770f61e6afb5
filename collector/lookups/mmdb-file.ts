import fs from 'node:fs'
import net from 'node:net'

/** The bytes that start an MMDB file's metadata, near its end. */
const METADATA_MARKER = Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1')
const PAGE = 4096
/** Pages kept in memory: the upper levels of the search tree and the records read recently. */
const PAGES_CACHED = 2048

/**
 * A MaxMind DB file (https://maxmind.github.io/MaxMind-DB/) read where a lookup needs it, a
 * 4 KiB page at a time through a small LRU, instead of whole into memory: a lookup walks one
 * path of the search tree (at most 32 or 128 nodes, the upper ones shared by every lookup and
 * so kept in memory) and decodes one record. The operating system's page cache holds the rest
 * of the file, outside the process. Only what the geography records use is decoded.
 */
export class MmdbFile {
  /** Pages by index, least recently used first; `used` is when a page was last moved to the end. */
  private pages = new Map<number, { bytes: Buffer<ArrayBufferLike>; used: number }>()
  private clock = 0
  /** The page read last: a node's bytes and most of a record's lie in one page. */
  private lastIndex = -1
  private lastPage: Buffer<ArrayBufferLike> = Buffer.alloc(0)
  private readonly nodeCount: number
  private readonly recordSize: number
  private readonly ipVersion: number
  private readonly treeSize: number
  /** Where IPv4 addresses start in an IPv6 tree: the node after 96 zero bits. */
  private readonly ipv4Start: number

  private constructor(private fd: number, metadata: Record<string, unknown>) {
    this.nodeCount = Number(metadata.node_count)
    this.recordSize = Number(metadata.record_size)
    this.ipVersion = Number(metadata.ip_version)
    if (![24, 28, 32].includes(this.recordSize) || !this.nodeCount) throw new Error('not a MaxMind DB file this reader knows')
    this.treeSize = (this.nodeCount * this.recordSize) / 4
    let node = 0
    if (this.ipVersion === 6) for (let i = 0; i < 96 && node < this.nodeCount; i++) node = this.child(node, 0)
    this.ipv4Start = node
  }

  static open(file: string): MmdbFile {
    const fd = fs.openSync(file, 'r')
    try {
      const size = fs.fstatSync(fd).size
      const tailSize = Math.min(size, 128 * 1024)
      const tail = Buffer.alloc(tailSize)
      fs.readSync(fd, tail, 0, tailSize, size - tailSize)
      const at = tail.lastIndexOf(METADATA_MARKER)
      if (at < 0) throw new Error(`${file}: not a MaxMind DB file (no metadata)`)
      const meta = new Decoder((offset) => tail[offset], (start, end) => tail.subarray(start, end), at + METADATA_MARKER.length)
      return new MmdbFile(fd, meta.value(at + METADATA_MARKER.length) as Record<string, unknown>)
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
  }

  /** The record for an address (of the file's family, or IPv4 in an IPv6 file), or null. */
  get(ip: string): unknown {
    const v4 = net.isIPv4(ip)
    if (!v4 && !net.isIPv6(ip)) return null
    if (!v4 && this.ipVersion === 4) return null
    const bytes = v4 ? ipv4Bytes(ip) : ipv6Bytes(ip)
    let node = v4 && this.ipVersion === 6 ? this.ipv4Start : 0
    for (let i = 0; i < bytes.length * 8 && node < this.nodeCount; i++) node = this.child(node, (bytes[i >> 3] >> (7 - (i & 7))) & 1)
    if (node <= this.nodeCount) return null // an empty branch, or a prefix the tree does not end in
    const dataStart = this.treeSize + 16
    const decoder = new Decoder((offset) => this.byte(offset), (start, end) => this.slice(start, end), dataStart)
    return decoder.value(node - this.nodeCount - 16 + dataStart)
  }

  close(): void {
    fs.closeSync(this.fd)
    this.pages.clear()
  }

  private child(node: number, bit: number): number {
    const size = this.recordSize
    const at = (node * size) / 4
    if (size === 24) return bit ? this.uint(at + 3, 3) : this.uint(at, 3)
    if (size === 32) return bit ? this.uint(at + 4, 4) : this.uint(at, 4)
    // 28 bits: the middle byte's high nibble tops the left record, its low nibble the right
    const middle = this.byte(at + 3)
    return bit ? (middle & 0x0f) * 0x1000000 + this.uint(at + 4, 3) : (middle >> 4) * 0x1000000 + this.uint(at, 3)
  }

  private uint(offset: number, n: number): number {
    let v = 0
    for (let i = 0; i < n; i++) v = v * 256 + this.byte(offset + i)
    return v
  }

  private page(index: number): Buffer {
    const clock = ++this.clock
    const hit = this.pages.get(index)
    if (hit) {
      // moved to the end (most recently used) only once it has aged: hot pages are not re-inserted on every read
      if (clock - hit.used > PAGES_CACHED / 2) {
        this.pages.delete(index)
        this.pages.set(index, hit)
        hit.used = clock
      }
      return hit.bytes
    }
    let bytes: Buffer<ArrayBufferLike>
    if (this.pages.size >= PAGES_CACHED) {
      // the least recently used page's buffer is read into again
      const [oldest, evicted] = this.pages.entries().next().value!
      this.pages.delete(oldest)
      if (oldest === this.lastIndex) this.lastIndex = -1
      bytes = evicted.bytes
    } else bytes = Buffer.allocUnsafe(PAGE)
    const n = fs.readSync(this.fd, bytes, 0, PAGE, index * PAGE)
    bytes.fill(0, n)
    this.pages.set(index, { bytes, used: clock })
    return bytes
  }

  private byte(offset: number): number {
    const index = Math.floor(offset / PAGE)
    if (index !== this.lastIndex) {
      this.lastPage = this.page(index)
      this.lastIndex = index
    }
    return this.lastPage[offset - index * PAGE]
  }

  private slice(start: number, end: number): Buffer {
    const first = Math.floor(start / PAGE)
    if (Math.floor((end - 1) / PAGE) === first) return this.page(first).subarray(start % PAGE, start % PAGE + (end - start))
    const out = Buffer.alloc(end - start)
    for (let i = 0; i < out.length; i++) out[i] = this.byte(start + i)
    return out
  }
}

/** The MaxMind DB data format: the types a geography record uses. */
class Decoder {
  constructor(
    private byte: (offset: number) => number,
    private slice: (start: number, end: number) => Buffer,
    /** Where the data section starts: pointers count from here. */
    private base: number,
  ) {}

  value(offset: number): unknown {
    return this.decode(offset)[0]
  }

  /** The value at `offset` and the offset after it. */
  private decode(offset: number): [unknown, number] {
    const control = this.byte(offset++)
    let type = control >> 5
    if (type === 1) {
      // a pointer: the value is elsewhere, decoding goes on after the pointer itself
      const size = (control >> 3) & 3
      let p = size === 3 ? 0 : control & 7
      for (let i = 0; i <= size; i++) p = p * 256 + this.byte(offset++)
      p += [0, 2048, 526336, 0][size]
      return [this.decode(this.base + p)[0], offset]
    }
    if (type === 0) type = 7 + this.byte(offset++)
    let size = control & 0x1f
    if (size >= 29) {
      const extra = size - 28
      let n = 0
      for (let i = 0; i < extra; i++) n = n * 256 + this.byte(offset++)
      size = [0, 29, 285, 65821][extra] + n
    }
    switch (type) {
      case 2: // UTF-8 string
        return [this.slice(offset, offset + size).toString('utf8'), offset + size]
      case 3: // double
        return [this.slice(offset, offset + 8).readDoubleBE(0), offset + 8]
      case 15: // float
        return [this.slice(offset, offset + 4).readFloatBE(0), offset + 4]
      case 4: // bytes
        return [Buffer.from(this.slice(offset, offset + size)), offset + size]
      case 5: // uint16
      case 6: // uint32
      case 8: {
        // int32: fewer than 4 bytes are a positive number
        let n = 0
        for (let i = 0; i < size; i++) n = n * 256 + this.byte(offset + i)
        return [type === 8 ? n | 0 : n, offset + size]
      }
      case 9: // uint64
      case 10: {
        // uint128
        let n = 0n
        for (let i = 0; i < size; i++) n = (n << 8n) | BigInt(this.byte(offset + i))
        return [n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n, offset + size]
      }
      case 7: {
        // map
        const map: Record<string, unknown> = {}
        for (let i = 0; i < size; i++) {
          const [key, afterKey] = this.decode(offset)
          const [value, afterValue] = this.decode(afterKey)
          map[String(key)] = value
          offset = afterValue
        }
        return [map, offset]
      }
      case 11: {
        // array
        const list: unknown[] = []
        for (let i = 0; i < size; i++) {
          const [value, after] = this.decode(offset)
          list.push(value)
          offset = after
        }
        return [list, offset]
      }
      case 14: // boolean: the size is the value
        return [size !== 0, offset]
      default:
        throw new Error(`MaxMind DB: data type ${type} is not read here`)
    }
  }
}

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number)
}

function ipv6Bytes(ip: string): number[] {
  const mapped = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(ip)
  // an IPv4 tail (::ffff:1.2.3.4) is two groups
  const text = mapped ? `${mapped[1]}${((a) => `${((a[0] << 8) | a[1]).toString(16)}:${((a[2] << 8) | a[3]).toString(16)}`)(ipv4Bytes(mapped[2]))}` : ip
  const [head, tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail === undefined ? [] : tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  const bytes: number[] = []
  for (const g of groups) {
    const v = parseInt(g, 16)
    bytes.push(v >> 8, v & 0xff)
  }
  return bytes
}
