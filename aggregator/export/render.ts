import type { Readable } from 'node:stream'
import type { ClickHouseClient } from '@clickhouse/client'
import type { ExportTable } from './tables.ts'

/** ClickHouse output formats by the export's `format`. */
export const CLICKHOUSE_FORMATS = { csv: 'CSVWithNames', json: 'JSONEachRow', parquet: 'Parquet' } as const
export type TableFormat = keyof typeof CLICKHOUSE_FORMATS

/** What a spreadsheet reads as the start of a formula (OWASP, CSV injection): `=`, `+`, `-`, `@`, tab, carriage return. */
const FORMULA_START = /^[=+\-@\t\r]/

/** A text cell a spreadsheet would run as a formula, with a leading `'` that makes it text. */
export function neutraliseFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value
}

/**
 * Event names, UTM values, props and referrers arrive unauthenticated: in a CSV (alone or in
 * the zip) every text cell that could start a formula is neutralised. JSON and Parquet are
 * data formats that no spreadsheet evaluates, and stay exact.
 */
function neutraliseFormulas(table: ExportTable): ExportTable['rows'] {
  const text = table.columns.filter((c) => /String/.test(c.type)).map((c) => c.name)
  return table.rows.map((row) => {
    const out = { ...row }
    for (const name of text) {
      const v = out[name]
      if (typeof v === 'string') out[name] = neutraliseFormula(v)
    }
    return out
  })
}

/**
 * Writes a table in one of ClickHouse's own output formats: the rows (already thresholded and
 * noised) go in as a JSONEachRow query parameter, read back by the `format()` table function
 * with explicit column types (so a withheld value is NULL and Parquet gets real types), and
 * ClickHouse writes them out. Nothing is inserted; no value and no column name enters the SQL
 * text. `exec` hands back the raw bytes, which is what a binary format like Parquet needs.
 */
export async function renderTable(client: ClickHouseClient, table: ExportTable, format: TableFormat): Promise<Readable> {
  // Column names are backquoted inside the structure string (`prop:plan`); properties never hold a backquote.
  const structure = ['_n UInt32', ...table.columns.map((c) => `\`${c.name.replace(/`/g, '')}\` ${c.type}`)].join(', ')
  const rows = format === 'csv' ? neutraliseFormulas(table) : table.rows
  // format() cannot read an empty input: row 0 is always sent and filtered out again.
  const data = [{ _n: 0 }, ...rows.map((r, i) => ({ ...r, _n: i + 1 }))].map((r) => JSON.stringify(r)).join('\n')
  const { stream } = await client.exec({
    query: `SELECT * EXCEPT _n FROM format(JSONEachRow, {structure:String}, {data:String}) WHERE _n > 0 ORDER BY _n
            SETTINGS format_csv_null_representation = '' FORMAT ${CLICKHOUSE_FORMATS[format]}`,
    query_params: { structure, data },
  })
  return stream
}

export async function toBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks)
}
