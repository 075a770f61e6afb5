/** What the program may say about a store error, and what kind of failure it is. */

/** How the messages of connection errors begin (`connect ECONNREFUSED …`, `socket hang up`, `Timeout error.`). */
const NETWORK_MESSAGE = /^(?:connect |getaddrinfo |read |write |socket |timeout)/i

/**
 * What a failed insert may say in a log: the error's kind and code, never its message,
 * which for a parse error quotes the rows.
 */
export function storeErrorSummary(err: unknown): string {
  const e = err as { code?: string | number; type?: string; name?: string; message?: string }
  const kind = e.type ?? e.name ?? 'Error'
  const code = e.code !== undefined ? ` ${e.code}` : ''
  // Connection errors name no data: keep their message (e.g. ECONNREFUSED 127.0.0.1:9)
  const net = typeof e.message === 'string' && NETWORK_MESSAGE.test(e.message) ? `: ${e.message.slice(0, 120)}` : ''
  return `${kind}${code}${net}`
}

/** Whether an error says the store cannot be reached or opened (as opposed to a query it refused). */
export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown }
  if (typeof e?.code === 'string' && /^(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|UND_ERR_SOCKET|CHDB_CONNECTION)$/.test(e.code)) return true
  return typeof e?.message === 'string' && NETWORK_MESSAGE.test(e.message)
}

/** Whether the store refused an insert for its data (a parse or type error), not for being down. */
export function isRefusedData(err: unknown): boolean {
  const type = (err as { type?: unknown })?.type
  return typeof type === 'string' && /^(?:CANNOT_PARSE_\w+|CANNOT_READ_\w+|TYPE_MISMATCH|INCORRECT_DATA|TOO_LARGE_STRING_SIZE|ATTEMPT_TO_READ_AFTER_EOF|CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN)$/.test(type)
}
