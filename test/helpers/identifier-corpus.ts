/**
 * A corpus made by the tests themselves: synthetic but valid values of every kind of the
 * identifier catalogue (check digits computed, phone numbers the phone library accepts, IPs
 * from the documentation ranges), the realistic URLs and texts they are planted in, and
 * ordinary URLs that must survive the scrubber untouched. Seeded, so every run sees the same.
 */
import { composeIBAN, friendlyFormatIBAN } from 'ibantools'
import { parsePhoneNumberFromString } from 'libphonenumber-js/min'
import { codiceFiscaleValid, luhn, mod, spanishIdLetter, verhoeff } from '../../identifiers/checksums.ts'

/** mulberry32: a small seeded generator, so that the corpus is the same on every run. */
export function rng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]
  const digits = (n: number) => Array.from({ length: n }, () => int(0, 9)).join('')
  const chars = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[int(0, alphabet.length - 1)]).join('')
  return { next, int, pick, digits, chars }
}
export type Rng = ReturnType<typeof rng>

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const DIGITS = '0123456789'
const ALNUM = UPPER + LOWER + DIGITS
const HEX = '0123456789abcdef'
const B64URL = ALNUM + '-_'

const pad = (n: number, w: number) => String(n).padStart(w, '0')
/** A value whose every class (digit, lower, upper) is present: what a real random token looks like. */
function randomToken(r: Rng, alphabet: string, n: number): string {
  for (;;) {
    const t = r.chars(alphabet, n)
    if (/\d/.test(t) && /[a-z]/.test(t) && /[A-Z]/.test(t)) return t
  }
}
function withLuhn(body: string): string {
  for (let d = 0; d < 10; d++) if (luhn(body + d)) return body + d
  throw new Error('unreachable')
}
function validPhone(r: Rng, make: () => string): string {
  for (;;) {
    const s = make()
    if (parsePhoneNumberFromString(s.replace(/^00/, '+'))?.isValid()) return s
  }
}
const base64url = (s: string) => Buffer.from(s).toString('base64url')

/** One synthetic value of each kind of the catalogue, by kind id, in the formats people write. */
export const GENERATORS: Record<string, (r: Rng) => string> = {
  email: (r) => {
    const local = `${r.pick(['jane', 'max', 'ana', 'li', 'omar'])}${r.pick(['.', '_', '+news.', ''])}${r.pick(['doe', 'roe', 'smith'])}${r.int(1, 99)}`
    const domain = `${r.pick(['example', 'mail.example', 'corp.example'])}.${r.pick(['com', 'org', 'net', 'co.uk'])}`
    const address = r.next() < 0.2 ? `${local}@${domain}`.toUpperCase() : `${local}@${domain}`
    return r.next() < 0.25 ? address.replace('@', '%40') : address
  },
  'phone-international': (r) =>
    validPhone(r, () =>
      r.pick([
        () => `+44 20 7946 0${r.digits(3)}`,
        () => `+44 7700 900${r.digits(3)}`,
        () => `+1 ${r.pick(['202', '212', '415', '617'])}-555-01${r.digits(2)}`,
        () => `+1 (${r.pick(['202', '312'])}) 555-01${r.digits(2)}`,
        () => `+49 30 ${r.int(2, 9)}${r.digits(6)}`,
        () => `+49 151 ${r.digits(8)}`,
        () => `+33 6 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
        () => `0044 20 7946 0${r.digits(3)}`,
        () => `+4420794600${r.digits(2)}`,
      ])(),
    ),
  'phone-national': (r) =>
    r.pick([
      () => `020 7946 0${r.digits(3)}`,
      () => `0171 ${r.int(2, 9)}${r.digits(6)}`,
      () => `030 ${r.int(2, 9)}${r.digits(6)}`,
      () => `(${r.pick(['202', '415'])}) 555-01${r.digits(2)}`,
      () => `${r.pick(['202', '415', '617'])}-555-01${r.digits(2)}`,
      () => `${r.pick(['202', '415'])}.555.01${r.digits(2)}`,
      () => `06 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
      () => `0${r.int(6, 7)}${r.digits(8)}`,
      () => `${r.pick(['202', '415'])}555${r.int(2, 9)}${r.digits(3)}`,
    ])(),
  card: (r) => {
    const [prefix, length, groups] = r.pick([
      ['4', 16, [4, 4, 4, 4]],
      [String(r.int(51, 55)), 16, [4, 4, 4, 4]],
      [r.pick(['34', '37']), 15, [4, 6, 5]],
      ['6011', 16, [4, 4, 4, 4]],
    ] as const)
    const number = withLuhn(prefix + r.digits(length - prefix.length - 1))
    const sep = r.pick(['', ' ', '-'])
    let i = 0
    return groups.map((g) => number.slice(i, (i += g))).join(sep)
  },
  iban: (r) => {
    for (;;) {
      const [countryCode, bban] = r.pick([
        () => ['DE', r.digits(18)],
        () => ['GB', `${r.chars(UPPER, 4)}${r.digits(14)}`],
        () => ['NL', `${r.chars(UPPER, 4)}${r.digits(10)}`],
        () => ['AT', r.digits(16)],
        () => ['CH', r.digits(17)],
      ])()
      const iban = composeIBAN({ countryCode, bban })
      if (!iban) continue
      const form = r.int(0, 2)
      return form === 0 ? iban : form === 1 ? friendlyFormatIBAN(iban)! : iban.toLowerCase()
    }
  },
  'us-ssn': (r) => {
    let area = r.int(1, 899)
    if (area === 666) area = 667
    return [pad(area, 3), pad(r.int(1, 99), 2), pad(r.int(1, 9999), 4)].join(r.pick(['-', ' ']))
  },
  'uk-nino': (r) => {
    for (;;) {
      const prefix = r.chars('ABCEGHJKLMNOPRSTWXYZ', 1) + r.chars('ABCEGHJKLMNPRSTWXYZ', 1)
      if (['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(prefix) || /^O/.test(prefix)) continue
      const d = r.digits(6)
      const suffix = r.pick(['A', 'B', 'C', 'D'])
      return r.next() < 0.5 ? `${prefix}${d}${suffix}` : `${prefix} ${d.slice(0, 2)} ${d.slice(2, 4)} ${d.slice(4)} ${suffix}`
    }
  },
  'ca-sin': (r) => {
    const n = withLuhn(r.pick(['1', '2', '3', '4', '5', '6', '7', '9']) + r.digits(7))
    const sep = r.pick(['-', ' '])
    return `${n.slice(0, 3)}${sep}${n.slice(3, 6)}${sep}${n.slice(6)}`
  },
  'in-aadhaar': (r) => {
    const body = String(r.int(2, 9)) + r.digits(10)
    const n = [...DIGITS].map((d) => body + d).find(verhoeff)!
    const sep = r.pick([' ', '-'])
    return `${n.slice(0, 4)}${sep}${n.slice(4, 8)}${sep}${n.slice(8)}`
  },
  'fr-nir': (r) => {
    const dept = r.next() < 0.1 ? r.pick(['2A', '2B']) : pad(r.int(1, 95), 2)
    const body = `${r.int(1, 2)}${r.digits(2)}${pad(r.int(1, 12), 2)}${dept}${r.digits(3)}${r.digits(3)}`
    const numeric = body.replace('2A', '19').replace('2B', '18')
    const key = pad(97 - mod(numeric, 97), 2)
    const parts = [body.slice(0, 1), body.slice(1, 3), body.slice(3, 5), body.slice(5, 7), body.slice(7, 10), body.slice(10, 13), key]
    return parts.join(r.pick([' ', '']))
  },
  'es-dni': (r) => {
    if (r.next() < 0.5) {
      const n = r.digits(8)
      return `${n}${r.pick(['', '-'])}${spanishIdLetter(n)}`
    }
    const n = r.pick(['X', 'Y', 'Z']) + r.digits(7)
    return `${n}${spanishIdLetter(n)}`
  },
  'it-codice-fiscale': (r) => {
    const body = `${r.chars(UPPER, 6)}${r.digits(2)}${r.chars('ABCDEHLMPRST', 1)}${pad(r.int(1, 71), 2)}${r.chars(UPPER, 1)}${r.digits(3)}`
    return [...UPPER].map((c) => body + c).find(codiceFiscaleValid)!
  },
  ipv4: (r) => `${r.pick(['192.0.2', '198.51.100', '203.0.113'])}.${r.int(1, 254)}`,
  ipv6: (r) =>
    r.pick([
      () => `2001:db8::${r.chars(HEX, 4)}`,
      () => `2001:db8:${r.int(1, 0xffff).toString(16)}::${r.chars(HEX, 2)}:${r.chars(HEX, 4)}`,
      () => `2001:0db8:${Array.from({ length: 6 }, () => r.chars(HEX, 4)).join(':')}`,
    ])(),
  uuid: (r) => `${r.chars(HEX, 8)}-${r.chars(HEX, 4)}-4${r.chars(HEX, 3)}-${r.pick(['8', '9', 'a', 'b'])}${r.chars(HEX, 3)}-${r.chars(HEX, 12)}`,
  'hex-token': (r) => {
    for (;;) {
      const t = r.chars(HEX, r.pick([32, 40, 64]))
      if (/\d/.test(t)) return r.next() < 0.2 ? t.toUpperCase() : t
    }
  },
  'base64-token': (r) => randomToken(r, ALNUM, r.int(32, 48)) + r.pick(['', '=', '==']),
  jwt: (r) =>
    [base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })), base64url(JSON.stringify({ sub: r.digits(8), iat: r.int(1.7e9, 1.8e9) })), randomToken(r, B64URL, 43)].join('.'),
  'api-key': (r) =>
    r.pick([
      () => `ghp_${randomToken(r, ALNUM, 36)}`,
      () => `github_pat_${randomToken(r, ALNUM, 22)}_${randomToken(r, ALNUM, 59)}`,
      () => `sk_live_${randomToken(r, ALNUM, 24)}`,
      () => `pk_test_${randomToken(r, ALNUM, 24)}`,
      () => `AKIA${r.chars(UPPER + DIGITS, 16)}`,
      () => `AIza${randomToken(r, B64URL, 35)}`,
      () => `xoxb-${r.digits(12)}-${r.digits(13)}-${randomToken(r, ALNUM, 24)}`,
      () => `npm_${randomToken(r, ALNUM, 36)}`,
      () => `glpat-${randomToken(r, ALNUM, 20)}`,
      () => `sk-proj-${randomToken(r, B64URL, 48)}`,
    ])(),
  bearer: (r) => `Bearer ${r.chars(ALNUM + '._~', 24)}`,
  'session-parameter': (r) => r.pick([`;jsessionid=${r.chars('0123456789ABCDEF', 32)}`, `;PHPSESSID=${r.chars('0123456789abcdefghijklmnopqrstuv', 26)}`]),
  'session-path': (r) => `/${r.pick(['sid', 'session'])}/${randomToken(r, ALNUM, 16)}`,
  'user-agent': (r) =>
    r.pick([
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
      'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
    ]),
}

/**
 * The part of a planted value that must not survive: the session id after `;jsessionid=`, the
 * credential after `Bearer `, the id after `/sid/` (the marker words themselves may stay).
 */
export function secretPart(kind: string, value: string): string {
  if (kind === 'session-parameter') return value.slice(value.indexOf('=') + 1)
  if (kind === 'bearer') return value.slice('Bearer '.length)
  if (kind === 'session-path') return value.slice(value.lastIndexOf('/') + 1)
  return value
}

/** Where a site's text carries a value, as the pipeline reads it (paths already percent-decoded). */
export const CONTEXTS: readonly ((v: string, r: Rng) => string)[] = [
  (v) => `/account/${v}/settings`,
  (v) => `/pay/${v}/confirm`,
  (v) => `/users/${v}`,
  (v, r) => `/orders/${r.int(10000, 99999)}/contact/${v}`,
  (v) => `contact: ${v} today`,
  (v) => `/search/${v}`,
  (v) => `${v}`,
  (v, r) => `/blog/2026/11/${r.int(10, 28)}/thanks-${v}`,
]

/** Session parameters and paths come with their own separators; they are planted after a path. */
export function plant(kind: string, value: string, context: (v: string, r: Rng) => string, r: Rng): string {
  if (kind === 'session-parameter') return `/app/cart${value}`
  if (kind === 'session-path') return `/shop${value}/basket`
  return context(value, r)
}

/** Ordinary URLs and texts that must come out of the scrubber exactly as they went in. */
export const ORDINARY: readonly string[] = [
  '/', '/blog/2026/11/29', '/blog/2026/11/29/how-to-write-good-tests', '/product/12345', '/products/shoes/red', '/2026-11-29/agenda',
  '/events/2026-01-31', '/dates/2026-11-29T10:00:00Z', '/docs/v2.3.1/install', '/release/v10.2.0', '/v/1.2.3.4.5', '/page/2', '/year/2024',
  '/api/v1/items', '/search/iphone 15 pro', '/items/SKU-12345-XL', '/orders/1002345', '/order/ORD-2026-000123', '/invoice/INV-000123456',
  '/ticket/12345678', '/status/1234567890123456789', '/watch/dQw4w9WgXcQ', '/r/programming/comments/abc123/a_title', '/en-us/store/b/laptops',
  '/maps/@52.5200,13.4050,15z', '/isbn/978-3-16-148410-0', '/tracking/1Z999AA10123456784', '/flight/LH400', '/time/10:30:00', '/price/19.99',
  '/color/ff5733', '/commit/9fceb02', '/tags/c++', '/wiki/Albert_Einstein', '/wiki/ISO_8601', '/zip/10115', '/stock/AAPL',
  '/products/B07XJ8C8F5', '/hotel/12345678-berlin', '/room/101', '/v2/users/me', '/cdn/img/1920x1080.jpg', '/download/app-1.0.0-x86_64.AppImage',
  '/x/1700000000000', '/t/1764400000', '/covid-19', '/game/1v1', '/session/new', '/sessions/settings', '/docs/std::vector',
  '/blog/how-to-configure-nginx-reverse-proxy-2024', '/docs/v2/getting-started-with-analytics', '/article/2026/11/29/some-title-123456',
  '/careers/engineering/senior-backend-engineer-berlin-2026', '/help/article/360001234567', '/catalog/0123', '/lotto/1 2 3 4 5 6',
  '/score/3-1', '/chapter/1.2', '/about', '/pricing', 'Pricing and plans', 'signup_complete', 'Outbound Link: Click', 'video_played_50',
  'order 12345 shipped', 'page 3 of 10', 'opens at 10:30:00', 'newsletter', 'spring_sale_2026', 'google.com', 'www.example.com/landing',
  '/de12-some-article-title-here', '/gb82-west-coast-road-trip-2026', '/order/2345678901',
]

/**
 * Ordinary texts the catalogue is known to alter, because nothing tells them from an identifier:
 * ten digits in North America's phone plan (`234 567 8901`) are read as a phone number.
 */
export const KNOWN_COLLATERAL: readonly string[] = ['/order/2345678901']
