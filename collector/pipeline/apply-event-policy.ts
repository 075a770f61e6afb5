import type { Step } from './types.ts'

/** Event kinds and custom names the policy does not allow, and excluded paths, are dropped. */
export const applyEventPolicy: Step = (event) => {
  const p = event.policy
  if (!p.kinds.has(event.kind)) return { drop: 'kind_not_allowed' }
  if (event.kind === 'custom' && !p.customName(event.name)) return { drop: 'kind_not_allowed' }
  if (event.pathname && p.excludedPath(event.pathname)) return { drop: 'excluded_path' }
  return event
}
