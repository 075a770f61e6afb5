import type { Params } from './filters.ts'
import { InputError } from '../../http/errors.ts'

/**
 * What a goal or a funnel step matches: a pageview whose path fits a pattern (`/signup/*`,
 * `*` matching any run of characters, otherwise the exact path), or a custom event by name,
 * optionally with one custom prop equal to a value. An event goal with a `currency` is a revenue
 * goal: it also sums the revenue its events carry in that currency (measures.ts).
 */
export type GoalMatch =
  | { kind: 'page'; pattern: string }
  | { kind: 'event'; name: string; prop?: { key: string; value: string }; currency?: string }

export class GoalMatchError extends InputError {}

export const LIMITS = { pattern: 500, name: 120, propValue: 500 } as const
const PROP_KEY = /^[A-Za-z0-9_.:-]{1,64}$/
// The pipeline's own event names: a page goal counts pageviews, engagement pings are no one's goal.
const RESERVED_EVENTS = ['pageview', 'engagement']

/** As the API and funnel steps take it: exactly one of `page` or `event`, and `prop` for events. */
export interface GoalInput {
  page?: unknown
  event?: unknown
  prop?: unknown
}

/** Checks an API input; throws GoalMatchError naming the problem. */
export function parseGoalMatch(input: unknown): GoalMatch {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new GoalMatchError('a goal is an object with "page" or "event"')
  const extra = Object.keys(input).filter((k) => !['page', 'event', 'prop'].includes(k))
  if (extra.length) throw new GoalMatchError(`unknown goal field "${extra[0].slice(0, 40)}": a goal has "page" or "event" (and "prop" for events)`)
  const { page, event, prop } = input as GoalInput
  if ((page === undefined) === (event === undefined)) throw new GoalMatchError('a goal has either "page" or "event", not both or neither')
  if (page !== undefined) {
    if (typeof page !== 'string' || !/^[/*]/.test(page)) throw new GoalMatchError('"page" is a path starting with / (a * matches any characters)')
    if (page.length > LIMITS.pattern) throw new GoalMatchError(`"page" is longer than ${LIMITS.pattern} characters`)
    if (prop !== undefined) throw new GoalMatchError('"prop" goes with "event" goals only')
    return { kind: 'page', pattern: page }
  }
  if (typeof event !== 'string' || event.trim() === '') throw new GoalMatchError('"event" is the name of a custom event')
  if (event.length > LIMITS.name) throw new GoalMatchError(`"event" is longer than ${LIMITS.name} characters`)
  if (RESERVED_EVENTS.includes(event)) throw new GoalMatchError(`"${event}" is not a custom event: use a page goal`)
  if (prop === undefined) return { kind: 'event', name: event }
  if (typeof prop !== 'object' || prop === null || Object.keys(prop).some((k) => k !== 'key' && k !== 'value')) {
    throw new GoalMatchError('"prop" is {"key": ..., "value": ...}')
  }
  const { key, value } = prop as { key?: unknown; value?: unknown }
  if (typeof key !== 'string' || !PROP_KEY.test(key)) throw new GoalMatchError('"prop.key" is a custom prop name of letters, digits and _.:- (at most 64)')
  if (typeof value !== 'string' || value === '' || value.length > LIMITS.propValue) {
    throw new GoalMatchError(`"prop.value" is a text of 1 to ${LIMITS.propValue} characters`)
  }
  return { kind: 'event', name: event, prop: { key, value } }
}

/** How a goal is shown: `Visit /signup/*`, `Signup`, `Signup (plan=pro)`. */
export function goalLabel(g: GoalMatch): string {
  if (g.kind === 'page') return `Visit ${g.pattern}`
  return g.prop ? `${g.name} (${g.prop.key}=${g.prop.value})` : g.name
}

/** A path pattern as a LIKE pattern: `%`, `_` and `\` stand for themselves, `*` for any run of characters. */
export function likePattern(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%')
}

/** SQL over an `events` row: whether the event completes the goal. */
export function goalCondition(g: GoalMatch, params: Params): string {
  if (g.kind === 'page') return `(name = 'pageview' AND pathname LIKE ${params.add('String', likePattern(g.pattern))})`
  const named = `name = ${params.add('String', g.name)}`
  if (!g.prop) return `(${named})`
  return `(${named} AND props[${params.add('String', g.prop.key)}] = ${params.add('String', g.prop.value)})`
}
