import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { apiGet, type BreakdownAnswer, type BreakdownRow } from '../lib/api.ts'
import { filterable, withFilter } from '../lib/filters.ts'
import { formatFull, formatMetric, propertyLabel, valueLabel } from '../lib/format.ts'
import { onLinkClick } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { apiParams, goalFilter, useView, viewHref, type DashState } from '../lib/view.ts'
import { minVisitorsOf, usePolicy } from '../lib/policy.ts'

export interface Column {
  key: string
  label: string
  /** computed from the row (e.g. conversion rate); default: the API's metric of the same name */
  value?: (row: BreakdownRow) => number | null
}

export interface BreakdownSpec {
  property: string
  /** the first column's header */
  title: string
  /** API metrics; the first sizes the bars */
  metrics: string[]
  columns?: Column[]
  /** the row's label; default its value */
  label?: (row: BreakdownRow) => ComponentChildren
  /** the property a click filters on (default `property`) */
  filterProperty?: string
  /** what tells the row's value (default `row[property]`) */
  valueFrom?: (row: BreakdownRow) => string
  /** an external link for the row (pages, referrers) */
  href?: (row: BreakdownRow) => string | undefined
  limit?: number
  empty?: string
}

const OTHER = '(other)'

/**
 * With a goal filter every breakdown shows the converting visitors of each row and the API's
 * conversion rate (out of the row's visitors without the goal filter), whatever it shows otherwise.
 */
const CONVERSIONS = { metrics: ['visitors', 'conversion_rate'], columns: [{ key: 'visitors', label: 'Conversions' }, { key: 'conversion_rate', label: 'CR' }] }

/** Withheld is a statement, not an empty list: the numbers exist but stand for too few people. */
export function Withheld({ reason }: { reason: string }) {
  return (
    <p class="withheld" role="note" data-withheld>
      <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="currentColor" d="M12 2a5 5 0 0 0-5 5v3H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-8a2 2 0 0 0-2-2h-1V7a5 5 0 0 0-5-5zm-3 8V7a3 3 0 1 1 6 0v3H9z" /></svg>
      <span><strong>Withheld to protect privacy:</strong> {reason} stand behind these numbers.</span>
    </p>
  )
}

export function useBreakdown(state: DashState, property: string, metrics: string[], limit: number) {
  const view = useView()
  const params = { ...apiParams(view, state), property, metrics: metrics.join(','), limit: String(limit) }
  const key = JSON.stringify(params)
  return useFetch<BreakdownAnswer>(key, (signal) => apiGet(view.cred, '/api/v1/stats/breakdown', params, signal))
}

/** One breakdown as a list of bars; a click on a row filters the whole view by it. */
export function Breakdown({ spec, state }: { spec: BreakdownSpec; state: DashState }) {
  const view = useView()
  const [expanded, setExpanded] = useState(false)
  const shown = spec.limit ?? 9
  const { metrics, columns }: { metrics: string[]; columns: Column[] } = goalFilter(state)
    ? CONVERSIONS
    : { metrics: spec.metrics, columns: spec.columns ?? spec.metrics.map((m) => ({ key: m, label: m })) }
  const b = useBreakdown(state, spec.property, metrics, expanded ? 100 : shown)
  const valueOf = spec.valueFrom ?? ((row: BreakdownRow) => String(row[spec.property] ?? ''))
  const filterProperty = spec.filterProperty ?? spec.property
  const k = minVisitorsOf(usePolicy(view.site), view.readOnly)

  if (b.error && !b.data) return <p class="error" role="alert">Could not load {spec.title.toLowerCase()}: {b.error.message}</p>
  if (!b.data) return <ListSkeleton />
  if (b.data.withheld) return <Withheld reason={b.data.withheld} />
  const rows = b.data.results
  if (!rows.length) return <p class="empty">{spec.empty ?? 'No data for this period'}</p>
  const barMetric = metrics[0]
  const max = Math.max(...rows.map((r) => Number(r[barMetric] ?? 0)), 1)
  const visibleCount = rows.filter((r) => valueOf(r) !== OTHER).length

  return (
    <div class={`breakdown${b.loading ? ' is-loading' : ''}`} aria-busy={b.loading}>
      <table class="list">
        <thead>
          <tr>
            <th scope="col">{spec.title}</th>
            {columns.map((c) => <th scope="col" class="num" key={c.key}>{c.label}</th>)}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const value = valueOf(row)
            const other = value === OTHER
            const width = `${(Number(row[barMetric] ?? 0) / max) * 100}%`
            const label = spec.label ? spec.label(row) : value
            const external = spec.href?.(row)
            return (
              <tr key={value} class={other ? 'other-row' : undefined} data-value={value}>
                <td class="bar-cell">
                  <span class="bar" style={{ width }} aria-hidden="true" />
                  {other ? (
                    <span class="row-label other" title={`Values drawn from fewer than ${k ?? 'k'} visitors are combined here (with the smallest others when needed) so that no small group can be singled out`}>
                      <em>{OTHER}</em> <span class="muted small">small groups combined</span>
                    </span>
                  ) : filterable(value) ? (
                    <a class="row-label" href={viewHref(view, state, { filters: withFilter(state.filters, filterProperty, value) })} onClick={onLinkClick}
                      aria-label={`Filter by ${propertyLabel(filterProperty).toLowerCase()}: ${valueLabel(filterProperty, value)}`}>
                      {label}
                    </a>
                  ) : (
                    <span class="row-label">{label}</span>
                  )}
                  {external && !other && (
                    <a class="external" href={external} target="_blank" rel="noreferrer noopener" aria-label={`Open ${value} in a new tab`}>↗</a>
                  )}
                </td>
                {columns.map((c) => {
                  const v = c.value ? c.value(row) : (row[c.key] as number | null)
                  return <td class="num" key={c.key} title={v === null || v === undefined ? undefined : formatFull(v)}>{v === null || v === undefined ? '–' : formatMetric(c.key, v)}</td>
                })}
              </tr>
            )
          })}
        </tbody>
      </table>
      {(visibleCount >= shown || expanded) && (
        <button type="button" class="more" onClick={() => setExpanded(!expanded)} aria-expanded={expanded}>
          {expanded ? 'Show fewer' : 'Show more'}
        </button>
      )}
    </div>
  )
}


export function ListSkeleton() {
  return (
    <div class="skeleton-list" aria-busy="true" aria-label="Loading">
      {[80, 62, 45, 33, 20].map((w) => <div class="skeleton-row" key={w}><span class="skeleton" style={{ width: `${w}%` }} /></div>)}
    </div>
  )
}
