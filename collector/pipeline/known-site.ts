import type { Step } from './types.ts'

/** Beacons for a domain nobody registered with `analytics site add` are dropped. */
export const knownSite: Step = (event, ctx) => (ctx.isKnownSite(event.site) ? event : { drop: 'unknown_site' })
