import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Sites } from '../../accounts/sites.ts'
import { calendarDate } from '../stats/period.ts'
import { OTHER } from '../stats/disclosure.ts'
import { isPlausibleName, ourProperty, PlausibleError, v1ResultKey } from './names.ts'

/**
 * Plausible's stats API v1 on our stats routes: its parameter names and filter syntax are
 * rewritten into ours before anything reads the query (access, the unknown-parameter check,
 * the schema), and a breakdown's rows are keyed as Plausible keys them. A script written for
 * Plausible's v1 then works unchanged but for the host and the token; what has no counterpart
 * here is a 400 naming it.
 *
 * - `site_id` → `site`; `period=custom&date=A,B` → `from=A&to=B`; `period=year` → that calendar
 *   year (of `date`, or this one) in the site's time zone; `date=today` is the default;
 * - `filters=visit:country==DE;event:page==/x` → `country==DE;page==/x` (names.ts);
 * - `property=visit:source` → `source`, and rows keyed `source` again; `event:props:method`
 *   rows keyed `method`; `visit:browser_version` rows as `browser` and `browser_version`;
 * - `interval=date` → `day`; `page` (breakdown pages of `limit` rows, from 1); `with_imported`
 *   is accepted and changes nothing; `metrics` defaults to `visitors` on the aggregate, as there.
 */

type Query = Record<string, unknown>

/** What the answer to a translated breakdown needs: the key its rows take, and which page of them. */
interface Translated {
  /** Our property and Plausible's name for it, when the property was given in Plausible's form. */
  property?: { ours: string; theirs: string }
  /** The rows of one page: `key` is our property, whose "(other)" row closes the last page. */
  page?: { offset: number; limit: number; key: string }
  error?: PlausibleError
}

const LIMIT_MAX = 1000
const DEFAULT_LIMIT = 100
/** Plausible's periods that have no counterpart here. */
const UNSUPPORTED_PERIODS: Record<string, string> = {
  all: 'period=all is not supported: give a period such as 12mo, or period=custom with two dates',
  '30m': 'period=30m is not supported: realtime is the last 5 minutes',
}

/** One filter of the `;`-joined list with its property name in our form. */
function translateFilter(part: string): string {
  const m = /^\s*([a-z_]+:[A-Za-z0-9_.:-]+)\s*(==|!=|~)(.*)$/s.exec(part)
  if (!m || !isPlausibleName(m[1])) return part
  return `${ourProperty(m[1])}${m[2]}${m[3]}`
}

function translateFilters(raw: string): string {
  // Plausible's `\|` is a literal `|` inside a value; here `|` always separates alternatives
  if (raw.includes('\\|')) throw new PlausibleError('a filter value holding a literal | (written \\|) is not supported')
  return raw.split(';').map(translateFilter).join(';')
}

const PAGE = /^[1-9]\d{0,5}$/

/**
 * A query with Plausible's v1 names in ours, and what its answer needs; null when nothing in it
 * is Plausible's. Never throws: a problem is returned in `error`, to be answered after access is
 * checked (a caller without access learns nothing about the input).
 */
export function fromPlausibleV1(input: Query, timezoneOf: (site: string) => string | undefined, breakdown: boolean, now = Date.now()): { query: Query; translated: Translated } | null {
  const q: Query = { ...input }
  const t: Translated = {}
  let plausible = false
  const take = (name: string) => {
    const v = q[name]
    delete q[name]
    plausible = true
    return v
  }
  try {
    if (typeof q.site_id === 'string' && q.site === undefined) q.site = take('site_id')
    const site = typeof q.site === 'string' ? q.site.toLowerCase() : ''
    if (q.period === 'custom' && typeof q.date === 'string' && q.date.includes(',')) {
      if (q.from !== undefined || q.to !== undefined) throw new PlausibleError('give a custom period as date=A,B or as from and to, not both')
      const [from, to, ...rest] = String(take('date')).split(',').map((d) => d.trim())
      if (rest.length) throw new PlausibleError('a custom period is date=<first day>,<last day>')
      Object.assign(q, { from, to })
    }
    if (q.period === 'year') {
      const tz = timezoneOf(site) ?? 'UTC'
      const date = take('date')
      const year = typeof date === 'string' && /^\d{4}-/.test(date) ? date.slice(0, 4) : String(calendarDate(now, tz)[0])
      Object.assign(q, { period: 'custom', from: `${year}-01-01`, to: `${year}-12-31` })
    }
    if (typeof q.period === 'string' && Object.hasOwn(UNSUPPORTED_PERIODS, q.period)) throw new PlausibleError(UNSUPPORTED_PERIODS[q.period])
    if (q.date === 'today') take('date')
    if (q.interval === 'date') {
      take('interval')
      q.interval = 'day'
    }
    if (q.with_imported !== undefined) take('with_imported')
    if (typeof q.filters === 'string') {
      const filters = translateFilters(q.filters)
      if (filters !== q.filters) plausible = true
      q.filters = filters
    }
    if (breakdown && typeof q.property === 'string' && isPlausibleName(q.property)) {
      const theirs = q.property
      const ours = ourProperty(theirs)
      if (ours === 'goal') throw new PlausibleError('a breakdown by event:goal is GET /api/v1/stats/goals here, or POST /api/v2/query with dimensions ["event:goal"]')
      q.property = ours
      t.property = { ours, theirs }
      plausible = true
    }
    if (breakdown && q.page !== undefined) {
      const page = String(take('page'))
      if (!PAGE.test(page)) throw new PlausibleError('page is a page number from 1')
      const limit = q.limit === undefined ? DEFAULT_LIMIT : Number(q.limit)
      if (!Number.isInteger(limit) || limit < 1) throw new PlausibleError(`limit must be a whole number from 1 to ${LIMIT_MAX}`)
      if (limit * Number(page) > LIMIT_MAX) throw new PlausibleError(`page × limit may be at most ${LIMIT_MAX}: only the ${LIMIT_MAX} largest values of a breakdown are listed`)
      q.limit = String(limit * Number(page))
      t.page = { offset: limit * (Number(page) - 1), limit, key: String(q.property) }
    }
  } catch (err) {
    if (!(err instanceof PlausibleError)) throw err
    return { query: q, translated: { error: err } }
  }
  return plausible ? { query: q, translated: t } : null
}

type Row = Record<string, unknown>

/** A version value (`Firefox 132`) as Plausible gives it: the name and the version apart. */
function splitVersion(row: Row, ours: 'browser_version' | 'os_version'): Row {
  const value = row[ours]
  const { [ours]: _, ...rest } = row
  const name = ours === 'browser_version' ? 'browser' : 'os'
  const at = typeof value === 'string' ? value.lastIndexOf(' ') : -1
  if (at < 0) return { [name]: value, [ours]: value, ...rest }
  return { [name]: (value as string).slice(0, at), [ours]: (value as string).slice(at + 1), ...rest }
}

/** A translated breakdown's rows: the page asked, keyed as Plausible keys them. */
export function toPlausibleV1Rows(rows: Row[], t: Translated): Row[] {
  let out = rows
  if (t.page) {
    const { offset, limit, key } = t.page
    // "(other)" is not a value: it closes the last page
    const values = out.filter((r) => r[key] !== OTHER)
    const end = offset + limit
    out = [...values.slice(offset, end), ...(end >= values.length ? out.filter((r) => r[key] === OTHER) : [])]
  }
  const p = t.property
  if (!p) return out
  return out.map((row) => {
    if (p.ours === 'browser_version' || p.ours === 'os_version') return splitVersion(row, p.ours)
    const key = v1ResultKey(p.theirs)
    if (key === p.ours) return row
    const { [p.ours]: value, ...rest } = row
    return { [key]: value, ...rest }
  })
}

/**
 * Registers the translation on a plugin of stats routes, before its access hook and its
 * unknown-parameter check (hooks run in the order they are added): the site is renamed at
 * `onRequest`, so that a per-site token is checked against it; a problem is answered at
 * `preValidation`, after access; a breakdown's rows are rekeyed before they are serialised.
 */
export function acceptPlausibleV1(app: FastifyInstance, sites: Sites): void {
  const translations = new WeakMap<FastifyRequest, Translated>()
  app.addHook('onRequest', async (req) => {
    const breakdown = req.routeOptions.url === '/api/v1/stats/breakdown'
    const done = fromPlausibleV1(req.query as Query, (site) => sites.get(site)?.timezone, breakdown)
    if (!done) return
    if (req.routeOptions.url === '/api/v1/stats/aggregate' && done.query.metrics === undefined && !done.translated.error) done.query.metrics = 'visitors'
    req.query = done.query
    translations.set(req, done.translated)
  })
  app.addHook('preValidation', async (req) => {
    const error = translations.get(req)?.error
    if (error) throw error
  })
  app.addHook('preSerialization', async (req, _reply, payload: unknown) => {
    const t = translations.get(req)
    const body = payload as { results?: unknown }
    if (!t || (!t.property && !t.page) || !Array.isArray(body?.results)) return payload
    return { ...body, results: toPlausibleV1Rows(body.results as Row[], t) }
  })
}
