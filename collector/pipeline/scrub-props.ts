import { scrubPair, scrubText } from '../privacy/pii.ts'
import { safeDecode } from './scrub-url.ts'
import type { SitePattern } from '../../identifiers/site-patterns.ts'
import type { Step } from './types.ts'

/** A clicked link keeps its host and path, never its query string or fragment. */
function linkTarget(value: string, site: readonly SitePattern[]): string {
  try {
    const u = new URL(value)
    return scrubText(u.hostname + safeDecode(u.pathname), site).slice(0, 512)
  } catch {
    return scrubText(value.split(/[?#]/)[0], site).slice(0, 512)
  }
}

/** Custom-event names and props: only keys the policy allows, every value scrubbed of PII. */
export const scrubProps: Step = (event) => {
  const site = event.policy.scrub
  if (event.kind === 'custom') event.name = scrubText(event.name, site)
  const props: Record<string, string> = {}
  for (const [key, value] of Object.entries(event.props)) {
    if (!event.policy.prop(key)) continue
    props[scrubText(key, site)] = key === 'url' ? linkTarget(value, site) : scrubPair(key, value, site)
  }
  event.props = props
  return event
}
