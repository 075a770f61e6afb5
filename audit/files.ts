import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { rowOf } from '../collector/spool/event-block.ts'
import type { SitePattern } from '../identifiers/site-patterns.ts'
import { FindingTally } from './patterns.ts'
import type { AuditFinding } from './audit.ts'

/** A file the audit reads: the spool's segments (JSON lines) or a log (JSON lines or text). */
export interface AuditFile {
  file: string
  /** How the report names it: `spool/<segment>` or the log's path. */
  label: string
  kind: 'spool' | 'log'
}

/** Spool fields that are not text from a visitor: the visitor hash is a decimal number. */
const SPOOL_SKIPPED_FIELDS = new Set(['visitor_id'])
/** The server's own addresses (it logs where it listens), not a visitor's. */
const OWN_ADDRESS = /^(?:127\.\d+\.\d+\.\d+|0\.0\.0\.0|::1?|0:0:0:0:0:0:0:[01])$/

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/** The server's own address in its log is not a finding. */
const ownAddress = (kind: { placeholder: string }, value: string) => kind.placeholder === '[ip]' && OWN_ADDRESS.test(value)

/** Every segment the spool holds now (`$ANALYTICS_DATA_DIR/spool/*.ndjson`), those set aside as rejected too. */
export function spoolFiles(dataDir: string): AuditFile[] {
  return ['spool', 'spool/rejected'].flatMap((sub) => {
    const dir = path.join(dataDir, sub)
    let names: string[]
    try {
      names = fs.readdirSync(dir)
    } catch {
      return []
    }
    return names
      .filter((n) => n.endsWith('.ndjson'))
      .sort()
      .map((n) => ({ file: path.join(dir, n), label: `${sub}/${n}`, kind: 'spool' as const }))
  })
}

/**
 * The catalogue and the policy's own patterns (`site`), as in the store's scan, over each string
 * of each JSON line (keys of nested objects too; a spool line's values under their columns'
 * names), or over the whole line when it is not JSON.
 * Counts values.
 */
export async function auditFiles(files: AuditFile[], onFile?: (f: AuditFile) => void, site: readonly SitePattern[] = []): Promise<{ findings: AuditFinding[]; files: number }> {
  const tally = new FindingTally(site)
  const record = (where: string, text: string) => tally.add(where, text, 1, ownAddress)
  const walk = (value: unknown, where: string) => {
    if (typeof value === 'string') record(where, value)
    else if (Array.isArray(value)) for (const v of value) walk(v, where)
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        record(where, k)
        walk(v, where)
      }
    }
  }
  let scanned = 0
  for (const f of files) {
    const lines = readline.createInterface({ input: fs.createReadStream(f.file, { encoding: 'utf8' }), crlfDelay: Infinity })
    try {
      for await (const line of lines) {
        if (!line) continue
        let parsed: unknown = undefined
        if (line.startsWith('{') || (f.kind === 'spool' && line.startsWith('['))) {
          try {
            parsed = JSON.parse(line)
          } catch {
            // a torn or plain-text line: scanned as text below
          }
        }
        // a spool line is a row's values by position: each is read under its column's name
        if (Array.isArray(parsed)) parsed = rowOf(parsed)
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
          for (const [field, value] of Object.entries(parsed)) {
            if (f.kind === 'spool' && SPOOL_SKIPPED_FIELDS.has(field)) continue
            // a field's name goes into the report only when it is a plain name, never when it is the finding
            const where = `${f.label} ${FIELD_NAME.test(field) && !tally.holdsAny(field) ? field : '(field)'}`
            record(where, field)
            walk(value, where)
          }
        } else record(f.label, line)
      }
    } catch (err) {
      // a spool segment sent to the store and deleted while being read: nothing left to audit there
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    scanned++
    onFile?.(f)
  }
  return { findings: tally.findings(), files: scanned }
}
