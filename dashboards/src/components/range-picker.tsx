import { useEffect, useState } from 'preact/hooks'
import { navigate } from '../lib/router.ts'
import { addDays, RANGES, todayIn, type Range, type RangeKey } from '../lib/range.ts'
import { useView, viewHref, type DashState } from '../lib/view.ts'

/** The date range: a native select (keyboard and screen-reader friendly), dates for a custom range, Plausible's hotkeys. */
export function RangePicker({ state }: { state: DashState }) {
  const view = useView()
  const today = todayIn(view.timezone)
  const [from, setFrom] = useState(state.range.from ?? addDays(today, -6))
  const [to, setTo] = useState(state.range.to ?? today)
  const go = (range: Range) => navigate(viewHref(view, state, { range }))

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return
      const t = e.target as HTMLElement
      if (t.closest('input, select, textarea, [contenteditable]')) return
      const r = RANGES.find((x) => x.hotkey === e.key && x.key !== 'custom')
      if (r) go({ key: r.key })
    }
    addEventListener('keydown', onKey)
    return () => removeEventListener('keydown', onKey)
  })

  return (
    <div class="range-picker">
      <label>
        <span class="visually-hidden">Date range</span>
        <select
          value={state.range.key}
          aria-keyshortcuts={RANGES.filter((r) => r.key !== 'custom').map((r) => r.hotkey).join(' ')}
          onChange={(e) => {
            const key = (e.currentTarget as HTMLSelectElement).value as RangeKey
            go(key === 'custom' ? { key, from, to } : { key })
          }}
        >
          {RANGES.map((r) => <option key={r.key} value={r.key}>{r.label}</option>)}
        </select>
      </label>
      {state.range.key === 'custom' && (
        <form class="custom-range" onSubmit={(e) => { e.preventDefault(); go({ key: 'custom', from, to }) }}>
          <label><span class="visually-hidden">From</span><input type="date" value={from} max={today} required onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} /></label>
          <span aria-hidden="true">–</span>
          <label><span class="visually-hidden">To</span><input type="date" value={to} max={today} required onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} /></label>
          <button type="submit" class="button">Apply</button>
        </form>
      )}
    </div>
  )
}
