import { describe, expect, it } from 'vitest'
import { applyConsentSignals } from '../../../collector/pipeline/apply-consent.ts'
import { hashVisitor } from '../../../collector/pipeline/hash-visitor.ts'
import { SaltStore } from '../../../collector/salts.ts'
import { context, DOC_IPS, HOUR, makeEvent, policyWith, strict, T0, through, UA, type Request } from './context.ts'

describe('hashVisitor', () => {
  const hash = (r: Request & { site?: string }, salts: SaltStore) => {
    const policy = r.policy ?? strict
    const ctx = context({ ...r, ctx: { salts } })
    const site = r.site ?? 'example.com'
    const e = through(makeEvent({ url: `https://${site}/`, domain: site }, r), ctx, applyConsentSignals, hashVisitor)
    expect(e.policy).toBe(policy.forSite(site))
    return e
  }

  it('the same site, IP and User-Agent on the same day give the same visitor id', () => {
    const salts = new SaltStore(() => T0)
    const a = hash({ ts: T0 }, salts)
    const b = hash({ ts: T0 + 5 * HOUR }, salts)
    expect(a.visitorId).toMatch(/^[1-9]\d*$/)
    expect(BigInt(a.visitorId) < 2n ** 64n).toBe(true)
    expect(b.visitorId).toBe(a.visitorId)
  })

  it('a different site, IP or User-Agent gives a different id', () => {
    const salts = new SaltStore(() => T0)
    const id = hash({}, salts).visitorId
    expect(hash({ site: 'shop.example.com' }, salts).visitorId).not.toBe(id)
    expect(hash({ ip: DOC_IPS[1] }, salts).visitorId).not.toBe(id)
    expect(hash({ ua: UA.firefoxLinux }, salts).visitorId).not.toBe(id)
  })

  it('a different salt period gives a different id', () => {
    const salts = new SaltStore(() => T0)
    const today = hash({ ts: T0 }, salts).visitorId
    expect(hash({ ts: T0 + 24 * HOUR }, salts).visitorId).not.toBe(today)
    const hourly = policyWith({ visitor_hash: { salt_period_hours: 1 } })
    const first = hash({ ts: T0, policy: hourly }, salts).visitorId
    expect(hash({ ts: T0 + HOUR, policy: hourly }, salts).visitorId).not.toBe(first)
  })

  it('a new salt store (a restart) gives a different id', () => {
    expect(hash({}, new SaltStore(() => T0)).visitorId).not.toBe(hash({}, new SaltStore(() => T0)).visitorId)
  })

  it('forgets the IP and the User-Agent: the event holds neither any more', () => {
    const e = hash({ ip: '203.0.113.30' }, new SaltStore(() => T0))
    expect(e.ip).toBeUndefined()
    expect(e.userAgent).toBeUndefined()
    expect(JSON.stringify({ ...e, policy: undefined })).not.toMatch(/203\.0\.113|Mozilla/)
  })

  it('count_without_hash leaves the visitor id 0, and still forgets IP and User-Agent', () => {
    const policy = policyWith({ consent: { dnt: 'count_without_hash' } })
    const e = hash({ policy, dnt: true }, new SaltStore(() => T0))
    expect(e.visitorId).toBe('0')
    expect(e.ip).toBeUndefined()
    expect(e.userAgent).toBeUndefined()
    expect(JSON.stringify({ ...e, policy: undefined })).not.toMatch(/203\.0\.113|Mozilla/)
  })
})
