import { apiGet, ApiError } from '../lib/api.ts'
import { serializeFilters, withFilter } from '../lib/filters.ts'
import { formatFull } from '../lib/format.ts'
import { navigate, onLinkClick } from '../lib/router.ts'
import { useFetch, type Fetched } from '../lib/use-fetch.ts'
import { apiParams, useView, viewHref, type DashState } from '../lib/view.ts'
import { ListSkeleton, useBreakdown, Withheld } from './breakdown.tsx'

/** GET /api/v1/stats/page-flow (the aggregator's page flow). */
interface PageFlowAnswer {
  page: string
  visitors: number | null
  previous: { page: string; visitors: number }[]
  next: { page: string; visitors: number }[]
  withheld?: string
}

/** One page the flow can be asked about (a `*` makes a filter's value a pattern, not a page). */
const exactPage = (p: string | undefined) => (p && p.startsWith('/') && !p.includes('*') ? p : undefined)

function FlowList({ title, rows, hrefOf }: { title: string; rows: { page: string; visitors: number }[]; hrefOf: (page: string) => string }) {
  const max = Math.max(...rows.map((r) => r.visitors), 1)
  return (
    <div class="flow-col">
      <h3>{title}</h3>
      {!rows.length ? <p class="muted small">None in this period</p> : (
        <table class="list">
          <thead><tr><th scope="col">Page</th><th scope="col" class="num">Visitors</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.page} class={r.page === '(other)' ? 'other-row' : undefined} data-value={r.page}>
                <td class="bar-cell">
                  <span class="bar" style={{ width: `${(r.visitors / max) * 100}%` }} aria-hidden="true" />
                  {r.page === '(other)' || !r.page.startsWith('/') ? (
                    <span class="row-label">{r.page === '(other)' ? <><em>(other)</em> <span class="muted small">small groups combined</span></> : r.page}</span>
                  ) : (
                    <a class="row-label" href={hrefOf(r.page)} onClick={onLinkClick} aria-label={`Page flow of ${r.page}`}>{r.page}</a>
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

/**
 * Where the visitors of one page came from and went next within their visits. The page is the
 * view's `page==` filter, else the one chosen here (`flow=` in the URL), else the site's top page
 * (the first row of the pages breakdown): the tab is never empty while there are pages.
 */
export function PageFlow({ state }: { state: DashState }) {
  const view = useView()
  const filter = state.filters.find((f) => f.property === 'page' && f.op === '==' && f.values.length === 1 && exactPage(f.values[0]))
  const rest = state.filters.filter((f) => f !== filter)
  const top = useBreakdown({ ...state, filters: rest }, 'page', ['visitors'], 10)
  const pages = (top.data?.results ?? []).map((r) => String(r.page)).filter((p) => exactPage(p))
  const page = exactPage(filter?.values[0]) ?? exactPage(state.flow) ?? pages[0]
  const params = { ...apiParams(view, state), filters: serializeFilters(rest), page, limit: '8' }
  const flow = useFetch<PageFlowAnswer>(page ? JSON.stringify(params) : null, (signal) => apiGet(view.cred, '/api/v1/stats/page-flow', params, signal))
  // a page filter moves with the flow; without one, the flow moves alone
  const hrefOf = (p: string) => viewHref(view, state, filter ? { filters: withFilter(state.filters, 'page', p) } : { flow: p })

  if (!page) {
    if (top.error && !top.data) return <p class="error" role="alert">Could not load pages: {top.error.message}</p>
    if (!top.data) return <ListSkeleton />
    if (top.data.withheld) return <Withheld reason={top.data.withheld} />
    return <p class="empty">No pages in this period</p>
  }
  const choices = pages.includes(page) ? pages : [page, ...pages]
  return (
    <div class="flow">
      <label class="inline-select">
        <span>Page</span>
        <select value={page} onChange={(e) => navigate(hrefOf((e.currentTarget as HTMLSelectElement).value), { replace: true })}>
          {choices.map((p) => <option key={p} value={p}>{p}</option>)}
        </select>
        {!filter && !state.flow && <span class="muted small">the top page of this period</span>}
      </label>
      <FlowOf page={page} flow={flow} hrefOf={hrefOf} />
    </div>
  )
}

/** The flow of one page: came from, went next, or why it is not shown. */
function FlowOf({ page, flow, hrefOf }: { page: string; flow: Fetched<PageFlowAnswer>; hrefOf: (page: string) => string }) {
  if (flow.error instanceof ApiError && flow.error.status === 404) return <p class="empty">Page flow is not available on this server.</p>
  if (flow.error && !flow.data) return <p class="error" role="alert">Could not load the page flow: {flow.error.message}</p>
  if (!flow.data) return <ListSkeleton />
  if (flow.data.withheld) return <Withheld reason={flow.data.withheld} />
  return (
    <>
      <p class="flow-page"><strong>{page}</strong> <span class="muted">· {flow.data.visitors === null ? 'withheld' : `${formatFull(flow.data.visitors)} visitors`}</span></p>
      <div class="flow-cols">
        <FlowList title="Came from" rows={flow.data.previous} hrefOf={hrefOf} />
        <FlowList title="Went next" rows={flow.data.next} hrefOf={hrefOf} />
      </div>
    </>
  )
}
