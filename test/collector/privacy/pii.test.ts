import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isSecretKey, placeholderForKey, scrubPair, scrubText } from '../../../collector/privacy/pii.ts'

describe('scrubText: e-mail addresses', () => {
  it.each([
    ['jane.doe@example.com', '[email]'],
    ['contact: jane.doe+news@mail.example.com today', 'contact: [email] today'],
    ['/unsubscribe/jane.doe@example.com/confirm', '/unsubscribe/[email]/confirm'],
    ['jane.doe%40example.com', '[email]'],
    ['/u/JANE%40EXAMPLE.COM', '/u/[email]'],
  ])('%j → %j', (input, expected) => {
    expect(scrubText(input)).toBe(expected)
  })

  // scrubText returns values shorter than 7 characters untouched, but an e-mail can be 6.
  it('replaces even the shortest e-mail address (6 characters)', () => {
    expect(scrubText('a@b.co')).toBe('[email]')
  })

  // RFC 5322 allows ! # $ & ' * = ? ^ ` { | } ~ in the local part; the address must not survive.
  it.each(['jane!@example.com', 'news#@example.com', 'x~@example.com'])('%j does not survive', (address) => {
    expect(scrubText(`/u/${address}/x`)).not.toContain(address)
  })
})

describe('scrubText: phone numbers', () => {
  it.each([
    '+1 202-555-0143',
    '202-555-0143',
    '202.555.0143',
    '+1 (202) 555-0143',
    '+44 20 7946 0958',
    '+49 30 1234567',
    '0171 1234567',
    '2025550143',
  ])('%j becomes [phone]', (phone) => {
    const out = scrubText(`call ${phone} now`)
    expect(out).toContain('[phone]')
    expect(out).not.toMatch(/\d{3}/)
  })

  it('takes a bracketed area code with the number', () => {
    expect(scrubText('tel (202) 555-0143')).toBe('tel [phone]')
  })
})

describe('scrubText: IP literals', () => {
  it.each([
    ['192.0.2.10', '[ip]'],
    ['from 198.51.100.7 via 203.0.113.255', 'from [ip] via [ip]'],
    ['/debug/203.0.113.1/trace', '/debug/[ip]/trace'],
    ['2001:db8::1', '[ip]'],
    ['host 2001:db8:85a3::8a2e:370:7334 up', 'host [ip] up'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '[ip]'],
    ['http://[2001:db8::42]/', 'http://[[ip]]/'],
  ])('%j → %j', (input, expected) => {
    expect(scrubText(input)).toBe(expected)
  })

  it('leaves clock times alone', () => {
    expect(scrubText('opens at 10:30:00')).toBe('opens at 10:30:00')
  })
})

describe('scrubText: card numbers', () => {
  it.each(['4111 1111 1111 1111', '4111-1111-1111-1111', '4111111111111111', '5500 0000 0000 0004', '378282246310005'])('Luhn-valid %j becomes [card]', (card) => {
    expect(scrubText(`card ${card} ok`)).toBe('card [card] ok')
  })

  it('a 16-digit number failing the Luhn check is not a [card]', () => {
    expect(scrubText('4111111111111112')).not.toContain('[card]')
    expect(scrubText('order 1234567812345678')).not.toContain('[card]')
  })
})

describe('scrubText: tokens and identifiers', () => {
  it('replaces a JWT', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'
    expect(scrubText(`/reset?t=${jwt}`)).toBe('/reset?t=[token]')
  })

  it('replaces long hex tokens', () => {
    expect(scrubText('sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 end')).toBe('sha [token] end')
    expect(scrubText('/s/d41d8cd98f00b204e9800998ecf8427e')).toBe('/s/[token]')
  })

  it('replaces long base64 tokens', () => {
    expect(scrubText('key Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdo end')).toBe('key [token] end')
    expect(scrubText('t=dGhpcyBpcyBhIHNlY3JldCB0b2tlbiAxMjM0NTY3ODk=')).toBe('t=[token]')
  })

  it('replaces UUIDs', () => {
    expect(scrubText('/orders/123e4567-e89b-12d3-a456-426614174000/status')).toBe('/orders/[id]/status')
    expect(scrubText('F47AC10B-58CC-4372-A567-0E02B2C3D479')).toBe('[id]')
  })
})

describe('scrubText: ordinary text survives unchanged', () => {
  it.each([
    'hello world',
    'Pricing and plans',
    'signup_complete',
    'order 12345 shipped',
    'page 3 of 10',
    'v1.2.3',
    '1234567',
    '/blog/2024/10',
    '/docs/getting-started',
    '/products/shoes/red',
    'https://example.com/about',
  ])('%j', (text) => {
    expect(scrubText(text)).toBe(text)
  })

  it.each(['2026-01-31', 'published 2026-01-31', '/events/2026-01-31'])('the date in %j survives', (text) => {
    expect(scrubText(text)).toBe(text)
  })

  it.each(['/blog/2024/10/how-to-write-good-tests', '/docs/v2/getting-started-with-analytics', 'how-to-configure-nginx-reverse-proxy-2024'])(
    'the long slug %j survives',
    (text) => {
      expect(scrubText(text)).toBe(text)
    },
  )
})

describe('scrubText: properties', () => {
  const segment = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-_'), minLength: 1, maxLength: 12 })
  const pathAround = (planted: fc.Arbitrary<string>) =>
    fc.tuple(fc.array(segment, { maxLength: 4 }), planted, fc.array(segment, { maxLength: 4 }), fc.constantFrom('/', '?q=', ' ', '=', '/x/'))

  const neverLeaks = (planted: fc.Arbitrary<string>) =>
    fc.assert(
      fc.property(pathAround(planted), ([before, value, after, joint]) => {
        const text = `/${before.join('/')}${joint}${value}/${after.join('/')}`
        expect(scrubText(text)).not.toContain(value)
      }),
      { numRuns: 500 },
    )

  it('a planted e-mail address never survives', () => neverLeaks(fc.emailAddress()))
  it('a planted IPv4 address never survives', () => neverLeaks(fc.ipV4()))
  it('a planted UUID never survives', () => neverLeaks(fc.uuid()))

  it('text without digits, @ or colons is returned unchanged', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const text = `/${segments.join('/')}`
        expect(scrubText(text)).toBe(text)
      }),
      { numRuns: 300 },
    )
  })
})

describe('isSecretKey', () => {
  it.each(['email', 'e-mail', 'user_email', 'token', 'access_token', 'session', 'session_id', 'sid', 'password', 'api_key', 'apikey', 'phone', 'tel', 'address', 'zip', 'name', 'first.name', 'username', 'user', 'userId', 'uid', 'login', 'card', 'iban', 'ssn', 'dob', 'gender'])(
    '%j is secret',
    (key) => {
      expect(isSecretKey(key)).toBe(true)
    },
  )

  it.each(['plan', 'category', 'author', 'button', 'variant', 'lang', 'theme', 'ref', 'source', 'utm_source', 'utm_term', 'keyword', 'monkey'])('%j is not secret', (key) => {
    expect(isSecretKey(key)).toBe(false)
  })
})

describe('placeholderForKey', () => {
  it.each([
    ['email', '[email]'],
    ['user_mail', '[email]'],
    ['phone', '[phone]'],
    ['tel', '[phone]'],
    ['mobile', '[phone]'],
    ['ip', '[ip]'],
    ['client_ip', '[ip]'],
    ['card', '[card]'],
    ['iban', '[iban]'],
    ['ssn', '[national-id]'],
    ['token', '[token]'],
    ['session_id', '[session]'],
    ['session_token', '[token]'],
    ['password', '[token]'],
    ['api_key', '[token]'],
    ['user', '[id]'],
    ['name', '[id]'],
    ['uid', '[id]'],
  ])('%j → %j', (key, placeholder) => {
    expect(placeholderForKey(key)).toBe(placeholder)
  })
})

describe('scrubPair', () => {
  it('a secret-looking key loses its value whatever it is', () => {
    expect(scrubPair('email', 'not-an-email')).toBe('[email]')
    expect(scrubPair('session', 'abc')).toBe('[session]')
    expect(scrubPair('user_id', '42')).toBe('[id]')
  })

  it('other values are scrubbed of PII but otherwise kept', () => {
    expect(scrubPair('plan', 'pro')).toBe('pro')
    expect(scrubPair('q', 'write to jane.doe@example.com')).toBe('write to [email]')
    expect(scrubPair('note', 'from 192.0.2.10')).toBe('from [ip]')
  })
})
