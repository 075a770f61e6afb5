/**
 * The properties a breakdown or a filter can name, and the SQL of each: the one definition
 * every path uses (the rollup build, the live query, filters), so they cannot disagree.
 *
 * `visit` properties are a visit's own (from its first event, or its entry and exit pages);
 * `event` properties come from events (pages, event names, clicked links, custom props).
 * An event without a visitor hash belongs to no visit: it stands as a visit of its own, and
 * `eventExpr` gives a visit property's value for it.
 */
export interface VisitProperty {
  level: 'visit'
  /** SQL over a visit row (see `VISIT_ROW` in query.ts) giving the value as the rollup stores it. */
  expr: string
  /** The same over an events row standing as a visit of its own. */
  eventExpr: string
  /** The rollup's `dim`. */
  dim: string
  /** What a filter compares, where it differs from `expr` (a region filter names the region alone). */
  filterExpr?: string
  /**
   * Every event of a visit carries the visit's value: it follows from what the visitor hash is
   * made of (the IP address and the User-Agent: geography, browser, OS, device, network), and a
   * visit is one visitor hash's. A filter on it picks events by their own value, without finding
   * their visits first.
   */
  onEveryEvent?: true
  /**
   * The value is the visit's first event's: the view keeping visits takes it from that event
   * alone, so the visit's row holding it as inserted (`opens`, migration 034) has it before any
   * merge. Not so for the entry and exit pages, which the visit's other rows can give.
   */
  firstEvent?: true
}

/** A one-event visit's entry and exit page: the page it viewed, if it is a pageview. */
const OWN_PAGE = "if(name = 'pageview', pathname, '')"

export interface EventProperty {
  level: 'event'
  /** SQL over an `events` row giving the value. */
  expr: string
  /** Which events carry it: pageviews and engagement pings for the page alone (query.ts: eventSums' `pings`). */
  where: string
  dim: string
  /**
   * The visit column listing the values a visit had (pages viewed, event names sent): visit
   * numbers (visitors, visits, bounce rate, duration) of a value come from the visits holding it.
   */
  visitArray?: 'pages' | 'event_names'
}

export type Property = VisitProperty | EventProperty

/** A visit property its first event gives (see `firstEvent`). */
const visit = (dim: string, expr = dim, filterExpr?: string): VisitProperty => ({ level: 'visit', expr, eventExpr: expr, dim, filterExpr, firstEvent: true })
/** A visit's entry or exit page: of its pageviews, which the visit's rows as inserted hold apart; a one-event visit's, its own page (OWN_PAGE). */
const visitPage = (dim: string): VisitProperty => ({ level: 'visit', expr: dim, eventExpr: OWN_PAGE, dim })
/** A visit property that every event of the visit carries (see `onEveryEvent`). */
const visitor = (dim: string, expr = dim, filterExpr?: string): VisitProperty => ({ ...visit(dim, expr, filterExpr), onEveryEvent: true })

export const PROPERTIES: Record<string, Property> = {
  hostname: visit('hostname'),
  source: visit('source'),
  referrer: visit('referrer', "if(referrer_host = '', '', concat(referrer_host, referrer_path))"),
  channel: visit('channel'),
  utm_source: visit('utm_source'),
  utm_medium: visit('utm_medium'),
  utm_campaign: visit('utm_campaign'),
  utm_content: visit('utm_content'),
  utm_term: visit('utm_term'),
  country: visitor('country'),
  region: visitor('region', "if(region = '', '', concat(country, '|', region))", 'region'),
  city: visitor('city', "if(city = '', '', concat(country, '|', region, '|', city))", 'city'),
  browser: visitor('browser'),
  browser_version: visitor('browser_version', "if(browser_version = '', '', concat(browser, ' ', browser_version))"),
  os: visitor('os'),
  os_version: visitor('os_version', "if(os_version = '', '', concat(os, ' ', os_version))"),
  device: visitor('device'),
  screen: visit('screen'),
  network: visitor('network'),
  entry_page: visitPage('entry_page'),
  exit_page: visitPage('exit_page'),
  new_vs_returning: visit('new_vs_returning', "multiIf(returning = 0, 'new', returning = 1, 'returning', '')"),
  page: { level: 'event', expr: 'pathname', where: "name IN ('pageview', 'engagement')", dim: 'page', visitArray: 'pages' },
  event: { level: 'event', expr: 'toString(name)', where: "name NOT IN ('pageview', 'engagement')", dim: 'event', visitArray: 'event_names' },
  outbound: { level: 'event', expr: "props['url']", where: "name = 'Outbound Link: Click'", dim: 'outbound' },
  download: { level: 'event', expr: "props['url']", where: "name = 'File Download'", dim: 'download' },
}

export const PROPERTY_NAMES = [...Object.keys(PROPERTIES), 'prop:<key>']

/** The visit properties' names: what the rollup build reads in one pass over a day's visits, and what the held cubes break down. */
export const VISIT_PROPERTY_NAMES: readonly string[] = Object.keys(PROPERTIES).filter((p) => PROPERTIES[p].level === 'visit')

const PROP_KEY = /^prop:([A-Za-z0-9_.:-]{1,64})$/

/** A property by name, including `prop:<key>` for custom props; undefined when unknown. */
export function property(name: string): (Property & { propKey?: string }) | undefined {
  // own keys only: `valueOf` or `constructor` is no property
  if (Object.hasOwn(PROPERTIES, name)) return PROPERTIES[name]
  const m = PROP_KEY.exec(name)
  if (!m) return undefined
  // the key goes into SQL as a parameter, never as text: see `propExpr`
  return { level: 'event', expr: '', where: "name NOT IN ('pageview', 'engagement')", dim: name, propKey: m[1] }
}

/** How a stored value is shown: regions and cities carry their country, versions their name. */
export function present(name: string, value: string): Record<string, string> {
  if (name === 'region' && value.includes('|')) {
    const [country, region] = value.split('|')
    return { region, country }
  }
  if (name === 'city' && value.includes('|')) {
    const [country, region, city] = value.split('|')
    return { city, region, country }
  }
  return { [name]: value }
}
