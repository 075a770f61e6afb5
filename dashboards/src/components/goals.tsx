import { apiGet, ApiError } from '../lib/api.ts'
import { filterable, withFilter } from '../lib/filters.ts'
import { formatMetric, formatMoney } from '../lib/format.ts'
import { onLinkClick } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { apiParams, goalFilter, useView, viewHref, type DashState } from '../lib/view.ts'
import { ListSkeleton, Withheld } from './breakdown.tsx'
import type { Tab } from './panel.tsx'

/** GET /api/v1/stats/goals (the aggregator's goal conversions). */
export interface GoalsAnswer {
  results: {
    id: string; goal: string; visitors: number | null; events: number | null; conversion_rate: number | null; withheld?: string
    /** a revenue goal's, in its currency */
    currency?: string; total_revenue?: number | null
  }[]
  visitors: number | null
  withheld?: string
}

// The Goals tab and the funnel builder ask the same question: one request serves both.
const asked = new Map<string, Promise<GoalsAnswer>>()

export function useGoals(state: DashState) {
  const view = useView()
  const params = apiParams(view, state)
  const key = `goals:${JSON.stringify(params)}`
  return useFetch<GoalsAnswer>(key, () => {
    let p = asked.get(key)
    if (!p) {
      p = apiGet<GoalsAnswer>(view.cred, '/api/v1/stats/goals', params)
      asked.set(key, p)
      setTimeout(() => asked.delete(key), 2000)
    }
    return p
  })
}

/**
 * The site's goals with their conversions; a click on a goal filters the whole view by it
 * (`goal==<name>`, or its id when the name holds a separator of the filter syntax).
 */
function Goals({ state }: { state: DashState }) {
  const view = useView()
  const g = useGoals(state)
  const current = goalFilter(state)?.values
  if (g.error instanceof ApiError && g.error.status === 404) return <p class="empty">Goals are not available on this server.</p>
  if (g.error && !g.data) return <p class="error" role="alert">Could not load goals: {g.error.message}</p>
  if (!g.data) return <ListSkeleton />
  if (g.data.withheld) return <Withheld reason={g.data.withheld} />
  if (!g.data.results.length) {
    return (
      <p class="empty">
        No goals yet.{' '}
        {!view.readOnly && <>Add a page or event goal in <a href={`${view.base}/settings#goals`} onClick={onLinkClick}>Settings</a>.</>}
      </p>
    )
  }
  const max = Math.max(...g.data.results.map((r) => r.visitors ?? 0), 1)
  const revenue = g.data.results.some((r) => r.currency)
  return (
    <table class="list">
      <thead><tr><th scope="col">Goal</th><th scope="col" class="num">Visitors</th><th scope="col" class="num">Events</th><th scope="col" class="num">CR</th>{revenue && <th scope="col" class="num">Revenue</th>}</tr></thead>
      <tbody>
        {g.data.results.map((r) => {
          const name = filterable(r.goal) ? r.goal : r.id
          const active = current?.some((v) => v.toLowerCase() === r.goal.toLowerCase() || v === r.id)
          return (
            <tr key={r.id} data-value={r.goal}>
              <td class="bar-cell">
                <span class="bar" style={{ width: `${((r.visitors ?? 0) / max) * 100}%` }} aria-hidden="true" />
                <a class="row-label" href={viewHref(view, state, { filters: withFilter(state.filters, 'goal', name) })} onClick={onLinkClick}
                  aria-current={active ? 'true' : undefined} aria-label={`Filter by goal: ${r.goal}`}>{r.goal}</a>
              </td>
              {r.withheld ? (
                <td class="num withheld-cell" colSpan={revenue ? 4 : 3} title={r.withheld}>withheld: {r.withheld}</td>
              ) : (
                <>
                  <td class="num">{r.visitors === null ? '–' : formatMetric('visitors', r.visitors)}</td>
                  <td class="num">{r.events === null ? '–' : formatMetric('events', r.events)}</td>
                  <td class="num">{r.conversion_rate === null ? '–' : `${r.conversion_rate}%`}</td>
                  {revenue && <td class="num">{r.currency && r.total_revenue != null ? formatMoney(r.total_revenue, r.currency) : '–'}</td>}
                </>
              )}
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}

export const goalsTab = (state: DashState): Tab => ({ id: 'goals', label: 'Goals', render: () => <Goals state={state} /> })
