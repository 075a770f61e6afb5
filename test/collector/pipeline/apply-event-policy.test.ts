import { describe, expect, it } from 'vitest'
import { applyEventPolicy } from '../../../collector/pipeline/apply-event-policy.ts'
import { scrubUrl } from '../../../collector/pipeline/scrub-url.ts'
import { isDrop } from '../../../collector/pipeline/types.ts'
import type { Policy } from '../../../policy/policy.ts'
import { context, makeEvent, policyWith, through } from './context.ts'

describe('applyEventPolicy', () => {
  const check = (body: Record<string, unknown>, policy: Policy) => {
    const ctx = context({ policy })
    return applyEventPolicy(through(makeEvent(body, { policy }), ctx, scrubUrl), ctx)
  }

  it('drops event kinds the policy does not allow', () => {
    const policy = policyWith({ events: { kinds: ['pageview', 'custom'] } })
    expect(check({ name: 'File Download' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(check({ name: 'Outbound Link: Click' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(check({ name: 'engagement' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(isDrop(check({ name: 'pageview' }, policy))).toBe(false)
    expect(isDrop(check({ name: 'Signup' }, policy))).toBe(false)
  })

  it('drops every custom event when custom is not an allowed kind', () => {
    const policy = policyWith({ events: { kinds: ['pageview'] } })
    expect(check({ name: 'Signup' }, policy)).toEqual({ drop: 'kind_not_allowed' })
  })

  it('allows custom names by pattern, case-insensitively', () => {
    const policy = policyWith({ events: { custom_names: ['signup*', 'Purchase'] } })
    expect(isDrop(check({ name: 'signup_complete' }, policy))).toBe(false)
    expect(isDrop(check({ name: 'Signup' }, policy))).toBe(false)
    expect(isDrop(check({ name: 'purchase' }, policy))).toBe(false)
    expect(check({ name: 'newsletter' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(check({ name: 'purchase2' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    // built-in kinds are not subject to custom_names
    expect(isDrop(check({ name: 'pageview' }, policy))).toBe(false)
  })

  it('drops events on excluded paths', () => {
    const policy = policyWith({ exclude_paths: ['/kids/*', '/admin'] })
    expect(check({ url: 'https://example.com/kids/games' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ url: 'https://example.com/kids/games/chess?x=1' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ url: 'https://example.com/kids' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ url: 'https://example.com/admin' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ name: 'Signup', url: 'https://example.com/kids/join' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(isDrop(check({ url: 'https://example.com/kidsafe' }, policy))).toBe(false)
    expect(isDrop(check({ url: 'https://example.com/about/kids' }, policy))).toBe(false)
  })
})
