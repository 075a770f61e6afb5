import { InputError } from '../../http/errors.ts'

/**
 * Plausible's names for properties (`visit:source`, `event:page`, `event:props:plan`), used by
 * its stats API v1 (`property`, `filters`) and v2 (`dimensions`, `filters`), and ours. One
 * table for both versions, so they cannot disagree.
 */
const VISIT: Record<string, string> = {
  source: 'source',
  channel: 'channel',
  referrer: 'referrer',
  utm_source: 'utm_source',
  utm_medium: 'utm_medium',
  utm_campaign: 'utm_campaign',
  utm_content: 'utm_content',
  utm_term: 'utm_term',
  screen: 'screen',
  device: 'device',
  browser: 'browser',
  browser_version: 'browser_version',
  os: 'os',
  os_version: 'os_version',
  country: 'country',
  // regions and cities are stored by their names: Plausible's `_name` properties
  region_name: 'region',
  city_name: 'city',
  entry_page: 'entry_page',
  exit_page: 'exit_page',
}

const EVENT: Record<string, string> = { page: 'page', hostname: 'hostname', name: 'event', goal: 'goal' }

/** Plausible properties with no counterpart here, and why. */
const UNSUPPORTED: Record<string, string> = {
  'visit:region': 'regions are kept by name, not by ISO 3166-2 code: use visit:region_name',
  'visit:city': 'cities are kept by name, not by GeoName id: use visit:city_name',
  'visit:country_name': 'countries are kept as ISO codes: use visit:country',
  'visit:entry_page_hostname': 'entry and exit hostnames are not kept apart: use event:hostname',
  'visit:exit_page_hostname': 'entry and exit hostnames are not kept apart: use event:hostname',
}

export class PlausibleError extends InputError {}

const PROP_KEY = /^[A-Za-z0-9_.:-]{1,64}$/

/** A name quoted in an error: short, and only the characters a property name has (no markup, no SQL words apart). */
export const quoted = (name: string) => JSON.stringify(name.slice(0, 80).replace(/[^\w:.\-/]/g, '?'))

/** Whether a name is in Plausible's form (`visit:…` or `event:…`). */
export const isPlausibleName = (name: string) => name.startsWith('visit:') || name.startsWith('event:')

/**
 * Our property for a Plausible one: `visit:source` → `source`, `event:props:plan` →
 * `prop:plan`, `event:name` → `event`, `event:goal` → `goal`; a PlausibleError naming what has
 * no counterpart.
 */
export function ourProperty(name: string): string {
  if (Object.hasOwn(UNSUPPORTED, name)) throw new PlausibleError(`${name} is not supported: ${UNSUPPORTED[name]}`)
  if (name.startsWith('event:props:')) {
    const key = name.slice('event:props:'.length)
    if (!PROP_KEY.test(key)) throw new PlausibleError('a custom property is event:props:<key>, the key of letters, digits and _ . : -')
    return `prop:${key}`
  }
  const [scope, rest] = [name.slice(0, name.indexOf(':')), name.slice(name.indexOf(':') + 1)]
  const table = scope === 'visit' ? VISIT : scope === 'event' ? EVENT : null
  if (table && Object.hasOwn(table, rest)) return table[rest]
  throw new PlausibleError(`unknown property ${quoted(name)}: Plausible's visit:… and event:… properties are translated, except ${Object.keys(UNSUPPORTED).join(', ')}`)
}

/**
 * The key a breakdown row carries a property's value under in Plausible's v1 answers: the name
 * without its `visit:`/`event:` prefix, a custom property's key alone.
 */
export function v1ResultKey(name: string): string {
  if (name.startsWith('event:props:')) return name.slice('event:props:'.length)
  return name.slice(name.indexOf(':') + 1)
}
