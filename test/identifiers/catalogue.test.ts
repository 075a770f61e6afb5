/**
 * Each kind of the identifier catalogue: what it takes (with its own placeholder) and the
 * near-misses it must leave alone, checksums first among them.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CATALOGUE, scrubIdentifiers } from '../../identifiers/catalogue.ts'
import { codiceFiscaleValid, luhn, spanishIdLetter, verhoeff } from '../../identifiers/checksums.ts'

/** Per kind: texts it scrubs (to the expected output) and texts no kind may touch. */
const EXAMPLES: Record<string, { hits: [string, string][]; misses: string[] }> = {
  email: {
    hits: [
      ['/unsubscribe/jane.doe@example.com/confirm', '/unsubscribe/[email]/confirm'],
      ['jane.doe%40example.com', '[email]'],
      ['/u/JANE%2540EXAMPLE.COM', '/u/[email]'],
      ['a@b.co', '[email]'],
      ['/u/x~@example.com/x', '/u/[email]/x'],
    ],
    misses: ['/@jane', 'user@localhost', '/maps/@52.52,13.40,15z'],
  },
  'phone-international': {
    hits: [['call +44 20 7946 0958 now', 'call [phone] now'], ['+1 (202) 555-0143', '[phone]'], ['0049 30 1234567', '[phone]'], ['+1 202-555-0143 ext', '[phone] ext']],
    misses: ['+1 123 456 7890', 'iphone+15', 'v2+1'],
  },
  'phone-national': {
    hits: [['call 020 7946 0958', 'call [phone]'], ['tel (202) 555-0143', 'tel [phone]'], ['0171 1234567', '[phone]'], ['06 12 34 56 78', '[phone]'], ['/call/2025550143', '/call/[phone]']],
    misses: ['1234567', '/product/12345678', '/order/1234567890', '09.11.2026', '2026-11-29'],
  },
  card: {
    hits: [['card 4111 1111 1111 1111 ok', 'card [card] ok'], ['378282246310005', '[card]'], ['5500-0000-0000-0004', '[card]'], ['4111 1111 1111 1111 12', '[card] 12'], ['/thanks-4111111111111111', '/thanks-[card]']],
    misses: ['4111111111111112', 'order 1234567812345678', '/status/1234567890123456789', '/isbn/978-3-16-148410-0'],
  },
  iban: {
    hits: [['/pay/DE89370400440532013000/confirm', '/pay/[iban]/confirm'], ['/pay/de89 3704 0044 0532 0130 00/ok', '/pay/[iban]/ok'], ['GB82 WEST 1234 5698 7654 32 is mine', '[iban] is mine']],
    misses: ['DE89370400440532013001', '/de12-some-article-title-here', 'XX89370400440532013000'],
  },
  'us-ssn': { hits: [['ssn 123-45-6789', 'ssn [national-id]'], ['123 45 6789', '[national-id]']], misses: ['666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000', '123-45 6789'] },
  'uk-nino': { hits: [['nino AB 12 34 56 C', 'nino [national-id]'], ['/ni/ab123456c', '/ni/[national-id]']], misses: ['QQ123456C', 'GB123456A', 'AB123456E', 'AO123456A'] },
  'ca-sin': { hits: [['sin 130-692-544', 'sin [national-id]']], misses: ['130-692-545', '830-692-544'] },
  'in-aadhaar': { hits: [['2345 6789 0124', '[national-id]']], misses: ['2345 6789 0123', '1234 5678 9012'] },
  'fr-nir': { hits: [['nir 1 85 05 78 006 084 91', 'nir [national-id]'], ['185057800608491', '[national-id]']], misses: ['1 85 05 78 006 084 36'] },
  'es-dni': { hits: [['dni 12345678Z', 'dni [national-id]'], ['X1234567L', '[national-id]']], misses: ['12345678A', 'X1234567A'] },
  'it-codice-fiscale': { hits: [['cf RSSMRA85T10A562S', 'cf [national-id]']], misses: ['RSSMRA85T10A562A'] },
  ipv4: { hits: [['from 198.51.100.7 via 203.0.113.255', 'from [ip] via [ip]'], ['/debug/203.0.113.1/trace', '/debug/[ip]/trace']], misses: ['1.2.3.4.5', 'v1.2.3', '256.1.1.1'] },
  ipv6: {
    hits: [['2001:db8::1', '[ip]'], ['http://[2001:db8::42]/', 'http://[[ip]]/'], ['/files/2001:db8::1f8a.pdf', '/files/[ip].pdf'], ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '[ip]']],
    misses: ['opens at 10:30:00', 'std::vector', 'dead::beef'],
  },
  uuid: { hits: [['/orders/123e4567-e89b-12d3-a456-426614174000/status', '/orders/[id]/status']], misses: ['123e4567-e89b-12d3-a456'] },
  'hex-token': { hits: [['/s/d41d8cd98f00b204e9800998ecf8427e', '/s/[token]']], misses: ['/commit/9fceb02', '/color/ff5733'] },
  'base64-token': {
    hits: [['key Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdo end', 'key [token] end'], ['t=dGhpcyBpcyBhIHNlY3JldCB0b2tlbiAxMjM0NTY3ODk=', 't=[token]']],
    misses: ['how-to-configure-nginx-reverse-proxy-2024', 'careers-engineering-senior-backend-engineer-berlin-2026'],
  },
  jwt: { hits: [['/reset?t=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', '/reset?t=[token]']], misses: ['eyJ.x.y'] },
  'api-key': {
    hits: [['token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789', 'token [api-key]'], ['AKIAIOSFODNN7EXAMPLE', '[api-key]'], ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', '[api-key]'], ['AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY', '[api-key]']],
    misses: ['sk-how-to-review-an-article-properly', 'ghp_short'],
  },
  bearer: { hits: [['Authorization: Bearer abcdefgh12345678', 'Authorization: Bearer [token]']], misses: ['bearer bonds'] },
  'session-parameter': { hits: [['/x;jsessionid=ABC123DEF456', '/x;jsessionid=[session]'], ['/cart;PHPSESSID=abc123', '/cart;PHPSESSID=[session]']], misses: ['/considered'] },
  'session-path': { hits: [['/sid/a8f9c7b6e5d4/cart', '/sid/[session]/cart']], misses: ['/session/new', '/sessions/settings'] },
  'user-agent': { hits: [['ua Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0', 'ua [user-agent]']], misses: ['/docs/mozilla/firefox'] },
}

describe('the catalogue', () => {
  it('has examples for every kind, and every kind a placeholder, a label and an RE2-safe hint', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(CATALOGUE.map((k) => k.id).sort())
    for (const k of CATALOGUE) {
      expect(k.placeholder).toMatch(/^\[[a-z-]+\]$/)
      expect(k.label.length).toBeGreaterThan(3)
      expect(k.pattern.flags).toContain('g')
      expect(k.hint, k.id).not.toMatch(/\(\?[<=!]|\\[1-9]/) // no look-around or back-reference: RE2 must run it
    }
    expect(new Set(CATALOGUE.map((k) => k.id)).size).toBe(CATALOGUE.length)
  })

  for (const kind of CATALOGUE) {
    describe(kind.id, () => {
      const { hits, misses } = EXAMPLES[kind.id]
      it.each(hits)(`takes %j (→ %j) as ${kind.placeholder}`, (text, expected) => {
        const found: string[] = []
        expect(scrubIdentifiers(text, [], (k) => found.push(k.id))).toBe(expected)
        expect(found).toContain(kind.id)
      })
      it.each(misses)('leaves %j alone', (text) => {
        expect(scrubIdentifiers(text)).toBe(text)
      })
    })
  }
})

describe('check digits', () => {
  it('Luhn, Verhoeff, the DNI letter and the codice fiscale', () => {
    expect(luhn('4111111111111111')).toBe(true)
    expect(luhn('4111111111111112')).toBe(false)
    expect(verhoeff('234567890124')).toBe(true)
    expect(verhoeff('234567890123')).toBe(false)
    expect(spanishIdLetter('12345678')).toBe('Z')
    expect(spanishIdLetter('X1234567')).toBe('L')
    expect(codiceFiscaleValid('RSSMRA85T10A562S')).toBe(true)
    expect(codiceFiscaleValid('RSSMRA85T10A562T')).toBe(false)
  })
})

describe('any text', () => {
  const fragments = fc.constantFrom('a', '@', '.', '1', ' ', '-', ':', '+', '%40', 'eyJ', '4111', 'DE89', 'Mozilla/5.0 (', ';jsessionid=', '/sid/', '\uD800', '🙂')
  const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fragments, { maxLength: 60 }).map((xs) => xs.join('')))

  it('is scrubbed without error, and scrubbing the result again changes nothing', () => {
    fc.assert(
      fc.property(text, (t) => {
        const once = scrubIdentifiers(t)
        expect(scrubIdentifiers(once)).toBe(once)
      }),
      { seed: 18, numRuns: 2000 },
    )
  })
})
