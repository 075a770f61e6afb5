import { isIP } from 'node:net'
import { parse as parseDomain } from 'tldts'
import { scrubText } from '../privacy/pii.ts'
import { channelOf, knownSource } from '../lookups/referrer-sources.ts'
import { safeDecode } from './scrub-url.ts'
import type { PipelineEvent, Step } from './types.ts'

/** The referrer as a URL, parsed once for the steps that read it (null when it is none or not a URL). */
export function referrerUrl(event: PipelineEvent): URL | null {
  if (event.parsedReferrer === undefined) {
    try {
      event.parsedReferrer = event.referrer ? new URL(event.referrer) : null
    } catch {
      event.parsedReferrer = null
    }
  }
  return event.parsedReferrer
}

/** Referrer hosts repeat (a few search engines and social sites): their registrable domain and source, by host. */
const hosts = new Map<string, ReturnType<typeof knownSource>>()
const HOSTS_KEPT = 4096

function sourceOf(host: string): ReturnType<typeof knownSource> {
  let known = hosts.get(host)
  if (known === undefined && !hosts.has(host)) {
    known = knownSource(host, parseDomain(host).domain ?? host)
    // an address is never kept, not even in memory
    if (isIP(host.replace(/^\[|\]$/g, ''))) return known
    if (hosts.size >= HOSTS_KEPT) hosts.clear()
    hosts.set(host, known)
  }
  return known
}

/**
 * External referrers only, reduced to host and path (no query); classified into a source
 * (e.g. "Google", or the host) and a channel. Without a referrer, `utm_source`/`ref`/`source` name the source.
 */
export const classifyReferrer: Step = (event) => {
  let kind: 'search' | 'social' | 'email' | 'referral' | 'direct' = 'direct'
  let source = ''
  const ref = referrerUrl(event)
  if (ref) {
    const host = ref.protocol === 'http:' || ref.protocol === 'https:' ? ref.hostname.toLowerCase().replace(/^www\./, '') : ''
    if (host && host !== event.hostname && host !== event.site) {
      const known = sourceOf(host)
      // a referrer addressed by an IP literal keeps `[ip]`, like any other text
      const shown = scrubText(host, event.policy.scrub)
      event.referrerHost = shown
      event.referrerPath = scrubText(safeDecode(ref.pathname), event.policy.scrub).slice(0, 512)
      source = known ? known[0] : shown
      kind = known ? known[1] : 'referral'
    }
  }
  event.referrer = ''
  event.parsedReferrer = undefined
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
