/**
 * PII patterns, in one tested module. Every string that enters the pipeline passes
 * through `scrubText`; anything that looks personal is replaced by a typed placeholder.
 */
export type Placeholder = '[email]' | '[phone]' | '[ip]' | '[card]' | '[token]' | '[id]'

// The local part: RFC 5322 `atext` but `/` (a path before the address is kept), possibly empty
// (`/@a.example` still loses its `@a.example`)
const EMAIL = /[A-Za-z0-9!#$%&'*+=?^_`{|}~.-]*(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g
const UUID = /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g
const IPV4 = /\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/g
// Full and compressed IPv6 literals (at least three groups, or containing ::)
const IPV6 = /(?<![0-9A-Za-z:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?|::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})(?![0-9A-Za-z:])/g
const DIGIT_RUN = /(?<![\dA-Za-z])\+?\d[\d .()/-]{7,}\d(?![\dA-Za-z])/g
const HEX_TOKEN = /\b[0-9a-fA-F]{24,}\b/g
const B64_RUN = /(?<![A-Za-z0-9+_-])[A-Za-z0-9+_-]{32,}={0,2}/g
const DATE = /^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})$/

/** Keys whose values are personal or secret whatever they look like. */
const SECRET_KEY = /(?:^|[_.-])(?:token|session|sess|sid|password|passwd|pwd|secret|auth|key|api_?key|email|e-?mail|mail|tel|phone|mobile|address|addr|zip|postcode|postal|ssn|name|firstname|lastname|surname|birth|dob|gender|user|username|login|uid|userid|account|card|iban)(?:$|[_.-])/i

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) || /^(?:token|session|password|email|tel|phone|address|zip|name|user|uid)/i.test(key)
}

function luhn(digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

function digitRun(match: string): string {
  if (DATE.test(match.trim())) return match
  const digits = match.replace(/\D/g, '')
  if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) return '[card]'
  if (digits.length >= 7 && digits.length <= 15) return '[phone]'
  return match
}

/**
 * A long run of base64/base64url characters is a token when it mixes upper case, lower case
 * and digits, or when it is one unbroken word with many digits; `how-to-write-tests-2024` is a slug.
 */
function b64Run(match: string): string {
  const digits = (match.match(/\d/g) ?? []).length
  if (digits === 0) return match
  const mixed = /[a-z]/.test(match) && /[A-Z]/.test(match)
  const unbroken = !/[-_]/.test(match) && digits / match.length >= 0.2
  return mixed || unbroken ? '[token]' : match
}

/** Replaces e-mails, phone numbers, IP literals, card numbers, JWTs, long tokens and UUIDs. */
export function scrubText(value: string): string {
  if (value.length < 6) return value
  let s = value
  if (s.includes('@') || s.includes('%40')) s = s.replace(EMAIL, '[email]')
  s = s.replace(JWT, '[token]')
  s = s.replace(UUID, '[id]')
  s = s.replace(IPV4, '[ip]')
  if (s.includes(':')) s = s.replace(IPV6, (m) => (m.length >= 6 ? '[ip]' : m))
  s = s.replace(DIGIT_RUN, digitRun)
  s = s.replace(HEX_TOKEN, '[token]')
  s = s.replace(B64_RUN, b64Run)
  return s
}

/** The placeholder for the value of a key that names personal or secret data. */
export function placeholderForKey(key: string): Placeholder {
  const k = key.toLowerCase()
  if (/mail/.test(k)) return '[email]'
  if (/tel|phone|mobile/.test(k)) return '[phone]'
  if (/(?:^|[_.-])ip(?:$|[_.-])|^ip/.test(k)) return '[ip]'
  if (/card|iban/.test(k)) return '[card]'
  if (/token|session|sess|sid|password|passwd|pwd|secret|auth|key/.test(k)) return '[token]'
  return '[id]'
}

/** A key/value pair as it may be stored: secret-looking keys lose their value, other values are scrubbed. */
export function scrubPair(key: string, value: string): string {
  return isSecretKey(key) ? placeholderForKey(key) : scrubText(value)
}
