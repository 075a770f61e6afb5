import { property, PROPERTY_NAMES, type Property } from './properties.ts'
import { likePattern, type GoalMatch } from './goal-match.ts'
import { InputError } from '../../http/errors.ts'

export type Operator = '==' | '!=' | '~'

export interface Filter {
  name: string
  prop: Property & { propKey?: string }
  op: Operator
  values: string[]
  /** A `goal` filter's goals, found by their names among the site's saved goals (see goal-filter.ts). */
  goals?: GoalMatch[]
  /** Values compared as they are, `*` included: the aggregator's own filters on row values. */
  exact?: boolean
  /**
   * With `==`: any value but `values` (exact), a value held or sent among others included: what
   * "(other)" of a breakdown stands for, written as the few rows shown rather than as the many
   * folded (a list of 60,000 values made one read take a minute).
   */
  others?: boolean
  /** On a goal filter, when revenue is asked: the currency its revenue goals' amounts are summed in (measures.ts). */
  revenueCurrency?: string
}

/**
 * `goal==Signup|Visit /pricing`: the visits that completed one of the site's saved goals (by the
 * name the goals panel shows). Not a breakdown property: the goals panel is that breakdown.
 */
export const GOAL: Property = { level: 'event', expr: '', where: '1', dim: 'goal' }

export class FilterError extends InputError {}

const MAX_FILTERS = 10
const MAX_VALUES = 20

/**
 * `country==DE;browser!=Safari;page~/blog`: `;` joins conditions (all must hold), `|`
 * separates alternatives (any may hold), `==` is, `!=` is not, `~` contains (case-insensitive).
 */
export function parseFilters(raw: string | undefined): Filter[] {
  if (!raw) return []
  if (raw.length > 2000) throw new FilterError('filters is longer than 2000 characters')
  const parts = raw.split(';').filter((p) => p.trim() !== '')
  if (parts.length > MAX_FILTERS) throw new FilterError(`at most ${MAX_FILTERS} filters`)
  return parts.map((part) => {
    const m = /^([a-z_]+(?::[A-Za-z0-9_.:-]+)?)\s*(==|!=|~)(.*)$/.exec(part.trim())
    if (!m) throw new FilterError('a filter looks like property==value, property!=value or property~text')
    const [, name, op, rest] = m
    const prop = name === 'goal' ? GOAL : property(name)
    if (!prop) throw new FilterError(`unknown filter property: filters take ${[...PROPERTY_NAMES, 'goal'].join(', ')}`)
    if (name === 'goal' && op === '~') throw new FilterError('a goal filter takes == or != and the names of saved goals')
    // `(none)` is how an empty value is shown; it filters for the empty value
    const values = rest.split('|').map((v) => (v.trim() === '(none)' ? '' : v.trim()))
    if (values.length > MAX_VALUES) throw new FilterError(`at most ${MAX_VALUES} alternatives in a filter`)
    if (values.some((v) => v.length > 500)) throw new FilterError('a filter value is longer than 500 characters')
    if (op === '~' && values.some((v) => v === '')) throw new FilterError('a contains filter needs some text')
    return { name, prop, op: op as Operator, values }
  })
}

/** Parameters collected while SQL is written: values never enter the SQL text. */
export class Params {
  readonly values: Record<string, unknown> = {}
  private n = 0
  add(type: string, value: unknown): string {
    const name = `p${this.n++}`
    this.values[name] = value
    return `{${name}:${type}}`
  }
}

/**
 * `expr` compared with the filter's values. In `==` and `!=` a `*` matches any run of
 * characters (`page==/blog/*`), as in goals; other characters stand for themselves.
 */
export function compare(expr: string, f: Filter, params: Params): string {
  if (f.others) {
    if (f.op !== '==' || f.exact !== true) throw new Error('a filter on the other values is `==` and exact')
    return f.values.length === 0 ? '1' : `NOT (${expr} IN ${params.add('Array(String)', f.values)})`
  }
  if (f.op === '~') return `arrayExists(x -> positionCaseInsensitive(${expr}, x) > 0, ${params.add('Array(String)', f.values)})`
  const wild = f.exact ? [] : f.values.filter((v) => v.includes('*'))
  const exact = f.exact ? f.values : f.values.filter((v) => !v.includes('*'))
  const parts = []
  if (exact.length) parts.push(`${expr} IN ${params.add('Array(String)', exact)}`)
  if (wild.length) parts.push(`arrayExists(x -> ${expr} LIKE x, ${params.add('Array(String)', wild.map(likePattern))})`)
  const any = parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`
  return f.op === '==' ? any : `NOT ${any}`
}

/** The SQL value of a custom prop on an events row. */
export function propExpr(key: string, params: Params): string {
  return `props[${params.add('String', key)}]`
}
