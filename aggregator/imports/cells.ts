import { createHash } from 'node:crypto'
import { InputError } from '../../http/errors.ts'

/** The counts another tool gives for one day and value: per-day sums, never distinct over days. */
export interface Counts {
  visitors: number
  visits: number
  pageviews: number
  bounces: number
  /** Seconds, summed over the visits. */
  visit_duration: number
  events: number
}

/** One day of one value of a property (`visitors` with value '' is the day's totals). */
export interface ImportedCell {
  property: string
  /** YYYY-MM-DD, in the site's time zone as the tool counted it. */
  day: string
  value: string
  counts: Counts
}

/** An export read and checked, not yet stored. */
export interface ParsedImport {
  source: 'plausible'
  files: string[]
  first: string
  last: string
  cells: ImportedCell[]
}

/** A file that cannot be imported: a 400 naming the file, and the line and column where known. */
export class ImportError extends InputError {
  constructor(message: string, details: { file?: string; line?: number; column?: string } = {}) {
    super(message)
    this.details = details
  }
}

export const COUNT_NAMES = ['visitors', 'visits', 'pageviews', 'bounces', 'visit_duration', 'events'] as const satisfies readonly (keyof Counts)[]

/** The cells with one per property, day and value: rows the tool split further (a source by campaign) are added up. */
export function groupCells(cells: ImportedCell[]): ImportedCell[] {
  const out = new Map<string, ImportedCell>()
  for (const c of cells) {
    const key = JSON.stringify([c.property, c.day, c.value])
    const had = out.get(key)
    if (!had) out.set(key, { ...c, counts: { ...c.counts } })
    else for (const n of COUNT_NAMES) had.counts[n] += c.counts[n]
  }
  return [...out.values()]
}

/**
 * An import's id: the hash of the site and of every file's name and content. The same export
 * imported again (as the zip or as its files) has the same id, so it replaces itself.
 */
export function importId(site: string, files: ReadonlyMap<string, Uint8Array>): string {
  const h = createHash('sha256').update(site)
  for (const name of [...files.keys()].sort()) h.update(`\0${name}\0`).update(createHash('sha256').update(files.get(name)!).digest())
  return h.digest('hex').slice(0, 24)
}
