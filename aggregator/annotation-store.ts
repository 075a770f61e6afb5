import type { ClickHouseClient } from '@clickhouse/client'
import { InputError } from '../http/errors.ts'
import { plainText, SiteRecords, type RecordMeta } from './site-records.ts'

/** A dated note on a site's chart (a launch, a campaign): a calendar day of the site's time zone. */
export type Annotation = { date: string; note: string } & RecordMeta

export const NOTE_MAX = 280
export const MAX_ANNOTATIONS_PER_SITE = 1000

export const annotationNote = (note: string) => plainText(note, 'note', NOTE_MAX)

/** `2026-11-29`, a real day between 2000 and 2199 (the days the stats API takes); throws InputError. */
export function annotationDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number)
  const day = new Date(Date.UTC(y, m - 1, d))
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(date) && y >= 2000 && y < 2200 && day.getUTCMonth() === m - 1 && day.getUTCDate() === d
  if (!ok) throw new InputError('date is a day such as 2026-11-29')
  return date
}

/** Annotations per site in the `annotations` table (migration 020). */
export class AnnotationStore {
  private rows: SiteRecords<{ date: string; note: string }>

  constructor(client: ClickHouseClient) {
    this.rows = new SiteRecords(client, 'annotations', ['date', 'note'], 'date, created_at, id')
  }

  /** The site's annotations from `first` to `last` (inclusive ISO days), by date. */
  list(site: string, first: string, last: string): Promise<Annotation[]> {
    return this.rows.list(site, 'date BETWEEN {first:Date} AND {last:Date}', { first, last })
  }

  /** Adds an annotation of already checked date and note; an InputError when the site has as many as it may. */
  async create(site: string, date: string, note: string): Promise<Annotation> {
    if ((await this.rows.count(site)) >= MAX_ANNOTATIONS_PER_SITE) throw new InputError(`a site has at most ${MAX_ANNOTATIONS_PER_SITE} annotations`)
    return this.rows.add(site, { date, note })
  }

  delete(id: string): Promise<boolean> {
    return this.rows.remove(id)
  }
}
