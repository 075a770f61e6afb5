import type { ClickHouseClient } from '@clickhouse/client'
import { chTime } from '../../store/time.ts'
import { groupCells, ImportError, importId, type ParsedImport } from './cells.ts'

/** An import as listed: what it covers and whether its rows count. */
export interface ImportInfo {
  id: string
  site: string
  source: string
  from: string
  to: string
  files: string[]
  /** `complete` (its rows are read), `importing` (being written: not read), `failed` (its rows deleted). */
  state: 'importing' | 'complete' | 'failed'
  created_at: string
}

/** The imports whose rows are read: complete and not deleted (SQL over `imports`, site as {site:String}). */
export const COMPLETE_IMPORTS = `SELECT id FROM imports FINAL WHERE site = {site:String} AND state = 'complete' AND deleted = 0`

const INSERT_BATCH = 50_000

/**
 * The imports of every site (migration 025). An import is written under its id, read only once it
 * is marked complete, and its rows are deleted when it fails or is deleted, so nothing half-imported
 * ever counts. One import of a site at a time (in this process).
 */
export class ImportStore {
  /** Versions of `imports` rows: strictly increasing, so the newest wins in FINAL even within a millisecond. */
  private clock = 0
  private readonly running = new Map<string, Promise<unknown>>()

  constructor(private readonly client: ClickHouseClient) {}

  async list(site: string): Promise<ImportInfo[]> {
    const rs = await this.client.query({
      query: `SELECT id, site, source, toString(first_day) AS from, toString(last_day) AS to, files, state,
                formatDateTime(created_at, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS created_at
              FROM imports FINAL WHERE site = {site:String} AND deleted = 0 ORDER BY first_day, id`,
      query_params: { site },
      format: 'JSONEachRow',
    })
    return rs.json<ImportInfo>()
  }

  /**
   * Stores a checked export as one import of `site`: marked `importing`, any rows under its id
   * deleted (an earlier attempt's, or the same export imported before: it is replaced, never
   * doubled), the rows written and counted, then marked `complete`. A failure deletes its rows.
   * An export overlapping another import's days is refused: imported days would be counted twice.
   */
  async import(site: string, parsed: ParsedImport, files: ReadonlyMap<string, Uint8Array>): Promise<{ info: ImportInfo; replaced: boolean }> {
    const id = importId(site, files)
    return this.serially(site, async () => {
      const existing = await this.list(site)
      const before = existing.find((i) => i.id === id)
      const overlapping = existing.find((i) => i.id !== id && i.state === 'complete' && i.from <= parsed.last && parsed.first <= i.to)
      if (overlapping) throw new ImportError(`this export's days (${parsed.first} to ${parsed.last}) overlap import ${overlapping.id} (${overlapping.from} to ${overlapping.to}): delete that one first`)
      const createdAt = before ? Date.parse(before.created_at) : Date.now()
      const mark = (state: ImportInfo['state']) => this.write({ id, site, source: parsed.source, first: parsed.first, last: parsed.last, files: parsed.files, state, createdAt })
      await mark('importing')
      await this.deleteRows(site, id)
      try {
        const rows = groupCells(parsed.cells).map((c) => ({ site, import_id: id, property: c.property, day: c.day, value: c.value, ...c.counts }))
        for (let i = 0; i < rows.length; i += INSERT_BATCH) await this.client.insert({ table: 'imported_daily', values: rows.slice(i, i + INSERT_BATCH), format: 'JSONEachRow' })
        const stored = await this.rowCount(site, id)
        if (stored !== rows.length) throw new Error(`the store holds ${stored} of the import's ${rows.length} rows`)
        await mark('complete')
      } catch (err) {
        await this.deleteRows(site, id).catch(() => undefined)
        await mark('failed').catch(() => undefined)
        throw err
      }
      const [info] = (await this.list(site)).filter((i) => i.id === id)
      return { info, replaced: before?.state === 'complete' }
    })
  }

  /** Deletes an import: it stops counting at once, then its rows leave the store. False when there is none. */
  async delete(site: string, id: string): Promise<boolean> {
    return this.serially(site, async () => {
      const info = (await this.list(site)).find((i) => i.id === id)
      if (!info) return false
      await this.write({ id, site, source: info.source, first: info.from, last: info.to, files: info.files, state: info.state, createdAt: Date.parse(info.created_at), deleted: 1 })
      await this.deleteRows(site, id)
      return true
    })
  }

  private async serially<T>(site: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.running.get(site) ?? Promise.resolve()
    const next = prev.catch(() => undefined).then(fn)
    this.running.set(site, next)
    try {
      return await next
    } finally {
      if (this.running.get(site) === next) this.running.delete(site)
    }
  }

  private async write(r: { id: string; site: string; source: string; first: string; last: string; files: string[]; state: ImportInfo['state']; createdAt: number; deleted?: number }) {
    this.clock = Math.max(this.clock + 1, Date.now())
    await this.client.insert({
      table: 'imports',
      values: [{ id: r.id, site: r.site, source: r.source, first_day: r.first, last_day: r.last, files: r.files, state: r.state, created_at: chTime(r.createdAt), updated_at: chTime(this.clock), deleted: r.deleted ?? 0 }],
      format: 'JSONEachRow',
    })
  }

  private async rowCount(site: string, id: string): Promise<number> {
    const rs = await this.client.query({
      query: 'SELECT count() AS n FROM imported_daily WHERE site = {site:String} AND import_id = {id:String}',
      query_params: { site, id },
      format: 'JSONEachRow',
    })
    return Number((await rs.json<{ n: number | string }>())[0].n)
  }

  private async deleteRows(site: string, id: string) {
    if ((await this.rowCount(site, id)) === 0) return
    await this.client.command({
      query: 'ALTER TABLE imported_daily DELETE WHERE site = {site:String} AND import_id = {id:String}',
      query_params: { site, id },
      clickhouse_settings: { mutations_sync: '2' },
    })
  }
}
