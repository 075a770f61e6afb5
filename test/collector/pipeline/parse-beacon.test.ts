import { describe, expect, it } from 'vitest'
import { LIMITS, parseBeacon } from '../../../collector/pipeline/parse-beacon.ts'
import { isDrop, type Drop } from '../../../collector/pipeline/types.ts'
import { base, DOC_IPS, expectEvent, incoming, strict, T0, UA } from './context.ts'

describe('parseBeacon', () => {
  const parse = (body: unknown) => parseBeacon(incoming(body), base)

  it('reads Plausible-style long keys', () => {
    const e = expectEvent(
      parse({
        name: 'pageview',
        url: 'https://www.example.com/pricing?utm_source=x',
        domain: 'WWW.Example.com',
        referrer: 'https://www.google.com/',
        props: { plan: 'pro', seats: 3, trial: true },
        screen_width: 1280,
        engagement_time: 1500,
        hashMode: true,
      }),
    )
    expect(e).toMatchObject({
      site: 'example.com',
      name: 'pageview',
      kind: 'pageview',
      url: 'https://www.example.com/pricing?utm_source=x',
      referrer: 'https://www.google.com/',
      props: { plan: 'pro', seats: '3', trial: 'true' },
      screenWidth: 1280,
      engagementMs: 1500,
      hashMode: true,
      ip: DOC_IPS[0],
      userAgent: UA.chromeWindows,
      ts: T0,
      dnt: false,
      gpc: false,
      visitorId: '0',
      withoutHash: false,
    })
    expect(e.policy).toBe(strict.forSite('example.com'))
  })

  it('reads the short keys n, u, d, r, p, w, e, h', () => {
    const e = expectEvent(
      parse({ n: 'signup', u: 'https://example.com/join', d: 'example.com', r: 'https://t.co/abc', p: { plan: 'pro' }, w: '390', e: 2500.4, h: 1 }),
    )
    expect(e).toMatchObject({
      site: 'example.com',
      name: 'signup',
      kind: 'custom',
      url: 'https://example.com/join',
      referrer: 'https://t.co/abc',
      props: { plan: 'pro' },
      screenWidth: 390,
      engagementMs: 2500,
      hashMode: true,
    })
  })

  it('prefers the long key when both are present', () => {
    expect(expectEvent(parse({ name: 'pageview', n: 'other', url: 'https://example.com/a', u: 'https://example.com/b' }))).toMatchObject({ name: 'pageview', url: 'https://example.com/a' })
  })

  it('reads props sent as a JSON string, as Plausible’s tracker does', () => {
    const e = expectEvent(parse({ n: 'signup', u: 'https://example.com/', p: '{"plan":"pro","seats":3}' }))
    expect({ ...e.props }).toEqual({ plan: 'pro', seats: '3' })
  })

  it('takes the site from the URL when no domain is sent, without www and lower-cased', () => {
    expect(expectEvent(parse({ n: 'pageview', u: 'https://WWW.Example.COM/a' })).site).toBe('example.com')
  })

  it('maps Plausible’s built-in event names to kinds', () => {
    const kindOf = (name: string) => expectEvent(parse({ name, url: 'https://example.com/' })).kind
    expect(kindOf('pageview')).toBe('pageview')
    expect(kindOf('engagement')).toBe('engagement')
    expect(kindOf('Outbound Link: Click')).toBe('outbound')
    expect(kindOf('outbound')).toBe('outbound')
    expect(kindOf('File Download')).toBe('download')
    expect(kindOf('download')).toBe('download')
    expect(kindOf('click')).toBe('click')
    expect(kindOf('Signup')).toBe('custom')
    expect(kindOf('  pageview  ')).toBe('pageview')
  })

  it('treats hashMode only when it is true, 1 or "1"', () => {
    const hashOf = (h: unknown) => expectEvent(parse({ n: 'pageview', u: 'https://example.com/', h })).hashMode
    expect([true, 1, '1'].map(hashOf)).toEqual([true, true, true])
    expect([false, 0, '0', 'yes', undefined].map(hashOf)).toEqual([false, false, false, false, false])
  })

  it('caps screen width and engagement time, and reads empty numbers as 0', () => {
    const e = expectEvent(parse({ n: 'engagement', u: 'https://example.com/', w: 10_000_000, e: 10 * 24 * 3600 * 1000 }))
    expect(e.screenWidth).toBe(100_000)
    expect(e.engagementMs).toBe(24 * 3600 * 1000)
    const empty = expectEvent(parse({ n: 'pageview', u: 'https://example.com/', w: '', e: null }))
    expect([empty.screenWidth, empty.engagementMs]).toEqual([0, 0])
  })

  it.each<[string, unknown, RegExp]>([
    ['an array body', [], /^body must be a JSON object$/],
    ['a string body', 'pageview', /^body must be a JSON object$/],
    ['a null body', null, /^body must be a JSON object$/],
    ['no name', { url: 'https://example.com/' }, /^name is required$/],
    ['a blank name', { name: '   ', url: 'https://example.com/' }, /^name is required$/],
    ['a numeric name', { name: 42, url: 'https://example.com/' }, /^name must be a string$/],
    ['a too-long name', { name: 'x'.repeat(LIMITS.name + 1), url: 'https://example.com/' }, /^name is longer than 120 characters$/],
    ['no url', { name: 'pageview' }, /^url is required$/],
    ['a url that is an object', { name: 'pageview', url: { href: 'https://example.com/' } }, /^url must be a string$/],
    ['a relative url', { name: 'pageview', url: '/pricing' }, /^url must be an absolute http\(s\) URL$/],
    ['an ftp url', { name: 'pageview', url: 'ftp://files.example.com/a' }, /^url must be an absolute http\(s\) URL$/],
    ['a javascript: url', { name: 'pageview', url: 'javascript:alert(1)' }, /^url must be an absolute http\(s\) URL$/],
    ['a mailto: url', { name: 'pageview', url: 'mailto:jane@example.com' }, /^url must be an absolute http\(s\) URL$/],
    ['a too-long url', { name: 'pageview', url: 'https://example.com/' + 'a'.repeat(LIMITS.url) }, /^url is longer than 2048 characters$/],
    ['a numeric domain', { name: 'pageview', url: 'https://example.com/', domain: 7 }, /^domain must be a string$/],
    ['a numeric referrer', { name: 'pageview', url: 'https://example.com/', referrer: 1 }, /^referrer must be a string$/],
    ['props as an array', { name: 'x', url: 'https://example.com/', props: ['a'] }, /^props must be an object$/],
    ['props as a number', { name: 'x', url: 'https://example.com/', props: 5 }, /^props must be an object$/],
    ['props as broken JSON', { name: 'x', url: 'https://example.com/', props: '{"plan":' }, /^props must be an object$/],
    ['a nested prop object', { name: 'x', url: 'https://example.com/', props: { user: { email: 'jane@example.com' } } }, /^props values must be strings, numbers or booleans$/],
    ['a nested prop array', { name: 'x', url: 'https://example.com/', props: { tags: ['a', 'b'] } }, /^props values must be strings, numbers or booleans$/],
    ['a negative screen width', { name: 'pageview', url: 'https://example.com/', screen_width: -1 }, /^screen_width must be a non-negative number$/],
    ['a non-numeric screen width', { name: 'pageview', url: 'https://example.com/', w: 'wide' }, /^screen_width must be a non-negative number$/],
    ['a boolean engagement time', { name: 'engagement', url: 'https://example.com/', e: true }, /^engagement_time must be a non-negative number$/],
    ['an infinite engagement time', { name: 'engagement', url: 'https://example.com/', engagement_time: 'Infinity' }, /^engagement_time must be a non-negative number$/],
  ])('rejects %s as invalid, naming the field', (_label, body, detail) => {
    const r = parse(body)
    expect(isDrop(r)).toBe(true)
    expect(r).toEqual({ drop: 'invalid', detail: expect.stringMatching(detail) })
  })

  it('never echoes the input in the detail', () => {
    const r = parse({ name: 'pageview', url: 'ftp://jane.doe.example.com/secret-path' }) as Drop
    expect(r.detail).not.toMatch(/jane|secret/)
  })

  it('accepts a name of exactly the maximum length', () => {
    expect(expectEvent(parse({ name: 'x'.repeat(LIMITS.name), url: 'https://example.com/' })).name).toHaveLength(LIMITS.name)
  })

  it('ignores __proto__, constructor and prototype keys in props, and null values', () => {
    const e = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: '{"__proto__":{"polluted":"yes"},"constructor":"c","prototype":"p","gone":null,"plan":"pro"}' }))
    expect(Object.keys(e.props)).toEqual(['plan'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const fromObject = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: JSON.parse('{"__proto__":"x","plan":"pro"}') }))
    expect(Object.keys(fromObject.props)).toEqual(['plan'])
  })

  it('keeps at most 30 props, and truncates long keys and values', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, `v${i}`]))
    const e = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: many }))
    expect(Object.keys(e.props)).toEqual(Array.from({ length: LIMITS.props }, (_, i) => `k${i}`))
    const long = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: { ['k'.repeat(100)]: 'v'.repeat(1000) } }))
    const [[key, value]] = Object.entries(long.props)
    expect(key).toHaveLength(LIMITS.propKey)
    expect(value).toHaveLength(LIMITS.propValue)
  })
})
