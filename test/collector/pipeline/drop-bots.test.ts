import { describe, expect, it } from 'vitest'
import { isReferrerSpam } from '../../../collector/lookups/referrer-spam.ts'
import { dropBots } from '../../../collector/pipeline/drop-bots.ts'
import { base, context, makeEvent, policyWith, UA } from './context.ts'

describe('dropBots', () => {
  it.each([
    ['Googlebot', UA.googlebot],
    ['bingbot', UA.bingbot],
    ['AhrefsBot', UA.ahrefs],
    ['curl', UA.curl],
    ['python-requests', UA.pythonRequests],
    ['HeadlessChrome', UA.headless],
    ['an empty User-Agent', ''],
    ['a too-short User-Agent', 'Mozilla'],
  ])('drops %s', (_label, ua) => {
    expect(dropBots(makeEvent({}, { ua }), base)).toEqual({ drop: 'bot' })
  })

  it.each([
    ['Chrome on Windows', UA.chromeWindows],
    ['Edge on Windows', UA.edgeWindows],
    ['Opera on Windows', UA.operaWindows],
    ['Safari on macOS', UA.safariMac],
    ['Firefox on Linux', UA.firefoxLinux],
    ['Safari on iPhone', UA.iphone],
    ['Safari on iPad', UA.ipad],
    ['Chrome on Android', UA.android],
    ['Samsung Internet', UA.samsung],
    ['Firefox on Android', UA.firefoxAndroid],
  ])('passes %s', (_label, ua) => {
    const e = makeEvent({ referrer: 'https://www.google.com/' }, { ua })
    expect(dropBots(e, base)).toBe(e)
  })

  it('drops a referrer-spam host and its subdomains', () => {
    for (const referrer of ['https://spam-referrer.example/', 'https://www.spam-referrer.example/offer', 'http://a.b.SPAM-REFERRER.example/x']) {
      expect(dropBots(makeEvent({ referrer }), base), referrer).toEqual({ drop: 'referrer_spam' })
    }
    expect(isReferrerSpam('sub.semalt.com')).toBe(true)
  })

  it('does not drop a host that merely ends with a spam host’s name', () => {
    const e = makeEvent({ referrer: 'https://notspam-referrer.example/' })
    expect(dropBots(e, base)).toBe(e)
    expect(isReferrerSpam('example.com')).toBe(false)
  })

  it('leaves an unparseable referrer for classifyReferrer', () => {
    const e = makeEvent({ referrer: 'not a url' })
    expect(dropBots(e, base)).toBe(e)
  })

  it('keeps bots when the policy says bots: keep', () => {
    const policy = policyWith({ bots: 'keep' })
    const e = makeEvent({ referrer: 'https://spam-referrer.example/' }, { ua: UA.googlebot, policy })
    expect(dropBots(e, context({ policy }))).toBe(e)
  })
})
