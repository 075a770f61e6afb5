import { apiGet, ApiError } from '../lib/api.ts'
import { serializeFilters, withFilter } from '../lib/filters.ts'
import { formatFull } from '../lib/format.ts'
import { onLinkClick } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { apiParams, useView, viewHref, type DashState } from '../lib/view.ts'
import { ListSkeleton, Withheld } from './breakdown.tsx'

/** GET /api/v1/stats/page-flow (the aggregator's page flow). */
interface PageFlowAnswer {
  page: string
  visitors: number | null
  previous: { page: string; visitors: number }[]
  next: { page: string; visitors: number }[]
  withheld?: string
}

function FlowList({ title, rows, state }: { title: string; rows: { page: string; visitors: number }[]; state: DashState }) {
  const view = useView()
  const max = Math.max(...rows.map((r) => r.visitors), 1)
  return (
    <div class="flow-col">
      <h3>{title}</h3>
      {!rows.length ? <p class="muted small">None in this period</p> : (
        <table class="list">
          <thead><tr><th scope="col">Page</th><th scope="col" class="num">Visitors</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.page} class={r.page === '(other)' ? 'other-row' : undefined}>
                <td class="bar-cell">
                  <span class="bar" style={{ width: `${(r.visitors / max) * 100}%` }} aria-hidden="true" />
                  {r.page === '(other)' || !r.page.startsWith('/') ? (
                    <span class="row-label">{r.page === '(other)' ? <><em>(other)</em> <span class="muted small">small groups combined</span></> : r.page}</span>
                  ) : (
                    <a class="row-label" href={viewHref(view, state, { filters: withFilter(state.filters, 'page', r.page) })} onClick={onLinkClick} aria-label={`Page flow of ${r.page}`}>{r.page}</a>
                  )}
                </td>
                <td class="num">{formatFull(r.visitors)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}

/** Where the visitors of one page came from and went next within their visits: the page is the view's `page==` filter. */
export function PageFlow({ state }: { state: DashState }) {
  const view = useView()
  const filter = state.filters.find((f) => f.property === 'page' && f.op === '==' && f.values.length === 1)
  const page = filter?.values[0]
  const params = { ...apiParams(view, state), filters: serializeFilters(state.filters.filter((f) => f !== filter)), page, limit: '8' }
  const flow = useFetch<PageFlowAnswer>(page ? JSON.stringify(params) : null, (signal) => apiGet(view.cred, '/api/v1/stats/page-flow', params, signal))
  if (!page) return <p class="empty">Click a page in <em>Top pages</em>, then come back here to see where its visitors came from and where they went next.</p>
  if (flow.error instanceof ApiError && flow.error.status === 404) return <p class="empty">Page flow is not available on this server.</p>
  if (flow.error && !flow.data) return <p class="error" role="alert">Could not load the page flow: {flow.error.message}</p>
  if (!flow.data) return <ListSkeleton />
  if (flow.data.withheld) return <Withheld reason={flow.data.withheld} />
  return (
    <div class="flow">
      <p class="flow-page"><strong>{page}</strong> <span class="muted">· {flow.data.visitors === null ? 'withheld' : `${formatFull(flow.data.visitors)} visitors`}</span></p>
      <div class="flow-cols">
        <FlowList title="Came from" rows={flow.data.previous} state={state} />
        <FlowList title="Went next" rows={flow.data.next} state={state} />
      </div>
    </div>
  )
}
