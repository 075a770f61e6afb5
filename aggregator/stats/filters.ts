import { property, PROPERTY_NAMES, type Property } from './properties.ts'
import { InputError } from '../../http/errors.ts'

export type Operator = '==' | '!=' | '~'

export interface Filter {
  name: string
  prop: Property & { propKey?: string }
  op: Operator
  values: string[]
}

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
    const prop = property(name)
    if (!prop) throw new FilterError(`unknown filter property: filters take ${PROPERTY_NAMES.join(", ")}`)
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

/** `expr` compared with the filter's values. */
export function compare(expr: string, f: Filter, params: Params): string {
  const list = params.add('Array(String)', f.values)
  if (f.op === '==') return `${expr} IN ${list}`
  if (f.op === '!=') return `${expr} NOT IN ${list}`
  return `arrayExists(x -> positionCaseInsensitive(${expr}, x) > 0, ${list})`
}

/** The SQL value of a custom prop on an events row. */
export function propExpr(key: string, params: Params): string {
  return `props[${params.add('String', key)}]`
}
