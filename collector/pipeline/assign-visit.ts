import type { Step } from './types.ts'

/**
 * The visit the event belongs to, cut at the policy's visit timeout (see collector/visits.ts).
 * An event without a visitor hash (a consent stance) belongs to no visit: id 0.
 */
export const assignVisit: Step = (event, ctx) => {
  if (event.visitorId === '0') return event
  const a = ctx.visits.assign(event.site, event.visitorId, event.ts, event.policy.visitTimeoutMinutes * 60_000, event.name === 'pageview')
  event.visitId = a.visitId
  event.visitFlags = a.flags
  return event
}
