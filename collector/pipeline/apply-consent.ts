import type { PipelineEvent, Step } from './types.ts'
import type { ConsentStance } from '../../policy/policy.ts'

function apply(event: PipelineEvent, stance: ConsentStance, reason: 'consent_dnt' | 'consent_gpc') {
  if (stance === 'drop') return { drop: reason }
  if (stance === 'count_without_hash') event.withoutHash = true
  return event
}

/** Do Not Track and Global Privacy Control, as the policy says: drop, count without a visitor hash, or ignore. */
export const applyConsentSignals: Step = (event) => {
  if (event.gpc) {
    const r = apply(event, event.policy.gpc, 'consent_gpc')
    if (r !== event) return r
  }
  if (event.dnt) return apply(event, event.policy.dnt, 'consent_dnt')
  return event
}
