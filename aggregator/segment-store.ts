import type { ClickHouseClient } from '@clickhouse/client'
import { FilterError, parseFilters } from './stats/filters.ts'
import { InputError } from '../http/errors.ts'
import { plainText, SiteRecords, type RecordMeta } from './site-records.ts'

/** A saved segment: a named set of filters in the stats API's own syntax (`country==DE;page~/blog`). */
export type Segment = { name: string; filters: string } & RecordMeta

export const SEGMENT_NAME_MAX = 80
export const MAX_SEGMENTS_PER_SITE = 100

/**
 * Filters as a segment keeps them: checked by the stats API's own parser (so a saved segment is
 * valid wherever filters are taken) and written back in one spelling. Throws FilterError.
 */
export function segmentFilters(raw: string): string {
  const filters = parseFilters(raw)
  if (!filters.length) throw new FilterError('a segment has at least one filter, such as country==DE')
  return filters.map((f) => `${f.name}${f.op}${f.values.map((v) => (v === '' ? '(none)' : v)).join('|')}`).join(';')
}

export const segmentName = (name: string) => plainText(name, 'name', SEGMENT_NAME_MAX)

const sameName = (a: string, b: string) => a.toLocaleLowerCase('en') === b.toLocaleLowerCase('en')

/** Segments per site in the `segments` table (migration 020), names unique per site. */
export class SegmentStore {
  private rows: SiteRecords<{ name: string; filters: string }>

  constructor(client: ClickHouseClient) {
    this.rows = new SiteRecords(client, 'segments', ['name', 'filters'], 'created_at, id')
  }

  list(site: string): Promise<Segment[]> {
    return this.rows.list(site)
  }

  /** Adds a segment of already checked name and filters; an InputError when the name is taken or the site has as many as it may. */
  async create(site: string, name: string, filters: string): Promise<Segment> {
    const existing = await this.list(site)
    if (existing.some((s) => sameName(s.name, name))) throw new InputError('this site already has a segment of that name')
    if (existing.length >= MAX_SEGMENTS_PER_SITE) throw new InputError(`a site has at most ${MAX_SEGMENTS_PER_SITE} segments`)
    return this.rows.add(site, { name, filters })
  }

  /** Renames a segment or changes its filters; null when there is none with this id. */
  async update(id: string, change: { name?: string; filters?: string }): Promise<Segment | null> {
    const current = await this.rows.get(id)
    if (!current) return null
    if (change.name !== undefined && !sameName(change.name, current.name)) {
      if ((await this.list(current.site)).some((s) => sameName(s.name, change.name!))) throw new InputError('this site already has a segment of that name')
    }
    return this.rows.change(id, change)
  }

  delete(id: string): Promise<boolean> {
    return this.rows.remove(id)
  }
}
