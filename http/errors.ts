/**
 * Input the caller got wrong: a bad period, filter, metric, goal or export question. Domain code
 * throws it (or an error class extending it) and the root error handler answers it with
 * `statusCode` and `{ error: message, ...details }`, so no route converts errors by hand.
 * The message is shown to the caller: it names the problem and never quotes the input.
 */
export class InputError extends Error {
  /** 400 unless a subclass knows better (an unknown site is 404, a spent export budget 403). */
  statusCode: 400 | 403 | 404 = 400
  /** More fields for the answer beside `error` (e.g. the export budget that was spent). */
  details?: Record<string, unknown>
}

/**
 * Work the server refuses to take on now (too many password checks waiting, say): the root
 * error handler answers 503 with `Retry-After` and the message, and logs nothing.
 */
export class Overloaded extends Error {
  readonly statusCode = 503
  constructor(message: string, readonly retryAfterS: number) {
    super(message)
  }
}
