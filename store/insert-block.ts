import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { ClickHouseClient } from '@clickhouse/client'
import type { NativeBlock } from './native-format.ts'

/**
 * Inserts one Native block into `table` under a deduplication token: the same token inserted
 * again (a replay after a crash) is stored once (MergeTree `non_replicated_deduplication_window`).
 */
export type InsertBlock = (table: string, block: NativeBlock, token: string) => Promise<void>

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** `INSERT INTO table (a, b, …)`: names from the program's own schema, checked, never a value. */
function insertInto(table: string, columns: readonly string[]): string {
  for (const name of [table, ...columns]) if (!IDENTIFIER.test(name)) throw new Error(`not an identifier: ${name}`)
  return `INSERT INTO ${table} (${columns.join(', ')})`
}

/** A ClickHouse server: the block is the body of the HTTP request. */
export function insertOverHttp(client: ClickHouseClient): InsertBlock {
  return async (table, block, token) => {
    const result = await client.exec({
      query: `${insertInto(table, block.columns)} FORMAT Native`,
      values: Readable.from([block.bytes]),
      clickhouse_settings: { insert_deduplication_token: token },
    })
    result.stream.destroy()
  }
}

/**
 * The embedded engine: chDB's client API passes an insert's data as text, which a binary block
 * would not survive, so the block is written to a file in `dir` that the engine reads itself
 * (`file(…, 'Native')`), then deleted. The file holds rows already in the spool; one left by a
 * crash is removed at the next start. `queryIdOf` names an insert's query (none: the client's own id).
 */
export function insertFromFile(client: ClickHouseClient, dir: string, queryIdOf: (table: string, block: NativeBlock) => string | undefined = () => undefined): InsertBlock {
  let seq = 0
  return async (table, block, token) => {
    // at the first insert, not at start: a data directory that cannot be written yet fails inserts, not the start
    if (seq === 0) {
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 })
      for (const name of await fs.promises.readdir(dir)) if (name.endsWith('.native')) await fs.promises.rm(path.join(dir, name), { force: true })
    }
    const file = path.join(dir, `insert-${process.pid}-${seq++}.native`)
    await fs.promises.writeFile(file, block.bytes, { mode: 0o600 })
    try {
      await client.command({
        query: `${insertInto(table, block.columns)} SELECT * FROM file({file:String}, 'Native')`,
        query_params: { file },
        query_id: queryIdOf(table, block),
        clickhouse_settings: { insert_deduplication_token: token },
      })
    } finally {
      await fs.promises.rm(file, { force: true })
    }
  }
}
