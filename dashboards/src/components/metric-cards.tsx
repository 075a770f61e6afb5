import type { AggregateAnswer } from '../lib/api.ts'
import { formatChange, formatFull, formatMetric, METRICS, type Metric } from '../lib/format.ts'

export interface CardMetric {
  key: Metric
  label: string
  lowerIsBetter?: boolean
}

/**
 * With a goal filter the cards are about conversions, as in Plausible: the converting visitors
 * (Plausible's unique conversions), their share of all visitors (the API's conversion_rate), and
 * their visits. Bounce rate is left out: a visit that sent the goal's event never bounces.
 */
const GOAL_CARDS: CardMetric[] = [
  { key: 'visitors', label: 'Conversions' },
  { key: 'conversion_rate', label: 'Conversion rate' },
  { key: 'visits', label: 'Converting visits' },
  { key: 'pageviews', label: 'Total pageviews' },
  { key: 'views_per_visit', label: 'Views per visit' },
  { key: 'visit_duration', label: 'Visit duration' },
]

export const cardsFor = (goal: boolean): CardMetric[] => (goal ? GOAL_CARDS : METRICS)

/**
 * The top cards; choosing one charts its metric. A tab list: arrow keys move between cards.
 * A withheld value reads as such ("fewer than 5 visitors"), never as 0. `compared` names the
 * period the change is against; without it (comparison off) no change is shown.
 */
export function MetricCards({ cards, agg, metric, compared, onSelect, loading }: {
  cards: CardMetric[]; agg?: AggregateAnswer; metric: Metric; compared?: string; onSelect: (m: Metric) => void; loading: boolean
}) {
  const onKey = (e: KeyboardEvent, i: number) => {
    const step = e.key === 'ArrowRight' || e.key === 'ArrowDown' ? 1 : e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? -1 : 0
    if (!step) return
    e.preventDefault()
    const next = cards[(i + step + cards.length) % cards.length].key
    onSelect(next)
    requestAnimationFrame(() => document.getElementById(`card-${next}`)?.focus())
  }
  return (
    <div class="cards" role="tablist" aria-label="Metrics" aria-busy={loading}>
      {cards.map((m, i) => {
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
            ) : v.value === null && v.withheld ? (
              <>
                <span class="card-value withheld-value" data-value="withheld" title={v.withheld}>Withheld</span>
                <span class="card-change withheld-reason">{v.withheld}</span>
              </>
            ) : v.value === null ? (
              // a conversion rate whose non-converting visitors are too few to tell apart
              <>
                <span class="card-value withheld-value" data-value="withheld">Withheld</span>
                <span class="card-change withheld-reason">too few visitors did not convert</span>
              </>
            ) : (
              <>
                <span class="card-value" data-value={v.value} title={formatFull(v.value)}>{formatMetric(m.key, v.value)}</span>
                {compared !== undefined && (
                  <span class={`card-change ${change === null ? '' : good ? 'up' : change === 0 ? '' : 'down'}`} data-change={change ?? 'none'}>
                    {change === null ? <span class="muted">no comparison</span> : (
                      <>
                        <span aria-hidden="true">{change > 0 ? '↑' : change < 0 ? '↓' : '→'}</span>
                        <span class="visually-hidden">{change > 0 ? 'up' : change < 0 ? 'down' : 'unchanged'}</span> {formatChange(change)}
                        <span class="visually-hidden"> against {compared}</span>
                      </>
                    )}
                  </span>
                )}
              </>
            )}
          </button>
        )
      })}
    </div>
  )
}
