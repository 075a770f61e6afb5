import { CATALOGUE, scrubIdentifiers, type KindInfo } from '../identifiers/catalogue.ts'
import type { SitePattern } from '../identifiers/site-patterns.ts'
import type { Policy } from '../policy/policy.ts'
import type { AuditFinding } from './audit.ts'

/**
 * What the audit looks for is what the collector scrubs: the identifier catalogue
 * (identifiers/catalogue.ts) and every site's own `scrub.patterns`, run by the same code. The
 * store narrows its rows first with the kinds' hints (RE2, in ClickHouse's `match`); the
 * catalogue then decides here, checksums included, so the audit and the scrubber cannot drift.
 */

/** Every identifier in a text, as [kind, value], in the order the collector would replace them. */
export function identifiersIn(text: string, site: readonly SitePattern[]): [KindInfo, string][] {
  const found: [KindInfo, string][] = []
  scrubIdentifiers(text, site, (kind, value) => found.push([kind, value]))
  return found
}

/** The own patterns of every site of the policy, each once: a row of most tables names no site. */
export function policyPatterns(policy: Pick<Policy, 'all'>): SitePattern[] {
  const seen = new Map<string, SitePattern>()
  for (const rules of policy.all()) for (const p of rules.scrub) seen.set(`${p.id}\0${p.source}`, p)
  return [...seen.values()]
}

/** RE2 that every text holding an identifier matches (the kinds' hints, the site patterns): the store's pre-filter. */
export function prefilter(site: readonly SitePattern[]): string {
  return '(?i)' + [...CATALOGUE.map((k) => k.hint), ...site.map((p) => p.source)].map((h) => `(?:${h})`).join('|')
}

/**
 * Findings by place and kind: how many values hold one (a value counted once per kind, `weight`
 * times when it stands for that many rows) and the masked start of the first.
 */
export class FindingTally {
  private readonly found = new Map<string, AuditFinding>()

  constructor(private readonly site: readonly SitePattern[]) {}

  add(where: string, text: string, weight = 1, ignore?: (kind: KindInfo, value: string) => boolean): void {
    const counted = new Set<string>()
    for (const [kind, value] of identifiersIn(text, this.site)) {
      if (counted.has(kind.id) || ignore?.(kind, value)) continue
      counted.add(kind.id)
      const key = `${where}\0${kind.id}`
      const f = this.found.get(key)
      if (f) f.count += weight
      else this.found.set(key, { where, kind: kind.placeholder, detail: kind.label, count: weight, sample: mask(value) })
    }
  }

  /** Whether `add` would find anything in `text` (a field name that is itself a finding is not printed). */
  holdsAny(text: string): boolean {
    return identifiersIn(text, this.site).length > 0
  }

  findings(): AuditFinding[] {
    return [...this.found.values()]
  }
}

/** The first two characters and an ellipsis: enough to recognise a finding, never the value. */
export function mask(value: string | null | undefined): string | undefined {
  if (!value) return undefined
  return Array.from(value).slice(0, 2).join('') + '…'
}

/** Column names that say the column holds personal data, whatever is in it today. */
const PII_COLUMN_NAMES = new Set([
  'ip', 'ipv4', 'ipv6', 'ip_address', 'ip_addr', 'ipaddr', 'ipaddress', 'client_ip', 'remote_ip', 'remote_addr',
  'remote_address', 'x_forwarded_for', 'forwarded_for', 'user_agent', 'useragent', 'ua', 'ua_string', 'email',
  'e_mail', 'email_address', 'mail', 'phone', 'phone_number', 'telephone', 'tel', 'mobile', 'first_name',
  'last_name', 'full_name', 'given_name', 'family_name', 'surname', 'username', 'user_name', 'address',
  'street', 'street_address', 'postal_code', 'postcode', 'zip', 'zip_code', 'zipcode', 'birth_date',
  'birthdate', 'date_of_birth', 'dob', 'year_of_birth', 'birth_year', 'gender', 'sex', 'ssn', 'password', 'cookie',
])
/** Words that mark a personal column inside a longer name (`visitor_ip`, `contact_email`). */
const PII_NAME_WORDS = new Set(['ip', 'ipv4', 'ipv6', 'email', 'phone', 'useragent', 'ua', 'ssn', 'dob', 'birthdate', 'postcode', 'zipcode', 'gender', 'password'])

/** The PII a column's name suggests (`ip`, `user_agent`...), or null. */
export function piiColumnName(column: string): string | null {
  const snake = column.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()
  if (PII_COLUMN_NAMES.has(snake)) return snake
  const word = snake.split(/[_.-]+/).find((w) => PII_NAME_WORDS.has(w))
  return word ?? null
}
