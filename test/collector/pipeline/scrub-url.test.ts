import { describe, expect, it } from 'vitest'
import { scrubUrl } from '../../../collector/pipeline/scrub-url.ts'
import { context, makeEvent, policyWith, through, type Request } from './context.ts'

describe('scrubUrl', () => {
  const scrub = (url: string, body: Record<string, unknown> = {}, r: Request = {}) => through(makeEvent({ url, ...body }, r), context(r), scrubUrl)

  it('lower-cases the host and drops www, keeping the path as sent', () => {
    const e = scrub('https://WWW.Example.COM/Pricing/Plans')
    expect(e.hostname).toBe('example.com')
    expect(e.pathname).toBe('/Pricing/Plans')
    expect(scrub('https://shop.example.com').pathname).toBe('/')
  })

  it('keeps only allowed query parameters, UTM tags in their own fields', () => {
    const e = scrub(
      'https://example.com/a?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_content=hero&utm_term=shoes&q=secret&session=abc&ref=producthunt&fbclid=IwAR123',
    )
    expect(e.utm).toEqual({ utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring', utm_content: 'hero', utm_term: 'shoes' })
    expect(e.query).toBe('ref=producthunt')
  })

  it('reads UTM keys case-insensitively and keeps source in the query', () => {
    const e = scrub('https://example.com/?UTM_Source=News&source=hn&SESSION=x')
    expect(e.utm.utm_source).toBe('News')
    expect(e.query).toBe('source=hn')
  })

  it('scrubs kept values of PII', () => {
    const e = scrub('https://example.com/?utm_content=jane.doe%40example.com&utm_term=call%20%2B1%20202-555-0143&ref=192.0.2.10')
    expect(e.utm.utm_content).toBe('[email]')
    expect(e.utm.utm_term).toBe('call [phone]')
    expect(new URLSearchParams(e.query).get('ref')).toBe('[ip]')
  })

  it('keeps no query parameter when the policy allows none', () => {
    const policy = policyWith({ query_params: [] })
    const e = scrub('https://example.com/?utm_source=x&ref=y', {}, { policy })
    expect(e.query).toBe('')
    expect(e.utm.utm_source).toBe('')
  })

  it('drops the fragment', () => {
    expect(scrub('https://example.com/docs#install').pathname).toBe('/docs')
  })

  it('keeps a hash route for hash-routed sites, without its query, scrubbed', () => {
    expect(scrub('https://example.com/#/settings/profile', { hashMode: true }).pathname).toBe('/#/settings/profile')
    expect(scrub('https://example.com/app#/search?q=secret', { h: 1 }).pathname).toBe('/app#/search')
    expect(scrub('https://example.com/#/users/jane.doe@example.com', { h: 1 }).pathname).toBe('/#/users/[email]')
    expect(scrub('https://example.com/#', { h: 1 }).pathname).toBe('/')
  })

  it('percent-decodes the path, then scrubs it', () => {
    expect(scrub('https://example.com/caf%C3%A9/men%C3%BC').pathname).toBe('/café/menü')
    expect(scrub('https://example.com/users/jane.doe%40example.com/profile').pathname).toBe('/users/[email]/profile')
    expect(scrub('https://example.com/orders/123e4567-e89b-12d3-a456-426614174000').pathname).toBe('/orders/[id]')
    expect(scrub('https://example.com/debug/192.0.2.10').pathname).toBe('/debug/[ip]')
  })

  it('keeps an ordinary dated blog path as it is', () => {
    expect(scrub('https://example.com/blog/2026-01-31/how-to-write-good-tests').pathname).toBe('/blog/2026-01-31/how-to-write-good-tests')
  })

  it('keeps a path that does not decode as it was', () => {
    expect(scrub('https://example.com/bad%E0%A4%A').pathname).toBe('/bad%E0%A4%A')
  })

  it('forgets the full URL afterwards', () => {
    const e = scrub('https://example.com/a?session=abc#frag')
    expect(e.url).toBe('')
    expect(JSON.stringify({ ...e, policy: undefined })).not.toMatch(/session|abc|frag/)
  })
})
