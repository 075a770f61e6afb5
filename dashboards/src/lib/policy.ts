import { useEffect, useState } from 'preact/hooks'

/** The parts of the site's published policy (`/privacy.json`) the dashboards show. */
export interface PolicySummary {
  minVisitors: { dashboard: number; shared: number; export: number; text: string }
  retention: { text: string }
}

const cache = new Map<string, Promise<PolicySummary | null>>()

function load(site: string): Promise<PolicySummary | null> {
  let p = cache.get(site)
  if (!p) {
    p = fetch(`/privacy.json?site=${encodeURIComponent(site)}`).then((r) => (r.ok ? (r.json() as Promise<PolicySummary>) : null), () => null)
    cache.set(site, p)
  }
  return p
}

export function usePolicy(site: string): PolicySummary | null {
  const [policy, setPolicy] = useState<PolicySummary | null>(null)
  useEffect(() => {
    if (!site) return
    let live = true
    void load(site).then((p) => live && setPolicy(p))
    return () => void (live = false)
  }, [site])
  return policy
}

/** The k that applies to this view: shared links may have a larger one than the site's own dashboards. */
export const minVisitorsOf = (policy: PolicySummary | null, shared: boolean): number | undefined =>
  policy ? (shared ? policy.minVisitors.shared : policy.minVisitors.dashboard) : undefined
