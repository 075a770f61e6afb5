import type { Step } from './types.ts'

export const LOCAL_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

/**
 * Beacons for a domain nobody registered with `analytics site add` are dropped, and so are
 * pages on a host that is not the site, one of its subdomains, or the developer's own machine
 * (the tracker counts those only when asked): no one else's pages end up in a site's numbers.
 */
export const knownSite: Step = (event, ctx) => {
  if (!ctx.isKnownSite(event.site)) return { drop: 'unknown_site' }
  const host = (event.parsedUrl?.hostname ?? '').toLowerCase().replace(/^www\./, '')
  if (host && host !== event.site && !host.endsWith(`.${event.site}`) && !LOCAL_HOST.test(host)) return { drop: 'foreign_host' }
  return event
}
