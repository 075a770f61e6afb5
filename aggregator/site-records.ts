import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { InputError } from '../http/errors.ts'
import { scrubIdentifiers } from '../identifiers/catalogue.ts'
import { chTime } from '../store/time.ts'

/** Ids of saved segments, funnels and annotations: 12 hex digits, as goals have. */
export const RECORD_ID = /^[0-9a-f]{12}$/

/** What every saved row carries beside its own fields. */
export interface RecordMeta {
  id: string
  site: string
  created_at: string
  updated_at: string
}

type Stored = Record<string, unknown> & { id: string; site: string; created_ms: number; updated_ms: number }

/** A stored value of a DateTime64 column as an ISO instant. */
const iso = (ms: number) => new Date(Number(ms)).toISOString()

/**
 * What a site's users save beside goals (segments, funnels, annotations), one table each
 * (migration 020), kept like goals: a ReplacingMergeTree by (site, id) versioned by
 * `updated_at`, where a change or a deletion writes the row again, newer (`deleted = 1` for a
 * deletion). Read on every request (a few rows), never cached, so collectors sharing a store agree.
 * `table` and `fields` are this code's own names, never input; values go in as parameters.
 */
export class SiteRecords<Fields extends Record<string, unknown>> {
  private readonly select: string

  constructor(private client: ClickHouseClient, private table: string, private fields: (keyof Fields & string)[], private order: string) {
    this.select = `SELECT id, site, ${fields.join(', ')}, toUnixTimestamp64Milli(created_at) AS created_ms, toUnixTimestamp64Milli(updated_at) AS updated_ms FROM ${table} FINAL`
  }

  /** The site's rows, oldest first (or in `order`); `where` narrows them (SQL over the row, its values in `params`). */
  async list(site: string, where = '1', params: Record<string, unknown> = {}): Promise<(Fields & RecordMeta)[]> {
    const rs = await this.client.query({
      query: `${this.select} WHERE site = {site:String} AND deleted = 0 AND (${where}) ORDER BY ${this.order}`,
      query_params: { ...params, site },
      format: 'JSONEachRow',
    })
    return (await rs.json<Stored>()).map((r) => this.out(r))
  }

  async count(site: string): Promise<number> {
    const rs = await this.client.query({ query: `SELECT count() AS n FROM ${this.table} FINAL WHERE site = {site:String} AND deleted = 0`, query_params: { site }, format: 'JSONEachRow' })
    const [row] = await rs.json<{ n: number | string }>()
    return Number(row?.n ?? 0)
  }

  /** One row by id, of any site unless `site` is given; null when there is none. */
  async get(id: string, site?: string): Promise<(Fields & RecordMeta) | null> {
    const stored = await this.stored(id, site)
    return stored ? this.out(stored) : null
  }

  async add(site: string, fields: Fields): Promise<Fields & RecordMeta> {
    const now = Date.now()
    const id = crypto.randomBytes(6).toString('hex')
    await this.write({ id, site, ...fields, created_ms: now, updated_ms: now }, now, 0)
    return this.out({ id, site, ...fields, created_ms: now, updated_ms: now })
  }

  /** Changes some fields of a row; null when there is none with this id. */
  async change(id: string, fields: Partial<Fields>): Promise<(Fields & RecordMeta) | null> {
    const stored = await this.stored(id)
    if (!stored) return null
    const next = { ...stored, ...fields, updated_ms: this.newer(stored) }
    await this.write(next, next.updated_ms, 0)
    return this.out(next)
  }

  /** Deletes a row; false when there is none with this id. */
  async remove(id: string): Promise<boolean> {
    const stored = await this.stored(id)
    if (!stored) return false
    await this.write(stored, this.newer(stored), 1)
    return true
  }

  private async stored(id: string, site?: string): Promise<Stored | null> {
    const rs = await this.client.query({
      query: `${this.select} WHERE id = {id:String} AND deleted = 0 ${site === undefined ? '' : 'AND site = {site:String}'} LIMIT 1`,
      query_params: { id, ...(site === undefined ? {} : { site }) },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<Stored>()
    return row ?? null
  }

  /** A version newer than the stored one, even if the clock of this collector lags. */
  private newer(stored: Stored): number {
    return Math.max(Date.now(), Number(stored.updated_ms) + 1)
  }

  private async write(row: Stored, updatedMs: number, deleted: 0 | 1): Promise<void> {
    const values: Record<string, unknown> = { id: row.id, site: row.site, created_at: chTime(Number(row.created_ms)), updated_at: chTime(updatedMs), deleted }
    for (const f of this.fields) values[f] = row[f]
    await this.client.insert({ table: this.table, format: 'JSONEachRow', values: [values] })
  }

  private out(r: Stored): Fields & RecordMeta {
    const fields = Object.fromEntries(this.fields.map((f) => [f, r[f]])) as Fields
    return { id: r.id, site: r.site, ...fields, created_at: iso(r.created_ms), updated_at: iso(r.updated_ms) }
  }
}

/** Names and notes users type: no control characters, no personal identifiers (the store holds none). */
export class TextError extends InputError {}

/**
 * `value` trimmed, 1..`max` characters, one line of text without a personal identifier of the
 * catalogue (an e-mail address, a phone number…): a note names a launch, never a person.
 * Throws TextError naming `field`, never quoting the value.
 */
export function plainText(value: string, field: string, max: number): string {
  const text = value.trim()
  if (text === '' || text.length > max) throw new TextError(`${field} is a text of 1 to ${max} characters`)
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(text)) throw new TextError(`${field} is one line of text without control characters`)
  const kinds = new Set<string>()
  scrubIdentifiers(text, [], (kind) => kinds.add(kind.label))
  if (kinds.size) throw new TextError(`${field} may not hold personal data (${[...kinds].join(', ')})`)
  return text
}
