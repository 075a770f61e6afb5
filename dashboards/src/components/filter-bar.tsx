import { operatorText, withoutFilter } from '../lib/filters.ts'
import { propertyLabel, valueLabel } from '../lib/format.ts'
import { onLinkClick } from '../lib/router.ts'
import { useView, viewHref, type DashState } from '../lib/view.ts'
import { SegmentMenu } from './segment-menu.tsx'

/** The saved segments' menu and the view's filters as removable chips (links: the URL is the state). */
export function FilterBar({ state }: { state: DashState }) {
  return (
    <div class="filter-bar">
      <SegmentMenu state={state} />
      {state.filters.length > 0 && <Chips state={state} />}
    </div>
  )
}

function Chips({ state }: { state: DashState }) {
  const view = useView()
  return (
    <ul class="filters" aria-label="Filters">
      {state.filters.map((f, i) => {
        const text = `${propertyLabel(f.property)} ${operatorText(f.op)} ${f.values.map((v) => valueLabel(f.property, v)).join(' or ')}`
        return (
          <li class="chip" key={`${f.property}${i}`}>
            <span>{propertyLabel(f.property)} <span class="muted">{operatorText(f.op)}</span> <strong>{f.values.map((v) => valueLabel(f.property, v)).join(' or ')}</strong></span>
            <a href={viewHref(view, state, { filters: withoutFilter(state.filters, i) })} onClick={onLinkClick} class="chip-remove" aria-label={`Remove filter: ${text}`} title="Remove filter">×</a>
          </li>
        )
      })}
      {state.filters.length > 1 && (
        <li><a class="clear-filters" href={viewHref(view, state, { filters: [] })} onClick={onLinkClick}>Clear all</a></li>
      )}
    </ul>
  )
}
