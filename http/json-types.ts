import Type from 'typebox'

/**
 * Response values that may be one of several JSON types, as a JSON Schema type list (`type:
 * ['number', 'null']`) rather than TypeBox's `Union` (`anyOf`). Fastify's serializer
 * (fast-json-stringify) writes a type list by looking at each value; for an `anyOf` it compiled an
 * Ajv validator on a route's first answer (some 17 ms of the main thread, where beacons wait, for
 * the statistics routes' first answers) and ran it on every value of every answer after.
 */
export const NumberOrNull = Type.Unsafe<number | null>({ type: ['number', 'null'] })

/** A value of a row of statistics: a property's value or a bucket's date (string), a metric (number), or null (withheld, none). */
export const Cell = Type.Unsafe<string | number | null>({ type: ['string', 'number', 'null'] })

/** A row of statistics, keyed by property, date or metric name. */
export const Row = Type.Record(Type.String(), Cell)
