/** An events block's rows by the UTC day of their `ts`, and how many of them have no visit (`visit_id` 0). */
export type DayRows = ReadonlyMap<string, { rows: number; visitless: number }>

/** Inserts of events blocks kept in the log (StoreWrites.since); a reader further behind reads again. */
const LOG_LENGTH = 1024

/**
 * What this process has written to its embedded store, for a reader that keeps what it read
 * about the store until the store changes (aggregator/stats/query.ts keeps its look at the days).
 * The embedded engine's directory is locked by the one process that opened it, and every query
 * of that process goes through one connection (store/client.ts): that connection sees every
 * write there is. A ClickHouse server's writers are anywhere, so a server's client has none.
 *
 * Two kinds of write. An insert of an events block that says its days (`DayRows`: the spool
 * writer's) is logged with them once it is in, so the reader can add it to what it read. Any
 * other statement that is not a read (a rollup build, a purge, an `INSERT … SELECT`, a migration)
 * moves `generation` when it starts and when it ends, and whatever was read before is stale.
 */
export class StoreWrites {
  /** Moved at the start and at the end of every write the log does not describe. */
  generation = 0
  /** The number of the newest logged insert. */
  seq = 0
  private log: { seq: number; days: DayRows }[] = []

  /** A write the log cannot describe begins or ends. */
  changed(): void {
    this.generation++
  }

  /** An events block is in the store: its days go in the log. */
  inserted(days: DayRows): void {
    this.log.push({ seq: ++this.seq, days })
    if (this.log.length > LOG_LENGTH) this.log.splice(0, this.log.length - LOG_LENGTH)
  }

  /** The inserts logged after `seq`, oldest first; null when the log no longer reaches back that far. */
  since(seq: number): { seq: number; days: DayRows }[] | null {
    if (seq === this.seq) return []
    const first = this.log.length === 0 ? this.seq + 1 : this.log[0].seq
    if (seq + 1 < first) return null
    return this.log.filter((e) => e.seq > seq)
  }
}

const writesOf = new WeakMap<object, StoreWrites>()

/** The writes a client's store follows (the embedded store's client and the clients wrapping it); undefined for a server's. */
export const storeWrites = (client: object): StoreWrites | undefined => writesOf.get(client)

/** Makes `client` (or a client wrapping the same connection) follow `writes`. */
export function followWrites(client: object, writes: StoreWrites | undefined): void {
  if (writes) writesOf.set(client, writes)
}

/**
 * Whether a statement only reads: its first word after comments and opening brackets. Anything
 * else counts as a write, so a statement not recognised here costs a reader a look again,
 * never a stale answer.
 */
export function onlyReads(sql: string): boolean {
  const head = sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*/, '')
  return /^(?:SELECT|WITH|SHOW|DESC|DESCRIBE|EXPLAIN|EXISTS)\b/i.test(head)
}
