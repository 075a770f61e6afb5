import { describe, expect, it } from 'vitest'
import { knownSite } from '../../../collector/pipeline/known-site.ts'
import { base, context, makeEvent } from './context.ts'

describe('knownSite', () => {
  it('passes a registered site', () => {
    const e = makeEvent()
    expect(knownSite(e, base)).toBe(e)
  })

  it('drops an unregistered site', () => {
    const e = makeEvent({ url: 'https://other.example.net/', domain: 'other.example.net' })
    expect(knownSite(e, base)).toEqual({ drop: 'unknown_site' })
  })

  it('asks the context with the normalised site name', () => {
    const asked: string[] = []
    const ctx = context({ ctx: { isKnownSite: (d) => (asked.push(d), true) } })
    knownSite(makeEvent({ domain: 'WWW.Shop.Example.com' }), ctx)
    expect(asked).toEqual(['shop.example.com'])
  })
})
