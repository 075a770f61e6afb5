/**
 * The collector's side of personal data in text: every string that enters the pipeline passes
 * through `scrubText` (the identifier catalogue, then the site's own `scrub.patterns`), and a
 * value whose key names personal or secret data is replaced whatever it looks like.
 */
import { scrubIdentifiers } from '../../identifiers/catalogue.ts'
import type { Placeholder } from '../../identifiers/kind.ts'
import type { SitePattern } from '../../identifiers/site-patterns.ts'

/** Keys whose values are personal or secret whatever they look like. */
const SECRET_KEY = /(?:^|[_.-])(?:token|session|sess|sid|password|passwd|pwd|secret|auth|key|api_?key|email|e-?mail|mail|tel|phone|mobile|address|addr|zip|postcode|postal|ssn|nino|name|firstname|lastname|surname|birth|dob|gender|user|username|login|uid|userid|account|card|iban)(?:$|[_.-])/i

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) || /^(?:token|session|password|email|tel|phone|address|zip|name|user|uid)/i.test(key)
}

/** Replaces every identifier of the catalogue and of the site's own patterns by its placeholder. */
export function scrubText(value: string, site: readonly SitePattern[] = NO_PATTERNS): string {
  if (value.length > MEMO_LENGTH) return scrubIdentifiers(value, site)
  let memo = memos.get(site)
  if (!memo) memos.set(site, (memo = new Map()))
  let clean = memo.get(value)
  if (clean === undefined) {
    clean = scrubIdentifiers(value, site)
    if (memo.size >= MEMO_ENTRIES) memo.clear()
    memo.set(value, clean)
  }
  return clean
}

/**
 * The same texts come back beacon after beacon (a site's paths, referrers, campaign names), and
 * scanning one through the whole catalogue was the pipeline's dearest step after hashing: what
 * each text scrubs to is kept, by the site patterns it was scrubbed with, for texts up to
 * MEMO_LENGTH characters. In memory only, as the User-Agent and referrer caches, and dropped
 * whole once MEMO_ENTRIES are held (no order to keep: a popular text is back at once).
 */
const memos = new WeakMap<readonly SitePattern[], Map<string, string>>()
const NO_PATTERNS: readonly SitePattern[] = []
const MEMO_LENGTH = 256
const MEMO_ENTRIES = 8192

/** The placeholder for the value of a key that names personal or secret data. */
export function placeholderForKey(key: string): Placeholder {
  const k = key.toLowerCase()
  if (/mail/.test(k)) return '[email]'
  if (/tel|phone|mobile/.test(k)) return '[phone]'
  if (/(?:^|[_.-])ip(?:$|[_.-])|^ip/.test(k)) return '[ip]'
  if (/iban/.test(k)) return '[iban]'
  if (/card/.test(k)) return '[card]'
  if (/ssn|nino/.test(k)) return '[national-id]'
  if (/token|password|passwd|pwd|secret|auth|key/.test(k)) return '[token]'
  if (/session|sess|sid/.test(k)) return '[session]'
  return '[id]'
}

/** A key/value pair as it may be stored: secret-looking keys lose their value, other values are scrubbed. */
export function scrubPair(key: string, value: string, site: readonly SitePattern[] = []): string {
  return isSecretKey(key) ? placeholderForKey(key) : scrubText(value, site)
}
