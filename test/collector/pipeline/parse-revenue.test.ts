import { describe, expect, it } from 'vitest'
import { parseBeacon } from '../../../collector/pipeline/parse-beacon.ts'
import { NO_REVENUE, parseRevenue } from '../../../collector/pipeline/parse-revenue.ts'
import { NO_SCROLL_DEPTH } from '../../../collector/pipeline/parse-scroll-depth.ts'
import { isDrop, type Drop } from '../../../collector/pipeline/types.ts'
import { base, expectEvent, incoming } from './context.ts'

const refused = (r: unknown) => (isDrop(r as object) ? (r as Drop).detail : `taken: ${JSON.stringify(r)}`)

describe('parseRevenue: Plausible\'s {amount, currency}, kept exactly in its own currency', () => {
  it('takes numbers and decimal strings, in ten-thousandths of the unit, rounded half up', () => {
    expect(parseRevenue({ amount: 10.5, currency: 'EUR' }, 'custom')).toEqual({ amount: '105000', currency: 'EUR' })
    expect(parseRevenue({ amount: '1322.22', currency: 'USD' }, 'custom')).toEqual({ amount: '13222200', currency: 'USD' })
    // read digit by digit: no binary fraction creeps in, the fifth decimal rounds
    expect(parseRevenue({ amount: '0.00005', currency: 'EUR' }, 'custom')).toEqual({ amount: '1', currency: 'EUR' })
    expect(parseRevenue({ amount: '0.00004', currency: 'EUR' }, 'custom')).toEqual({ amount: '0', currency: 'EUR' })
    expect(parseRevenue({ amount: '99999999999.9999', currency: 'JPY' }, 'custom')).toEqual({ amount: '999999999999999', currency: 'JPY' })
    expect(parseRevenue({ amount: 0, currency: 'eur' }, 'custom')).toEqual({ amount: '0', currency: 'EUR' })
  })

  it('takes it as JSON text too, and none when absent', () => {
    expect(parseRevenue('{"amount":"5","currency":"GBP"}', 'custom')).toEqual({ amount: '50000', currency: 'GBP' })
    expect(parseRevenue(undefined, 'custom')).toBe(NO_REVENUE)
    expect(parseRevenue(null, 'pageview')).toBe(NO_REVENUE)
  })

  it('refuses anything else, saying what is wrong and never echoing the value', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ amount: 10, currency: 'EURO' }, 'custom', /ISO 4217/],
      [{ amount: 10, currency: 'XYZ' }, 'custom', /ISO 4217/],
      [{ amount: 10 }, 'custom', /ISO 4217/],
      [{ amount: 'ten', currency: 'EUR' }, 'custom', /revenue\.amount/],
      [{ amount: -1, currency: 'EUR' }, 'custom', /revenue\.amount/],
      [{ amount: '1e3', currency: 'EUR' }, 'custom', /revenue\.amount/],
      [{ amount: Infinity, currency: 'EUR' }, 'custom', /revenue\.amount/],
      [{ amount: 1e12, currency: 'EUR' }, 'custom', /revenue\.amount/],
      [{ amount: '123456789012345', currency: 'EUR' }, 'custom', /revenue\.amount/],
      [{ currency: 'EUR' }, 'custom', /revenue\.amount/],
      [{ amount: 1, currency: 'EUR', note: 'x' }, 'custom', /\{"amount"/],
      [[1, 'EUR'], 'custom', /\{"amount"/],
      ['10 EUR', 'custom', /\{"amount"/],
      [10, 'custom', /\{"amount"/],
      [{ amount: 10, currency: 'EUR' }, 'pageview', /custom event/],
      [{ amount: 10, currency: 'EUR' }, 'engagement', /custom event/],
    ]
    for (const [raw, kind, reason] of cases) {
      const detail = refused(parseRevenue(raw, kind))
      expect(detail, JSON.stringify(raw)).toMatch(reason)
      expect(detail).not.toMatch(/EURO|XYZ|ten|note/)
    }
  })
})

describe('parseBeacon carries them', () => {
  const parse = (body: Record<string, unknown>) => parseBeacon(incoming({ url: 'https://example.com/checkout', domain: 'example.com', ...body }), base)

  it('revenue by its long name or the tracker\'s `$`, scroll depth by `sd` or `scroll_depth`', () => {
    expect(expectEvent(parse({ name: 'Purchase', revenue: { amount: '19.99', currency: 'EUR' } }))).toMatchObject({ revenueAmount: '199900', revenueCurrency: 'EUR', scrollDepth: NO_SCROLL_DEPTH })
    expect(expectEvent(parse({ n: 'Purchase', $: { amount: 5, currency: 'usd' } }))).toMatchObject({ revenueAmount: '50000', revenueCurrency: 'USD' })
    expect(expectEvent(parse({ n: 'engagement', e: 4000, sd: 72 }))).toMatchObject({ scrollDepth: 72, engagementMs: 4000, revenueAmount: '0', revenueCurrency: '' })
    expect(expectEvent(parse({ name: 'engagement', engagement_time: 4000, scroll_depth: 30 }))).toMatchObject({ scrollDepth: 30 })
  })

  it('a malformed one makes the beacon invalid (a 400), not silently dropped', () => {
    expect(parse({ name: 'Purchase', revenue: { amount: 10, currency: 'EURO' } })).toEqual({ drop: 'invalid', detail: expect.stringMatching(/ISO 4217/) })
    expect(parse({ name: 'pageview', revenue: { amount: 10, currency: 'EUR' } })).toEqual({ drop: 'invalid', detail: expect.stringMatching(/custom event/) })
    expect(parse({ name: 'engagement', sd: 'deep' })).toEqual({ drop: 'invalid', detail: expect.stringMatching(/scroll_depth/) })
  })
})
