/**
 * What the audit looks for, written once for both engines: each pattern is valid RE2 (what
 * ClickHouse's `match`/`extract` use: no look-behind) and valid JavaScript, and has exactly one
 * capturing group, around the finding itself (so `extract` answers the finding, not its context).
 * The shapes follow collector/privacy/pii.ts but are kept apart on purpose: the audit checks
 * the scrubber's work, so a mistake in the scrubber must not be copied into its check.
 */
export interface PiiPattern {
  /** The scrubber's placeholder for this kind of data, or `[user-agent]`. */
  kind: '[email]' | '[ip]' | '[card]' | '[token]' | '[id]' | '[user-agent]'
  label: string
  source: string
}

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])'
const H = '[0-9A-Fa-f]{1,4}'

export const PII_PATTERNS: readonly PiiPattern[] = [
  { kind: '[email]', label: 'e-mail address', source: String.raw`([A-Za-z0-9!#$%&'*+=?^_{|}~.-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,})` },
  { kind: '[ip]', label: 'IPv4 address', source: String.raw`\b(${OCTET}(?:\.${OCTET}){3})\b` },
  {
    kind: '[ip]',
    label: 'IPv6 address',
    // full, or compressed with `::`; not part of a longer run of hex digits and colons
    source: String.raw`(?:^|[^0-9A-Za-z:])((?:${H}:){7}${H}|(?:${H}:){1,7}:(?:${H}(?::${H}){0,6})?|::(?:${H}:){0,6}${H})(?:[^0-9A-Za-z:]|$)`,
  },
  { kind: '[card]', label: 'card-like run of 13-19 digits', source: String.raw`(?:^|[^0-9A-Za-z])([0-9](?:[ -]?[0-9]){12,18})(?:[^0-9A-Za-z]|$)` },
  { kind: '[token]', label: 'JSON Web Token', source: String.raw`\b(eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)` },
  { kind: '[token]', label: 'long hex token', source: String.raw`\b([0-9a-fA-F]{24,})\b` },
  { kind: '[id]', label: 'UUID', source: String.raw`\b([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b` },
  { kind: '[user-agent]', label: 'User-Agent string', source: String.raw`(Mozilla/[0-9]\.[0-9] \(|AppleWebKit/[0-9]|Gecko/[0-9])` },
]

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
