import { apiGet, type RealtimeAnswer } from '../lib/api.ts'
import { formatFull } from '../lib/format.ts'
import { onLinkClick } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView } from '../lib/view.ts'
import { ListSkeleton, Withheld } from '../components/breakdown.tsx'

export const REALTIME_REFRESH_MS = 10_000

/** Visitors in the last five minutes and the pages they are on, refreshed every 10 s. */
export function Realtime() {
  const view = useView()
  const rt = useFetch<RealtimeAnswer>(`realtime:${view.site}`, (signal) => apiGet(view.cred, '/api/v1/stats/realtime', { site: view.site }, signal), REALTIME_REFRESH_MS)
  const d = rt.data
  const max = Math.max(...(d?.pages.map((p) => p.visitors) ?? []), 1)
  const [updated] = [new Date().toLocaleTimeString('en-GB')]
  return (
    <div class="page realtime">
      <div class="toolbar">
        <div class="toolbar-title">
          <h1>{view.site} <span class="live-badge"><span class="pulse" aria-hidden="true" />Realtime</span></h1>
          <p class="muted small">The last 5 minutes, refreshed every 10 seconds. <a href={view.base + (view.embed ? '?embed=1' : '')} onClick={onLinkClick}>Back to the dashboard</a></p>
        </div>
      </div>
      <div class="realtime-grid">
        <section class="card realtime-now" aria-labelledby="now-title">
          <h2 id="now-title">Visitors now</h2>
          <p class="big-number" aria-live="polite" data-realtime-visitors>
            {!d ? '…' : d.visitors === null ? <span class="withheld-value">Withheld</span> : formatFull(d.visitors)}
          </p>
          {d?.withheld && <p class="withheld-reason">{d.withheld}</p>}
          <p class="muted small" role="status">{rt.error ? `Could not refresh: ${rt.error.message}` : d ? `Updated ${updated}` : ''}</p>
        </section>
        <section class="panel" aria-labelledby="current-pages">
          <header class="panel-head"><h2 id="current-pages">Current pages</h2></header>
          <div class="panel-body">
            {!d ? <ListSkeleton /> : d.withheld ? <Withheld reason={d.withheld} /> : !d.pages.length ? <p class="empty">Nobody is on the site right now.</p> : (
              <table class="list">
                <thead><tr><th scope="col">Page</th><th scope="col" class="num">Visitors</th></tr></thead>
                <tbody>
                  {d.pages.map((p) => (
                    <tr key={p.page} class={p.page === '(other)' ? 'other-row' : undefined}>
                      <td class="bar-cell"><span class="bar" style={{ width: `${(p.visitors / max) * 100}%` }} aria-hidden="true" /><span class="row-label">{p.page === '(other)' ? <em>(other) <span class="muted small">pages with few visitors, combined</span></em> : p.page}</span></td>
                      <td class="num">{formatFull(p.visitors)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        </section>
      </div>
    </div>
  )
}
