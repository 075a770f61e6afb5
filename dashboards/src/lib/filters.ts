/**
 * Filters as the stats API takes them (`country==DE;browser!=Safari;page~/blog`, `|`
 * between alternatives), and the view's query string, which uses the same text so that a
 * bookmarked view reads like the API call behind it.
 */
export type Operator = '==' | '!=' | '~'

export interface Filter {
  property: string
  op: Operator
  values: string[]
}

const FILTER = /^([a-z_]+(?::[A-Za-z0-9_.:-]+)?)(==|!=|~)(.*)$/

export function parseFilters(raw: string | null | undefined): Filter[] {
  if (!raw) return []
  return raw
    .split(';')
    .map((part) => FILTER.exec(part.trim()))
    .filter((m): m is RegExpExecArray => !!m && m[3] !== '')
    .map(([, property, op, rest]) => ({ property, op: op as Operator, values: rest.split('|') }))
}

export const serializeFilters = (filters: Filter[]): string => filters.map((f) => `${f.property}${f.op}${f.values.join('|')}`).join(';')

/** A value the filter syntax can carry (its separators cannot appear inside a value). */
export const filterable = (value: string) => value !== '' && !/[;|]/.test(value) && value !== '(other)'

/** Adds `property==value`, replacing an earlier filter on the same property. */
export function withFilter(filters: Filter[], property: string, value: string): Filter[] {
  return [...filters.filter((f) => f.property !== property), { property, op: '==', values: [value] }]
}

export const withoutFilter = (filters: Filter[], index: number) => filters.filter((_, i) => i !== index)

const OP_TEXT: Record<Operator, string> = { '==': 'is', '!=': 'is not', '~': 'contains' }
export const operatorText = (op: Operator) => OP_TEXT[op]
