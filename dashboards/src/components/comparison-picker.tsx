import { useState } from 'preact/hooks'
import { navigate } from '../lib/router.ts'
import { todayIn } from '../lib/range.ts'
import { useView, viewHref, type Comparison, type DashState } from '../lib/view.ts'

const CHOICES: { key: Comparison; label: string }[] = [
  { key: 'off', label: 'No comparison' },
  { key: 'previous_period', label: 'Previous period' },
  { key: 'year_over_year', label: 'Year over year' },
  { key: 'custom', label: 'Custom dates…' },
]

/** The first and last day of a period as the API names it (`2026-11-01..2026-11-30`, or one day). */
function days(period?: string): { from: string; to: string } | null {
  const m = /^(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?$/.exec(period ?? '')
  return m ? { from: m[1], to: m[2] ?? m[1] } : null
}

/**
 * What the cards' change and the chart's dashed line compare with: the API's comparisons (a
 * running period like for like), or none. Custom dates start from the period compared now
 * (`compared`, as the aggregate names it) and apply with the button.
 */
export function ComparisonPicker({ state, compared }: { state: DashState; compared?: string }) {
  const view = useView()
  const today = todayIn(view.timezone)
  // choosing "Custom dates…" opens the dates before anything is asked
  const [editing, setEditing] = useState(false)
  const custom = editing || state.comparison === 'custom'
  const start = state.compareFrom && state.compareTo ? { from: state.compareFrom, to: state.compareTo } : days(compared) ?? { from: today, to: today }
  const [from, setFrom] = useState(start.from)
  const [to, setTo] = useState(start.to)
  const go = (change: Partial<DashState>) => navigate(viewHref(view, state, change), { replace: true })
  const shown = custom ? 'custom' : state.comparison

  return (
    <div class="comparison-picker">
      <label>
        <span class="comparison-label">Compare</span>
        <select
          value={shown}
          aria-label="Compare with"
          onChange={(e) => {
            const key = (e.currentTarget as HTMLSelectElement).value as Comparison
            setEditing(key === 'custom')
            if (key !== 'custom') go({ comparison: key, compareFrom: undefined, compareTo: undefined })
            else {
              setFrom(start.from)
              setTo(start.to)
            }
          }}
        >
          {CHOICES.map((c) => <option key={c.key} value={c.key}>{c.label}</option>)}
        </select>
      </label>
      {custom && (
        <form class="custom-range" aria-label="Compared dates" onSubmit={(e) => { e.preventDefault(); go({ comparison: 'custom', compareFrom: from, compareTo: to }) }}>
          <label><span class="visually-hidden">Compare from</span><input type="date" value={from} max={today} required onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} /></label>
          <span aria-hidden="true">–</span>
          <label><span class="visually-hidden">Compare to</span><input type="date" value={to} max={today} required onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} /></label>
          <button type="submit" class="button">Compare</button>
        </form>
      )}
    </div>
  )
}
