/**
 * ClickHouse's Native format, written column by column in JS: the store parses a Native block
 * at under 1 µs a row, where a JSONEachRow row costs it 7–10 µs (`npm run bench` prints both). A
 * block is its column count and row count (unsigned LEB128), then for each column its name,
 * its type and all its values; a String is its UTF-8 length (LEB128) and bytes, integers are
 * little-endian, a Map is its rows' cumulative sizes (UInt64) then all keys then all values, a
 * LowCardinality(String) its distinct values then an index a row.
 */

import type { DayRows } from './writes.ts'

/** The column types written here; where a table's column differs, the store converts. */
export type NativeType = 'String' | 'LowCardinality(String)' | 'UInt8' | 'UInt32' | 'UInt64' | "DateTime64(3, 'UTC')" | 'Map(String, String)'

/** A value the encoder cannot write as its column's type: the block is refused as data, like a row the store cannot parse. */
export class NativeEncodeError extends Error {
  /** The store's name for data it refuses (store/errors.ts `isRefusedData`). */
  readonly type = 'INCORRECT_DATA'
  constructor(column: string, type: NativeType) {
    // names the column and its type, never the value (it may be a visitor's text)
    super(`column ${column}: a value that is not a ${type}`)
  }
}

const TWO_32 = 2 ** 32

/** Bytes appended at the end of a buffer that doubles when full. */
class ByteSink {
  buf = Buffer.allocUnsafe(1024)
  pos = 0

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  varint(n: number): void {
    this.reserve(10)
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.pos++] = n
  }

  string(s: string): void {
    const n = s.length
    if (n <= 42) {
      // at most 126 UTF-8 bytes: one length byte; short ASCII is copied here, the rest by Buffer#write
      this.reserve(1 + 3 * n)
      const buf = this.buf
      const start = this.pos + 1
      let p = start
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) {
          p = start + buf.write(s, start)
          break
        }
        buf[p++] = c
      }
      buf[this.pos] = p - start
      this.pos = p
    } else {
      const bytes = Buffer.byteLength(s)
      this.varint(bytes)
      this.reserve(bytes)
      this.pos += this.buf.write(s, this.pos)
    }
  }

  uint32(n: number): void {
    this.reserve(4)
    this.buf.writeUInt32LE(n, this.pos)
    this.pos += 4
  }

  /** A 64-bit integer from its two 32-bit halves. */
  int64(lo: number, hi: number): void {
    this.reserve(8)
    this.buf.writeUInt32LE(lo, this.pos)
    this.buf.writeUInt32LE(hi, this.pos + 4)
    this.pos += 8
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos)
  }
}

/** One column of a block being written. */
abstract class Column {
  constructor(
    readonly name: string,
    readonly type: NativeType,
  ) {}
  abstract push(value: unknown): void
  abstract parts(): Buffer[]
  protected refuse(): never {
    throw new NativeEncodeError(this.name, this.type)
  }
}

class StringColumn extends Column {
  private sink = new ByteSink()
  push(value: unknown): void {
    if (typeof value === 'string') this.sink.string(value)
    else if (value === undefined || value === null) this.sink.string('')
    else this.refuse()
  }
  parts(): Buffer[] {
    return [this.sink.bytes()]
  }
}

/**
 * Text with few distinct values, as a LowCardinality(String) column holds it: each distinct
 * value once, then a row's index into them (UInt8, UInt16 or UInt32 as their number needs).
 * A row costs a Map lookup instead of its bytes, and the store takes the column as it is.
 */
class LowCardinalityColumn extends Column {
  private ids = new Map<string, number>()
  private keys = new ByteSink()
  private rows: number[] = []
  push(value: unknown): void {
    const s = value === undefined || value === null ? '' : value
    if (typeof s !== 'string') this.refuse()
    let id = this.ids.get(s)
    if (id === undefined) {
      id = this.ids.size
      this.ids.set(s, id)
      this.keys.string(s)
    }
    this.rows.push(id)
  }
  parts(): Buffer[] {
    const distinct = this.ids.size
    const width = distinct <= 0x100 ? 1 : distinct <= 0x10000 ? 2 : 4
    const head = new ByteSink()
    // the keys' serialisation version (1: shared dictionaries with additional keys), then the
    // indexes' type (0 UInt8, 1 UInt16, 2 UInt32) with "has additional keys" and "update dictionary"
    head.int64(1, 0)
    head.int64((width === 1 ? 0 : width === 2 ? 1 : 2) | (1 << 9) | (1 << 10), 0)
    head.int64(distinct, 0)
    const indexes = Buffer.allocUnsafe(8 + width * this.rows.length)
    indexes.writeUInt32LE(this.rows.length, 0)
    indexes.writeUInt32LE(0, 4)
    let at = 8
    for (const id of this.rows) {
      if (width === 1) indexes[at] = id
      else if (width === 2) indexes.writeUInt16LE(id, at)
      else indexes.writeUInt32LE(id, at)
      at += width
    }
    return [head.bytes(), this.keys.bytes(), indexes]
  }
}

class UIntColumn extends Column {
  private sink = new ByteSink()
  constructor(
    name: string,
    type: 'UInt8' | 'UInt32',
    private readonly max: number,
    private readonly fallback: number,
  ) {
    super(name, type)
  }
  push(value: unknown): void {
    const n = value === undefined || value === null ? this.fallback : value
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > this.max) this.refuse()
    if (this.type === 'UInt8') {
      this.sink.reserve(1)
      this.sink.buf[this.sink.pos++] = n
    } else this.sink.uint32(n)
  }
  parts(): Buffer[] {
    return [this.sink.bytes()]
  }
}

/** A UInt64 given as its decimal string (JSON cannot carry it as a number). */
class UInt64Column extends Column {
  private sink = new ByteSink()
  push(value: unknown): void {
    // 0 is the common value of several columns (no revenue, no visit)
    if (value === undefined || value === null || value === '0') return this.sink.int64(0, 0)
    const s = typeof value === 'number' ? String(value) : value
    if (typeof s !== 'string' || s.length === 0 || s.length > 20) this.refuse()
    // No BigInt on this path: the upper digits and the last nine as exact doubles, then the
    // product upper × 10⁹ in 16-bit pieces so that every partial sum stays below 2⁵³.
    const split = s.length - 9
    let upper = 0
    let lower = 0
    for (let i = 0; i < s.length; i++) {
      const digit = s.charCodeAt(i) - 48
      if (digit < 0 || digit > 9) this.refuse()
      if (i < split) upper = upper * 10 + digit
      else lower = lower * 10 + digit
    }
    const upperHigh = Math.floor(upper / 65536)
    const a = (upper % 65536) * 1e9 + lower
    const b = upperHigh * 1e9
    const t = a + (b % 65536) * 65536
    const hi = Math.floor(b / 65536) + Math.floor(t / TWO_32)
    if (hi >= TWO_32) this.refuse()
    this.sink.int64(t % TWO_32, hi)
  }
  parts(): Buffer[] {
    return [this.sink.bytes()]
  }
}

/** Milliseconds since the epoch, as DateTime64(3) stores them: an Int64. */
class MillisColumn extends Column {
  private sink = new ByteSink()
  push(value: unknown): void {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.refuse()
    this.sink.int64(value % TWO_32, Math.floor(value / TWO_32))
  }
  parts(): Buffer[] {
    return [this.sink.bytes()]
  }
}

class StringMapColumn extends Column {
  private sizes = new ByteSink()
  private keys = new ByteSink()
  private values = new ByteSink()
  private total = 0
  push(value: unknown): void {
    if (value !== undefined && value !== null) {
      if (typeof value !== 'object' || Array.isArray(value)) this.refuse()
      for (const key in value) {
        const v = (value as Record<string, unknown>)[key]
        if (typeof v !== 'string') this.refuse()
        this.keys.string(key)
        this.values.string(v)
        this.total++
      }
    }
    this.sizes.int64(this.total % TWO_32, Math.floor(this.total / TWO_32))
  }
  parts(): Buffer[] {
    return [this.sizes.bytes(), this.keys.bytes(), this.values.bytes()]
  }
}

function column(name: string, type: NativeType, fallback: number): Column {
  switch (type) {
    case 'String':
      return new StringColumn(name, type)
    case 'LowCardinality(String)':
      return new LowCardinalityColumn(name, type)
    case 'UInt8':
      return new UIntColumn(name, type, 0xff, fallback)
    case 'UInt32':
      return new UIntColumn(name, type, 0xffffffff, fallback)
    case 'UInt64':
      return new UInt64Column(name, type)
    case "DateTime64(3, 'UTC')":
      return new MillisColumn(name, type)
    case 'Map(String, String)':
      return new StringMapColumn(name, type)
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
const appenders = new Map<string, (row: never, cols: Column[]) => void>()

/**
 * `cols[0].push(row.site); cols[1].push(row.ts); …` compiled once per list of columns (as
 * fast-json-stringify does for Fastify): named property reads and one column class per call
 * site, where a loop over the names made every read a slow keyed lookup (2× the encoding time).
 */
function rowAppender<Row>(columns: readonly string[]): (row: Row, cols: Column[]) => void {
  const key = columns.join(',')
  let fn = appenders.get(key)
  if (!fn) {
    for (const c of columns) if (!IDENTIFIER.test(c)) throw new Error(`not a column name: ${c}`)
    fn = new Function('row', 'cols', columns.map((c, i) => `cols[${i}].push(row.${c});`).join('\n')) as (row: never, cols: Column[]) => void
    appenders.set(key, fn)
  }
  return fn as (row: Row, cols: Column[]) => void
}

export interface ColumnSpec {
  type: NativeType
  /** For an integer column: the value of a row that lacks it (the table's DEFAULT). */
  default?: number
}

/** A finished block: what `INSERT INTO t (columns) … FORMAT Native` takes. */
export interface NativeBlock {
  columns: readonly string[]
  rows: number
  bytes: Buffer
  /** An events block's rows by UTC day (collector/spool/event-block.ts): the embedded store logs them once the block is in (store/writes.ts). */
  days?: DayRows
}

/**
 * Rows appended one at a time, kept as columns; `finish` lays them out as one Native block.
 * A value of the wrong type throws NativeEncodeError and leaves the block unusable.
 */
export class NativeBlockWriter<Row extends object> {
  private readonly cols: Column[]
  readonly columns: readonly string[]
  private readonly appendRow: (row: Row, cols: Column[]) => void
  private count = 0

  constructor(schema: { readonly [K in keyof Row]: ColumnSpec }) {
    this.cols = Object.entries<ColumnSpec>(schema).map(([name, spec]) => column(name, spec.type, spec.default ?? 0))
    this.columns = this.cols.map((c) => c.name)
    this.appendRow = rowAppender(this.columns)
  }

  get rows(): number {
    return this.count
  }

  append(row: Row): void {
    this.appendRow(row, this.cols)
    this.count++
  }

  finish(): NativeBlock {
    const head = new ByteSink()
    head.varint(this.cols.length)
    head.varint(this.count)
    const parts: Buffer[] = []
    for (const c of this.cols) {
      const h = new ByteSink()
      h.string(c.name)
      h.string(c.type)
      parts.push(h.bytes(), ...c.parts())
    }
    return { columns: this.columns, rows: this.count, bytes: Buffer.concat([head.bytes(), ...parts]) }
  }
}
