import type { AggregateAnswer } from '../lib/api.ts'
import { formatChange, formatFull, formatMetric, METRICS, type Metric } from '../lib/format.ts'

/**
 * The top cards; choosing one charts its metric. A tab list: arrow keys move between cards.
 * A withheld value reads as such ("fewer than 5 visitors"), never as 0.
 */
export function MetricCards({ agg, metric, onSelect, loading }: { agg?: AggregateAnswer; metric: Metric; onSelect: (m: Metric) => void; loading: boolean }) {
  const onKey = (e: KeyboardEvent, i: number) => {
    const step = e.key === 'ArrowRight' || e.key === 'ArrowDown' ? 1 : e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? -1 : 0
    if (!step) return
    e.preventDefault()
    const next = METRICS[(i + step + METRICS.length) % METRICS.length].key
    onSelect(next)
    requestAnimationFrame(() => document.getElementById(`card-${next}`)?.focus())
  }
  return (
    <div class="cards" role="tablist" aria-label="Metrics" aria-busy={loading}>
      {METRICS.map((m, i) => {
        const v = agg?.results[m.key]
        const selected = m.key === metric
        const change = v && v.value !== null ? v.change : null
        const good = change !== null && (m.lowerIsBetter ? change < 0 : change > 0)
        return (
          <button
            type="button" role="tab" id={`card-${m.key}`} key={m.key} aria-selected={selected} aria-controls="chart-panel"
            tabIndex={selected ? 0 : -1} class={`card${selected ? ' selected' : ''}`} data-metric={m.key}
            onClick={() => onSelect(m.key)} onKeyDown={(e) => onKey(e, i)}
          >
            <span class="card-label">{m.label}</span>
            {v === undefined ? (
              <span class="card-value skeleton" aria-label="loading">&nbsp;</span>
            ) : v.value === null ? (
              <>
                <span class="card-value withheld-value" data-value="withheld" title={v.withheld}>Withheld</span>
                <span class="card-change withheld-reason">{v.withheld}</span>
              </>
            ) : (
              <>
                <span class="card-value" data-value={v.value} title={formatFull(v.value)}>{formatMetric(m.key, v.value)}</span>
                <span class={`card-change ${change === null ? '' : good ? 'up' : change === 0 ? '' : 'down'}`}>
                  {change === null ? <span class="muted">no comparison</span> : (
                    <>
                      <span aria-hidden="true">{change > 0 ? '↑' : change < 0 ? '↓' : '→'}</span>
                      <span class="visually-hidden">{change > 0 ? 'up' : change < 0 ? 'down' : 'unchanged'}</span> {formatChange(change)}
                      <span class="visually-hidden"> against the previous period</span>
                    </>
                  )}
                </span>
              </>
            )}
          </button>
        )
      })}
    </div>
  )
}
