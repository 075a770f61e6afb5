import fs from 'node:fs'
import YAML from 'yaml'
import Value from 'typebox/value'
import { DIMENSIONS, EVENT_KINDS, PolicyFile, type Dimension, type EventKind, type PolicyFileInput, type SiteRulesInput } from './schema.ts'
import { compileSitePatterns, sitePatternProblem, type SitePattern } from '../identifiers/site-patterns.ts'

export type ConsentStance = 'drop' | 'count_without_hash' | 'ignore'
export type Audience = 'dashboard' | 'shared' | 'export'

/** One site's rules with every gap filled and every pattern compiled. */
export interface SitePolicy {
  kinds: ReadonlySet<EventKind>
  customName: (name: string) => boolean
  dimensions: ReadonlySet<Dimension>
  prop: (key: string) => boolean
  queryParam: (key: string) => boolean
  lastVisitDay: boolean
  geoPrecision: 'none' | 'country' | 'region' | 'city'
  truncateIp: boolean
  saltPeriodHours: number
  persistSalt: boolean
  dnt: ConsentStance
  gpc: ConsentStance
  dropBots: boolean
  excludedPath: (path: string) => boolean
  rawEventsDays: number
  aggregatesDays: number
  minVisitors: Record<Audience, number>
  /** Distinct networks (hashed /24 or /48) a published number needs beside its visitors: never fewer than minVisitors. */
  minNetworks: Record<Audience, number>
  /** The ε of the consistent noise each audience's numbers carry; null: exact. */
  epsilon: Record<Audience, number | null>
  exportEpsilon: number | null
  visitTimeoutMinutes: number
  /** The pattern lists as written (after merging), for the disclosure. */
  patterns: { customNames: string[]; props: string[]; queryParams: string[]; excludePaths: string[] }
  /** Whether the file has a section of its own for this site (else `defaults` apply). */
  ownSection: boolean
  /** The site's own identifiers (`scrub.patterns`), scrubbed after the built-in catalogue's. */
  scrub: readonly SitePattern[]
}

export interface Policy {
  name: string
  description: string
  file: string
  /** The rules for a site: its own section merged over `defaults`. */
  forSite(site: string): SitePolicy
  /** The parsed file, for the disclosure page. */
  source: unknown
  /** The defaults and every site's rules: to know whether any site needs a resource. */
  all(): SitePolicy[]
}

/** The strict default: what applies to any key a file leaves out. */
const BUILT_IN: Required<SiteRulesInput> = {
  events: { kinds: [...EVENT_KINDS], custom_names: ['*'] },
  dimensions: DIMENSIONS.filter((d) => d !== 'network'),
  props: ['*'],
  query_params: ['utm_*', 'ref', 'source'],
  last_visit_day: false,
  ip: { geo_precision: 'city', truncate: false },
  visitor_hash: { salt_period_hours: 24, persist_salt: false },
  consent: { dnt: 'drop', gpc: 'drop' },
  bots: 'drop',
  exclude_paths: [],
  retention: { raw_events_days: 30, aggregates_days: 760 },
  min_visitors: { dashboard: 5, shared: 5, export: 5 },
  min_networks: {},
  noise: { dashboard_epsilon: null, shared_epsilon: 0.5, export_epsilon: 0.5 },
  visit_timeout_minutes: 30,
  scrub: { patterns: [] },
}

export class PolicyError extends Error {}

/** `*` matches any run of characters; everything else is literal. Case-insensitive. */
export function globMatcher(patterns: readonly string[]): (value: string) => boolean {
  if (patterns.length === 0) return () => false
  if (patterns.includes('*')) return () => true
  const escaped = patterns.map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'))
  const re = new RegExp(`^(?:${escaped.join('|')})$`, 'i')
  return (value) => re.test(value)
}

/** Path patterns: `*` matches any run, `/kids/*` covers the whole section; a trailing `/` does not matter. */
function pathMatcher(patterns: readonly string[]): (path: string) => boolean {
  const match = globMatcher(patterns)
  return (path) => {
    const bare = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
    return match(path) || match(bare) || match(bare + '/')
  }
}

function merge(base: SiteRulesInput, over: SiteRulesInput | undefined): SiteRulesInput {
  if (!over) return base
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const prev = (base as Record<string, unknown>)[key]
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? { ...prev, ...value }
        : value
  }
  return out as SiteRulesInput
}

/** Each audience's network rule: its own minimum visitors unless the file raises it; lowering it is an error. */
function minNetworks(rules: Required<SiteRulesInput>): Record<Audience, number> {
  const k = rules.min_visitors as Record<Audience, number>
  const n = rules.min_networks as Partial<Record<Audience, number>>
  const out = {} as Record<Audience, number>
  for (const a of Object.keys(k) as Audience[]) {
    if (n[a] !== undefined && n[a]! < k[a]) throw new PolicyError(`min_networks.${a} (${n[a]}) is below min_visitors.${a} (${k[a]}): the network rule can only raise the minimum`)
    out[a] = n[a] ?? k[a]
  }
  return out
}

function compile(r: SiteRulesInput, ownSection: boolean): SitePolicy {
  const rules = r as Required<SiteRulesInput>
  return {
    kinds: new Set(rules.events.kinds),
    customName: globMatcher(rules.events.custom_names ?? []),
    dimensions: new Set(rules.dimensions),
    prop: globMatcher(rules.props),
    queryParam: globMatcher(rules.query_params),
    lastVisitDay: rules.last_visit_day,
    geoPrecision: rules.ip.geo_precision!,
    truncateIp: rules.ip.truncate!,
    saltPeriodHours: rules.visitor_hash.salt_period_hours!,
    persistSalt: rules.visitor_hash.persist_salt!,
    dnt: rules.consent.dnt!,
    gpc: rules.consent.gpc!,
    dropBots: rules.bots === 'drop',
    excludedPath: pathMatcher(rules.exclude_paths),
    rawEventsDays: rules.retention.raw_events_days!,
    aggregatesDays: rules.retention.aggregates_days!,
    minVisitors: rules.min_visitors as Record<Audience, number>,
    minNetworks: minNetworks(rules),
    epsilon: { dashboard: rules.noise.dashboard_epsilon ?? null, shared: rules.noise.shared_epsilon ?? null, export: rules.noise.export_epsilon ?? null },
    exportEpsilon: rules.noise.export_epsilon ?? null,
    visitTimeoutMinutes: rules.visit_timeout_minutes,
    patterns: {
      customNames: [...(rules.events.custom_names ?? [])],
      props: [...rules.props],
      queryParams: [...rules.query_params],
      excludePaths: [...rules.exclude_paths],
    },
    ownSection,
    scrub: compileSitePatterns(rules.scrub.patterns ?? []),
  }
}

/** Every `scrub.patterns` entry must be linear-time RE2 (identifiers/site-patterns.ts); the error names the entry. */
function checkScrubPatterns(parsed: PolicyFileInput, file: string) {
  const sections = [['defaults', parsed.defaults], ...Object.entries(parsed.sites ?? {}).map(([site, rules]) => [`sites.${site}`, rules])] as [string, SiteRulesInput | undefined][]
  for (const [where, rules] of sections) {
    rules?.scrub?.patterns?.forEach((p, i) => {
      const problem = sitePatternProblem(p.pattern)
      if (problem) throw new PolicyError(`policy ${file}: ${where}.scrub.patterns.${i}.pattern ${problem}`)
    })
  }
}

/** Validates a parsed policy file; the error names the key and the problem. */
export function buildPolicy(parsed: unknown, file = '(inline)'): Policy {
  if (!Value.Check(PolicyFile, parsed)) {
    const errors = [...Value.Errors(PolicyFile, parsed)]
    const first = errors.find((e) => e.keyword !== 'boolean') ?? errors[0]
    const where = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '(top level)'
    const extra = first?.keyword === 'additionalProperties' ? `: unknown key(s) ${JSON.stringify((first.params as { additionalProperties: string[] }).additionalProperties)}` : ''
    // A union of literals fails once per literal: name them all instead
    const allowed = errors
      .filter((e) => e.instancePath === first?.instancePath && (e.keyword === 'const' || e.keyword === 'enum'))
      .flatMap((e) => {
        const p = e.params as { allowedValue?: unknown; allowedValues?: unknown[] }
        return p.allowedValues ?? (p.allowedValue !== undefined ? [p.allowedValue] : [])
      })
    const message = allowed.length ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` : (first?.message ?? 'is invalid')
    throw new PolicyError(`policy ${file}: ${where} ${message}${extra}`)
  }
  checkScrubPatterns(parsed, file)
  const defaults = merge(BUILT_IN, parsed.defaults)
  const fallback = compile(defaults, false)
  const perSite = new Map<string, SitePolicy>()
  for (const [site, rules] of Object.entries(parsed.sites ?? {})) perSite.set(site.toLowerCase(), compile(merge(defaults, rules), true))
  return {
    name: parsed.name ?? file,
    description: parsed.description ?? '',
    file,
    source: parsed,
    forSite: (site) => perSite.get(site) ?? fallback,
    all: () => [fallback, ...perSite.values()],
  }
}

export function loadPolicy(file: string): Policy {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new PolicyError(`policy ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let parsed: unknown
  try {
    parsed = YAML.parse(text)
  } catch (err) {
    throw new PolicyError(`policy ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  return buildPolicy(parsed, file)
}
