import { describe, expect, it } from 'vitest'
import type { GeoLocator } from '../../../collector/lookups/geo.ts'
import { locateIp } from '../../../collector/pipeline/locate-ip.ts'
import type { PipelineContext } from '../../../collector/pipeline/types.ts'
import type { Policy } from '../../../policy/policy.ts'
import { base, context, DOC_IPS, geo, makeEvent, policyWith, strict, through } from './context.ts'

describe('locateIp', () => {
  const locate = (ip: string, policy: Policy = strict, ctx: Partial<PipelineContext> = {}) => {
    const e = through(makeEvent({}, { ip, policy }), context({ policy, ctx }), locateIp)
    return { country: e.country, region: e.region, city: e.city }
  }

  it('8.8.8.8 is in the US', () => {
    expect(locate('8.8.8.8').country).toBe('US')
  })

  it('81.2.69.160 is London, GB', () => {
    expect(locate('81.2.69.160')).toEqual({ country: 'GB', region: 'England', city: 'London' })
  })

  it.each(DOC_IPS)('documentation address %s is nowhere', (ip) => {
    expect(locate(ip)).toEqual({ country: '', region: '', city: '' })
  })

  it('an empty or malformed IP is nowhere', () => {
    expect(locate('')).toEqual({ country: '', region: '', city: '' })
    expect(locate('not-an-ip')).toEqual({ country: '', region: '', city: '' })
  })

  it('precision country blanks region and city; region blanks city; none blanks all', () => {
    expect(locate('81.2.69.160', policyWith({ ip: { geo_precision: 'country' } }))).toEqual({ country: 'GB', region: '', city: '' })
    expect(locate('81.2.69.160', policyWith({ ip: { geo_precision: 'region' } }))).toEqual({ country: 'GB', region: 'England', city: '' })
    expect(locate('81.2.69.160', policyWith({ ip: { geo_precision: 'none' } }))).toEqual({ country: '', region: '', city: '' })
  })

  it('truncate: the lookup sees only the /24 or /48', () => {
    const seen: string[] = []
    const spy = { locate: (ip: string) => (seen.push(ip), geo.locate(ip)) } as unknown as GeoLocator
    const truncating = policyWith({ ip: { truncate: true } })
    expect(locate('81.2.69.160', truncating, { geo: spy }).country).toBe('GB')
    locate('2001:db8:1234:5678::1', truncating, { geo: spy })
    locate('192.0.2.77', strict, { geo: spy })
    expect(seen).toEqual(['81.2.69.0', '2001:db8:1234::', '192.0.2.77'])
  })

  it('keeps the IP for hashVisitor', () => {
    const e = through(makeEvent({}, { ip: '8.8.8.8' }), base, locateIp)
    expect(e.ip).toBe('8.8.8.8')
  })
})
