import { describe, expect, it } from 'vitest'
import { scrubProps } from '../../../collector/pipeline/scrub-props.ts'
import type { Policy } from '../../../policy/policy.ts'
import { context, makeEvent, policyWith, strict, through } from './context.ts'

describe('scrubProps', () => {
  const scrub = (body: Record<string, unknown>, policy: Policy = strict) => through(makeEvent(body, { policy }), context({ policy }), scrubProps)

  it('drops keys the policy does not allow', () => {
    const policy = policyWith({ props: ['plan', 'variant_*'] })
    const e = scrub({ name: 'Signup', props: { plan: 'pro', variant_a: 'blue', secret: 'x', other: 'y' } }, policy)
    expect(e.props).toEqual({ plan: 'pro', variant_a: 'blue' })
  })

  it('replaces the values of secret-looking keys by placeholders', () => {
    const e = scrub({ name: 'Signup', props: { email: 'anything', session_token: 'abc', phone: 'x', user_id: '42', password: 'hunter2', plan: 'pro' } })
    expect(e.props).toEqual({ email: '[email]', session_token: '[token]', phone: '[phone]', user_id: '[id]', password: '[token]', plan: 'pro' })
  })

  it('scrubs PII out of other values and out of keys', () => {
    const e = scrub({ name: 'Contact', props: { note: 'write to jane.doe@example.com', 'jane.doe@example.com': 'yes' } })
    expect(e.props).toEqual({ note: 'write to [email]', '[email]': 'yes' })
  })

  it('reduces a url prop to host and path', () => {
    expect(scrub({ name: 'Outbound Link: Click', props: { url: 'https://Shop.Example.com/cart/checkout?session=abc#pay' } }).props).toEqual({ url: 'shop.example.com/cart/checkout' })
    expect(scrub({ name: 'File Download', props: { url: 'https://example.com/files/jane.doe%40example.com/report.pdf?sig=x' } }).props).toEqual({ url: 'example.com/files/[email]/report.pdf' })
    expect(scrub({ name: 'click', props: { url: '/relative/path?x=1#y' } }).props).toEqual({ url: '/relative/path' })
  })

  it('scrubs a custom event name, but not built-in names', () => {
    expect(scrub({ name: 'Invite jane.doe@example.com' }).name).toBe('Invite [email]')
    expect(scrub({ name: 'pageview' }).name).toBe('pageview')
  })
})
