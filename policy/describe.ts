import Type, { type Static } from 'typebox'
import type { ConsentStance, Policy, SitePolicy } from './policy.ts'
import { scrubbedKinds } from '../identifiers/catalogue.ts'

/**
 * The active policy in plain words, for one site or for the defaults: the one value behind
 * both `GET /privacy` (HTML) and `GET /privacy.json`, so the two cannot say different things.
 * Numbers and switches come from the compiled `SitePolicy` (what the collector enforces);
 * only the pattern lists, which compile into matchers, are read from the parsed file.
 */

/** What each dimension means to a visitor; a dimension missing here is shown by its name. */
export const DIMENSION_LABELS: Readonly<Record<string, string>> = {
  path: 'Pages visited (the path of the address only, without the query string)',
  referrer_host: 'Referring site (the host name of the page that linked here)',
  referrer_path: 'Referring page (the path of the page that linked here)',
  source: 'Traffic source (such as a search engine or social network, from the referrer or a campaign tag)',
  channel: 'Channel (such as search, social, referral or direct)',
  utm: 'Campaign tags (the utm_* parameters of the page address)',
  browser: 'Browser name',
  browser_version: 'Browser version',
  os: 'Operating system',
  os_version: 'Operating system version',
  device: 'Device type (such as desktop, mobile or tablet)',
  screen: 'Screen size class (mobile, tablet, laptop or desktop; never the exact size)',
  country: 'Country (from the IP address)',
  region: 'Region or state (from the IP address)',
  city: 'City (from the IP address)',
  network: 'Network (ISP / organisation, from the IP address)',
}

/** What each event kind records, in plain words. */
export const EVENT_LABELS: Readonly<Record<string, string>> = {
  pageview: 'Page views: which page was viewed, in which order, and when',
  engagement: 'Time on page and scroll depth: how long a page was visible in the foreground, and how far down it was scrolled (in percent)',
  outbound: 'Outbound link clicks: the address (host and path only) of a link to another site that was clicked',
  download: 'File downloads: the address (host and path only) of a file link that was clicked',
  click: 'Clicks on page elements the site has marked for counting',
  custom: 'Custom events the site defines (such as a form sent or a video played), by name',
}

const GEO_DIMENSIONS: Readonly<Record<string, SitePolicy['geoPrecision'][]>> = {
  country: ['country', 'region', 'city'],
  region: ['region', 'city'],
  city: ['city'],
}

const Labelled = Type.Object({ name: Type.String(), text: Type.String() })
const Stance = Type.Union([Type.Literal('drop'), Type.Literal('count_without_hash'), Type.Literal('ignore')])
const Signal = Type.Object({ stance: Stance, text: Type.String() })

/** The JSON schema of `GET /privacy.json`. */
export const DisclosureSchema = Type.Object({
  policy: Type.Object({ name: Type.String(), description: Type.String() }),
  /** The site asked for, or null for the defaults. */
  site: Type.Union([Type.String(), Type.Null()]),
  /** `site`: the file has a section for this site (merged over the defaults); `defaults`: it has none. */
  rules: Type.Union([Type.Literal('site'), Type.Literal('defaults')]),
  purpose: Type.String(),
  collected: Type.Object({
    events: Type.Array(Labelled),
    customEventNames: Type.Array(Type.String()),
    dimensions: Type.Array(Labelled),
    props: Type.Array(Type.String()),
    queryParams: Type.Array(Type.String()),
    lastVisitDay: Type.Boolean(),
    geography: Type.Object({
      precision: Type.Union([Type.Literal('none'), Type.Literal('country'), Type.Literal('region'), Type.Literal('city')]),
      truncateIp: Type.Boolean(),
      text: Type.String(),
    }),
    notes: Type.Array(Type.String()),
  }),
  neverCollected: Type.Array(Type.String()),
  /** Every kind of identifier replaced by a placeholder before anything is stored: the built-in catalogue, then the site's own. */
  scrubbed: Type.Array(Type.Object({ kind: Type.String(), placeholder: Type.String(), text: Type.String() })),
  retention: Type.Object({ rawEventsDays: Type.Integer(), aggregatesDays: Type.Integer(), text: Type.String() }),
  minVisitors: Type.Object({ dashboard: Type.Integer(), shared: Type.Integer(), export: Type.Integer(), text: Type.String() }),
  noise: Type.Object({ exportEpsilon: Type.Union([Type.Number(), Type.Null()]), text: Type.String() }),
  visitorHash: Type.Object({ saltPeriodHours: Type.Integer(), persistSalt: Type.Boolean(), text: Type.String() }),
  consent: Type.Object({ dnt: Signal, gpc: Signal }),
  bots: Type.Object({ drop: Type.Boolean(), text: Type.String() }),
  excludedPaths: Type.Array(Type.String()),
  visitTimeoutMinutes: Type.Integer(),
  optOut: Type.Array(Type.String()),
})
export type Disclosure = Static<typeof DisclosureSchema>

function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}

function signalText(signal: 'Do Not Track' | 'Global Privacy Control', header: string, stance: ConsentStance): string {
  switch (stance) {
    case 'drop':
      return `If your browser sends a ${signal} signal (${header}), your visit is not recorded at all.`
    case 'count_without_hash':
      return `If your browser sends a ${signal} signal (${header}), your page views are counted, but without a visitor hash: they are not linked to one another, even within the same day.`
    case 'ignore':
      return `A ${signal} signal (${header}) is not acted upon: visits are recorded like any other, with the same non-personal, aggregate-only data.`
  }
}

function geographyText(p: SitePolicy): string {
  const place = { none: '', country: 'the country', region: 'the country and region', city: 'the country, region and city' }[p.geoPrecision]
  const network = p.dimensions.has('network') ? 'the network (the ISP or organisation that owns the address)' : ''
  const what = place && network ? `${place}, and ${network},` : place || network
  if (!what) return 'Nothing is looked up from your IP address.'
  const from = p.truncateIp ? 'a shortened IP address (the last part removed: IPv4 /24, IPv6 /48)' : 'your IP address'
  return `Only ${what} ${place && network ? 'are' : 'is'} looked up from ${from}, in databases on the server itself; no coordinates are kept and no outside service is asked.`
}

/** The disclosure for `site` (already lower case and normalised), or for the defaults when `site` is null. */
export function describePolicy(policy: Pick<Policy, 'name' | 'description' | 'source' | 'forSite'>, site: string | null): Disclosure {
  // With no site asked for, any name without a section of its own gets the defaults.
  const p = policy.forSite(site ?? '')
  const patterns = { ...p.patterns, siteSection: p.ownSection }
  const k = p.minVisitors
  const n = p.minNetworks
  const allowsAnyProp = patterns.props.includes('*')
  // Without the utm dimension the collector keeps no query parameter at all.
  const keptParams = p.dimensions.has('utm') ? patterns.queryParams : []

  const dimensions = [...p.dimensions]
    .filter((d) => !GEO_DIMENSIONS[d] || GEO_DIMENSIONS[d].includes(p.geoPrecision))
    .map((name) => ({ name, text: DIMENSION_LABELS[name] ?? name }))
  const events = [...p.kinds].map((name) => ({ name, text: EVENT_LABELS[name] ?? name }))

  const notes: string[] = []
  if (p.kinds.has('custom')) {
    notes.push(patterns.customNames.includes('*')
      ? 'Custom events may have any name the site chooses.'
      : `Custom events are kept only when their name matches: ${list(patterns.customNames)}.`)
    notes.push('A custom event may carry an amount of revenue and its currency (such as the total of an order), never who paid it or how.')
  }
  if (patterns.props.length > 0) {
    notes.push(allowsAnyProp
      ? 'Events may carry properties the site chooses (such as the name of a form); their values are scrubbed of personal data first.'
      : `Events may carry only these properties: ${list(patterns.props)}; their values are scrubbed of personal data first.`)
  }
  notes.push(keptParams.length > 0
    ? `Of the page address, only the path and these query parameters are kept: ${list(keptParams)}.`
    : 'Of the page address, only the path is kept; the query string is removed.')
  if (p.lastVisitDay) {
    notes.push('To tell new from returning visits, your browser may keep the date of your last visit to the site (a day, no time and no identifier); only "new" or "returning" is sent, never the date itself.')
  }
  notes.push(`A visit ends after ${plural(p.visitTimeoutMinutes, 'minute')} without activity.`)

  const neverCollected = [
    'Your IP address. It is used only in memory, for the location lookup and the visitor hash, and then discarded: it is never written to disk, to the database or to a log.',
    'The raw User-Agent string of your browser. Only the browser, operating system and device names derived from it are kept, where listed above.',
    p.lastVisitDay
      ? 'Cookies, device identifiers or fingerprints: apart from the date of your last visit (above), nothing is kept on your device, and nothing identifies it on the server.'
      : 'Cookies, device identifiers or fingerprints: nothing is stored on your device and nothing identifies it on the server.',
    `Full page addresses: the query string is cut off${keptParams.length > 0 ? ` except for the allowed parameters (${list(keptParams)})` : ''}, and so is the part after # (unless the site addresses its pages by it).`,
    'E-mail addresses, phone, card and bank account numbers, national identity numbers, IP addresses, tokens and similar identifiers found in page and referrer addresses, campaign tags, event names or properties: they are replaced by placeholders such as [email] before anything is stored (every kind is listed below).',
    'Your name, e-mail address, postal address, phone number, postal code, gender, year of birth, or any account or login information.',
  ]

  const optOut = [
    'Ask the site to exclude your browser, or do it yourself: the tracker sends nothing while localStorage.analytics_ignore is set to \'true\' for the site (for example by running localStorage.analytics_ignore = \'true\' in the browser console on the site).',
  ]
  if (p.dnt !== 'ignore') optOut.push(`Turn on Do Not Track in your browser: ${p.dnt === 'drop' ? 'your visits are then not recorded' : 'your page views are then counted without a visitor hash'}.`)
  if (p.gpc !== 'ignore') optOut.push(`Turn on Global Privacy Control in your browser: ${p.gpc === 'drop' ? 'your visits are then not recorded' : 'your page views are then counted without a visitor hash'}.`)
  optOut.push('Block the tracker script with a content blocker, or turn off JavaScript for the site.')

  return {
    policy: { name: policy.name, description: policy.description.trim() },
    site,
    rules: patterns.siteSection ? 'site' : 'defaults',
    purpose: 'To produce aggregate statistics about how the site is used (such as visitors, visits, page views, sources and popular pages) so that it can be improved. No number is published about an individual visitor and no individual visit is shown to anyone.',
    collected: {
      events,
      customEventNames: p.kinds.has('custom') ? patterns.customNames : [],
      dimensions,
      props: patterns.props,
      queryParams: keptParams,
      lastVisitDay: p.lastVisitDay,
      geography: { precision: p.geoPrecision, truncateIp: p.truncateIp, text: geographyText(p) },
      notes,
    },
    neverCollected,
    scrubbed: scrubbedKinds(p.scrub).map(({ id, placeholder, label }) => ({ kind: id, placeholder, text: label })),
    retention: {
      rawEventsDays: p.rawEventsDays,
      aggregatesDays: p.aggregatesDays,
      text: `Individual events (one row per page view or event, with no IP address and no identifier) are deleted after ${plural(p.rawEventsDays, 'day')}. Aggregate statistics (daily totals and breakdowns) are deleted after ${plural(p.aggregatesDays, 'day')}.`,
    },
    minVisitors: {
      dashboard: k.dashboard,
      shared: k.shared,
      export: k.export,
      text:
        `A number is shown only when it is drawn from at least ${plural(k.dashboard, 'distinct visitor')} on the site's own dashboards, ${k.shared} on shared dashboard links, and ${k.export} in exports for the public or third parties, ` +
        `coming from at least as many distinct networks (${n.dashboard}, ${n.shared} and ${n.export}: an IPv4 /24 or IPv6 /48 block, counted through a hash that changes daily, never stored), so that one connection posing as many browsers cannot make a group. ` +
        'A smaller group is withheld exactly as an empty one, and so is a number that differs from a neighbouring question (one filter less, one day more, the total of a row) by fewer than that many visitors.',
    },
    noise: {
      exportEpsilon: p.exportEpsilon,
      text: [
        p.epsilon.shared === null ? 'Shared dashboard links show exact numbers.' : `Shared dashboard links add consistent random noise to every count (ε = ${p.epsilon.shared}): the same number always gets the same noise, so asking again reveals nothing more.`,
        p.exportEpsilon === null ? 'Exported numbers are exact (small groups are withheld as above).' : `Random noise is added to exported numbers (differential privacy, ε = ${p.exportEpsilon}), so no export reveals whether one visitor was counted.`,
      ].join(' '),
    },
    visitorHash: {
      saltPeriodHours: p.saltPeriodHours,
      persistSalt: p.persistSalt,
      text: `To count unique visitors without cookies, the server computes a keyed hash of the site, your IP address and your browser's User-Agent with a random secret salt that is replaced every ${plural(p.saltPeriodHours, 'hour')}. ${p.persistSalt ? 'The salt is kept in the analytics database during its period, shared by the collector servers so that a restart does not change it,' : 'The salt is kept in memory only'} and is deleted when its period ends: after that nobody, the site included, can recompute a hash or link it to an IP address, and visits in different periods cannot be linked.`,
    },
    consent: {
      dnt: { stance: p.dnt, text: signalText('Do Not Track', 'DNT: 1', p.dnt) },
      gpc: { stance: p.gpc, text: signalText('Global Privacy Control', 'Sec-GPC: 1', p.gpc) },
    },
    bots: {
      drop: p.dropBots,
      text: p.dropBots ? 'Visits by known bots, crawlers and headless browsers, and referrer spam, are not counted.' : 'Visits by bots and crawlers are counted like any other.',
    },
    excludedPaths: patterns.excludePaths,
    visitTimeoutMinutes: p.visitTimeoutMinutes,
    optOut,
  }
}
