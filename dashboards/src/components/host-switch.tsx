import { withFilter } from '../lib/filters.ts'
import { onLinkClick } from '../lib/router.ts'
import { useView, viewHref, type DashState } from '../lib/view.ts'
import { useBreakdown } from './breakdown.tsx'

const OTHER = '(other)'

/** The view's `hostname==<host>` filter, if it names one host. */
export const hostFilter = (state: DashState) => state.filters.find((f) => f.property === 'hostname' && f.op === '==' && f.values.length === 1)

/**
 * The hosts a site's visits entered on (subdomains apart), as one-click filters above the pages
 * panel; shown only when there is more than one host to tell apart, or one is chosen.
 */
export function HostSwitch({ state }: { state: DashState }) {
  const view = useView()
  const chosen = hostFilter(state)
  // every host of the view, the chosen one included
  const others = { ...state, filters: state.filters.filter((f) => f !== chosen) }
  const hosts = useBreakdown(others, 'hostname', ['visitors'], 10)
  const names = (hosts.data?.results ?? []).map((r) => String(r.hostname)).filter((h) => h !== OTHER && h !== '(none)')
  if (names.length < 2 && !chosen) return null
  const link = (host: string | undefined, text: string) => (
    <li key={host ?? ''}>
      <a href={viewHref(view, others, host ? { filters: withFilter(others.filters, 'hostname', host) } : {})} onClick={onLinkClick}
        aria-current={chosen?.values[0] === host ? 'true' : undefined}>{text}</a>
    </li>
  )
  return (
    <ul class="host-switch" aria-label="Hostnames">
      {link(undefined, 'All hosts')}
      {names.map((h) => link(h, h))}
    </ul>
  )
}
