/** The stats API, as the dashboards call it: bearer token from the session, JSON both ways. */
export interface Credentials {
  token: string
  /** A shared link's password, sent as x-share-password. */
  password?: string
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

/** A null value has a `withheld` reason, except a conversion rate whose non-converting visitors are too few. */
export type MetricValue = { value: number; change: number | null; withheld?: undefined } | { value: null; change: null; withheld?: string }
export interface AggregateAnswer {
  results: Record<string, MetricValue>
  period: string
  /** the period `change` is against */
  comparison?: { period: string }
}
export type BreakdownRow = Record<string, string | number | null>
export interface BreakdownAnswer {
  results: BreakdownRow[]
  withheld?: string
  period: string
}
/** A bucket; null metrics without `withheld` are a bucket that has not begun. */
export type TimeseriesRow = { date: string; withheld?: string } & Record<string, number | string | null | undefined>
export interface TimeseriesAnswer {
  results: TimeseriesRow[]
  interval: string
  period: string
  /** with `comparison=`: the compared period, bucket by bucket beside `results` */
  comparison?: { period: string; results: TimeseriesRow[] }
}
export interface RealtimeAnswer {
  visitors: number | null
  pages: { page: string; visitors: number }[]
  withheld?: string
}
export interface Site {
  domain: string
  timezone: string
}

function headers(cred: Credentials, json = false): Record<string, string> {
  const h: Record<string, string> = { authorization: `Bearer ${cred.token}`, accept: 'application/json' }
  if (cred.password) h['x-share-password'] = cred.password
  if (json) h['content-type'] = 'application/json'
  return h
}

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** Dispatched when the API refuses the signed-in admin's token (not a shared link's). */
export const UNAUTHORIZED = 'analytics:unauthorized'

async function answer<T>(res: Response, cred?: Credentials): Promise<T> {
  if (res.ok) return (await res.json()) as T
  if (res.status === 401 && cred && !cred.token.startsWith('shr_')) dispatchEvent(new Event(UNAUTHORIZED))
  let message = res.statusText
  try {
    message = ((await res.json()) as { error?: string }).error ?? message
  } catch {
    /* not JSON */
  }
  throw new ApiError(res.status, message)
}

/**
 * How often a question answered 429 or 503 with a Retry-After is asked again, and the longest
 * Retry-After waited for: a token's questions are a burst and then a steady rate
 * (STATS_RATE_LIMIT), so a few quick clicks past the burst load their panels a second late
 * instead of failing; and a store whose queue of questions is full (several dashboards' first
 * looks at a month at a hundred million events at once) says to ask again in 5 s. A store that
 * cannot be reached says 30 s: past the longest wait, its error is shown at once.
 */
export const RETRIES_WHEN_LIMITED = 2
export const LONGEST_WAIT_S = 10

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const done = () => {
      signal?.removeEventListener('abort', stop)
      resolve()
    }
    const t = setTimeout(done, ms)
    const stop = () => {
      clearTimeout(t)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', stop, { once: true })
  })
}

export async function apiGet<T>(cred: Credentials, path: string, params: Record<string, string | number | undefined> = {}, signal?: AbortSignal): Promise<T> {
  for (let tries = 0; ; tries++) {
    const res = await fetch(path + query(params), { headers: headers(cred), signal, cache: 'no-store' })
    const wait = Number(res.headers.get('retry-after'))
    if ((res.status !== 429 && res.status !== 503) || tries >= RETRIES_WHEN_LIMITED || !(wait > 0) || wait > LONGEST_WAIT_S) return answer<T>(res, cred)
    await res.body?.cancel()
    await pause(wait * 1000, signal)
  }
}

export async function apiSend<T>(cred: Credentials, method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  return answer<T>(await fetch(path, { method, headers: headers(cred, body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) }), cred)
}

/** Downloads a file the API answers (the bearer token cannot ride on a plain link). */
export async function apiDownload(cred: Credentials, path: string, params: Record<string, string | number | undefined>, fallbackName: string): Promise<void> {
  const res = await fetch(path + query(params), { headers: headers(cred) })
  if (!res.ok) await answer(res, cred)
  const disposition = res.headers.get('content-disposition') ?? ''
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
