import type { SitePolicy, Policy } from '../../policy/policy.ts'
import type { EventKind } from '../../policy/schema.ts'
import type { GeoLocator } from '../lookups/geo.ts'
import type { NetworkLocator } from '../lookups/asn.ts'
import type { SaltStore } from '../salts.ts'
import type { ParsedAgent, UserAgentParser } from '../lookups/user-agents.ts'
import type { ReferrerSpamList } from '../lookups/referrer-spam.ts'
import type { VisitTracker } from '../visits.ts'

/** Why an event was not stored. `invalid` is the client's fault (400); the rest are answered 202. */
export type DropReason =
  | 'invalid'
  | 'unknown_site'
  | 'bot'
  | 'referrer_spam'
  | 'consent_dnt'
  | 'consent_gpc'
  | 'kind_not_allowed'
  | 'excluded_path'
  | 'foreign_host'

export interface Drop {
  drop: DropReason
  /** For `invalid`: what was wrong, safe to show the client (never echoes the input). */
  detail?: string
}

/** What the HTTP layer hands over: the beacon as sent plus what the request itself says. */
export interface Incoming {
  body: unknown
  /** Only until `hashVisitor`; never stored, logged or spooled. */
  ip: string
  /** Only until `hashVisitor`; never stored, logged or spooled. */
  userAgent: string
  dnt: boolean
  gpc: boolean
  /** Milliseconds since the epoch when the event was received. */
  receivedAt: number
}

/** The one value the steps pass along. Steps fill fields in; after `hashVisitor` ip and userAgent are gone. */
export interface PipelineEvent {
  ip?: string
  userAgent?: string
  dnt: boolean
  gpc: boolean
  ts: number
  site: string
  policy: SitePolicy
  name: string
  kind: EventKind
  url: string
  /** `url` as parseBeacon parsed it, so that it is parsed once. */
  parsedUrl?: URL
  /** The User-Agent as dropBots looked it up, so that parseUserAgent need not look again. */
  parsedAgent?: ParsedAgent
  referrer: string
  /** `referrer` as the first step to read it parsed it (null: none, or not a URL), so that it is parsed once. */
  parsedReferrer?: URL | null
  props: Record<string, string>
  screenWidth: number
  engagementMs: number
  hashMode: boolean
  /** 0 new, 1 returning, 2 unknown (or not allowed by the policy). */
  returning: 0 | 1 | 2
  hostname: string
  pathname: string
  query: string
  utm: Record<'utm_source' | 'utm_medium' | 'utm_campaign' | 'utm_content' | 'utm_term', string>
  referrerHost: string
  referrerPath: string
  source: string
  channel: string
  browser: string
  browserVersion: string
  os: string
  osVersion: string
  device: string
  screen: string
  country: string
  region: string
  city: string
  network: string
  /** Decimal UInt64; '0' when the consent stance says count without a visitor hash. */
  visitorId: string
  withoutHash: boolean
  /** Decimal UInt64: the hashed /24 or /48 the event came from (collector/network-hash.ts); '0' without a visitor hash. */
  networkId: string
  /** Decimal UInt64; '0' for an event without a visitor hash (it belongs to no visit). */
  visitId: string
  /** FIRST_EVENT / FIRST_PAGEVIEW bits (collector/visits.ts): what the event is to its visit. */
  visitFlags: number
  /** Revenue in ten-thousandths of its currency's unit, as a decimal UInt64 ('0': none); see parse-revenue.ts. */
  revenueAmount: string
  /** Its ISO 4217 code ('' for none). */
  revenueCurrency: string
  /** An engagement ping's deepest scroll of its page view, 0..100; 255 when none is reported (parse-scroll-depth.ts). */
  scrollDepth: number
}

/** A row of the `events` table, exactly as spooled and inserted. */
export interface EventRow {
  site: string
  ts: number
  name: string
  visitor_id: string
  network_id: string
  visit_id: string
  visit_flags: number
  hostname: string
  pathname: string
  query: string
  referrer_host: string
  referrer_path: string
  source: string
  channel: string
  utm_source: string
  utm_medium: string
  utm_campaign: string
  utm_content: string
  utm_term: string
  browser: string
  browser_version: string
  os: string
  os_version: string
  device: string
  screen: string
  country: string
  region: string
  city: string
  network: string
  returning: number
  engagement_ms: number
  props: Record<string, string>
  revenue_amount: string
  revenue_currency: string
  scroll_depth: number
}

/** What every step may consult. Long-lived and shared. */
export interface PipelineContext {
  policy: Policy
  isKnownSite: (domain: string) => boolean
  geo: GeoLocator
  /** Present only when some site's policy allows the `network` dimension. */
  networks?: NetworkLocator | null
  salts: SaltStore
  /** Cuts visitors' events into visits as they arrive. */
  visits: VisitTracker
  userAgents: UserAgentParser
  /** The built-in referrer-spam list when absent; REFERRER_SPAM_FILES adds to it. */
  referrerSpam?: ReferrerSpamList
}

export type Step = (event: PipelineEvent, ctx: PipelineContext) => PipelineEvent | Drop

export function isDrop<T extends object>(v: T | Drop): v is Drop {
  return (v as Drop).drop !== undefined
}
