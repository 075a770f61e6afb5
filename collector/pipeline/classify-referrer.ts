import { parse as parseDomain } from 'tldts'
import { scrubText } from '../privacy/pii.ts'
import { channelOf, knownSource } from '../lookups/referrer-sources.ts'
import { safeDecode } from './scrub-url.ts'
import type { Step } from './types.ts'

/**
 * External referrers only, reduced to host and path (no query); classified into a source
 * (e.g. "Google", or the host) and a channel. Without a referrer, `utm_source`/`ref`/`source` name the source.
 */
export const classifyReferrer: Step = (event) => {
  let kind: 'search' | 'social' | 'email' | 'referral' | 'direct' = 'direct'
  let source = ''
  if (event.referrer) {
    let ref: URL | undefined
    try {
      ref = new URL(event.referrer)
    } catch {
      ref = undefined
    }
    const host = ref && (ref.protocol === 'http:' || ref.protocol === 'https:') ? ref.hostname.toLowerCase().replace(/^www\./, '') : ''
    if (host && host !== event.hostname && host !== event.site) {
      const registrable = parseDomain(host).domain ?? host
      const known = knownSource(host, registrable)
      // a referrer addressed by an IP literal keeps `[ip]`, like any other text
      const shown = scrubText(host, event.policy.scrub)
      event.referrerHost = shown
      event.referrerPath = scrubText(safeDecode(ref!.pathname), event.policy.scrub).slice(0, 512)
      source = known ? known[0] : shown
      kind = known ? known[1] : 'referral'
    }
  }
  event.referrer = ''
  if (!source) {
    const kept = new URLSearchParams(event.query)
    const tagged = event.utm.utm_source || kept.get('ref') || kept.get('source') || ''
    if (tagged) {
      source = tagged
      kind = 'referral'
    }
  }
  event.source = source
  event.channel = channelOf(kind, event.utm.utm_medium)
  return event
}
