import { scrubPair, scrubText } from '../privacy/pii.ts'
import { LOCAL_HOST } from './known-site.ts'
import type { PipelineEvent, Step } from './types.ts'

const UTM_KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'] as const

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/**
 * Host and path only; the policy's allow-listed query parameters (UTM tags into their own
 * columns), every value scrubbed of PII; the fragment only for hash-routed sites.
 */
export const scrubUrl: Step = (event) => {
  const url = event.parsedUrl ?? new URL(event.url)
  // a developer's own machine is `localhost`, however it was addressed (no address is stored)
  const host = url.hostname.toLowerCase().replace(/^www\./, '')
  event.hostname = LOCAL_HOST.test(host) ? 'localhost' : host
  const site = event.policy.scrub
  let path = scrubText(safeDecode(url.pathname), site) || '/'
  if (event.hashMode && url.hash.length > 1) path += scrubText(safeDecode(url.hash.split('?')[0]), site)
  event.pathname = path.slice(0, 1024)
  keepQuery(event, url.searchParams)
  // the full URL, query string included, is not needed past this point
  event.url = ''
  event.parsedUrl = undefined
  return event
}

function keepQuery(event: PipelineEvent, params: URLSearchParams) {
  const kept: string[] = []
  for (const [key, value] of params) {
    if (!event.policy.queryParam(key)) continue
    const clean = scrubPair(key, value, event.policy.scrub).slice(0, 256)
    const k = key.toLowerCase()
    if ((UTM_KEYS as readonly string[]).includes(k)) event.utm[k as (typeof UTM_KEYS)[number]] = clean
    // a policy that keeps any parameter (`*`) may meet one whose name is an identifier
    else kept.push(`${encodeURIComponent(scrubText(key, event.policy.scrub))}=${encodeURIComponent(clean)}`)
  }
  event.query = kept.join('&').slice(0, 512)
}
