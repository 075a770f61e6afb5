import { apiGet, type TimeseriesAnswer } from '../lib/api.ts'
import { countryName, formatFull, formatMetric } from '../lib/format.ts'
import { periodParams } from '../lib/range.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView, type DashState } from '../lib/view.ts'
import { Chart } from './chart.tsx'

type Published = { value: number | null; withheld?: string }
interface ImportRef { id: string; source: string; from: string; to: string }
interface Overview {
  imports: ImportRef[]
  period: string
  interval: string
  results: Record<string, Published>
  timeseries: TimeseriesAnswer['results']
}
interface ImportedRows { imports: ImportRef[]; results: Record<string, string | number | null>[]; withheld?: string }

const SOURCES: Record<string, string> = { plausible: 'Plausible' }
const sourceName = (s: string) => SOURCES[s] ?? s
const CARDS = [
  { key: 'visitors', label: 'Visitors' },
  { key: 'visits', label: 'Visits' },
  { key: 'pageviews', label: 'Pageviews' },
  { key: 'bounce_rate', label: 'Bounce rate' },
  { key: 'visit_duration', label: 'Visit duration' },
]
const LISTS = [
  { property: 'page', title: 'Top pages' },
  { property: 'source', title: 'Top sources' },
  { property: 'country', title: 'Countries' },
  { property: 'device', title: 'Devices' },
]

/** One imported breakdown: its rows, largest first, or a note when none may be shown. */
function ImportedList({ params, property, title }: { params: Record<string, string>; property: string; title: string }) {
  const view = useView()
  const q = { ...params, property, limit: '10' }
  const rows = useFetch<ImportedRows>(`imported:${JSON.stringify(q)}`, (signal) => apiGet(view.cred, '/api/v1/stats/imported/breakdown', q, signal))
  const label = (v: string) => (property === 'country' ? countryName(v) : v)
  return (
    <div class="imported-list" data-imported={property}>
      <h3>{title}</h3>
      {rows.error && !rows.data ? <p class="error" role="alert">{rows.error.message}</p>
        : !rows.data ? <p class="muted small">Loading…</p>
        : rows.data.results.length === 0 ? <p class="muted small">{rows.data.withheld ?? 'Nothing imported for this period'}</p>
        : (
          <table class="list">
            <tbody>
              {rows.data.results.map((r) => (
                <tr key={String(r[property])} data-value={String(r[property])}>
                  <td>{label(String(r[property]))}</td>
                  <td class="num" title={r.visitors === null ? undefined : formatFull(Number(r.visitors))}>{r.visitors === null ? '–' : formatMetric('visitors', Number(r.visitors))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </div>
  )
}

/**
 * Statistics imported from another tool, for a period that touches imported days: beside the
 * collected ones and never added to them (GET /api/v1/stats/imported and its breakdowns).
 * Nothing is shown for a period without imported days.
 */
export function ImportedSection({ state }: { state: DashState }) {
  const view = useView()
  const params = { site: view.site, ...periodParams(state.range, view.timezone) }
  const overview = useFetch<Overview>(`imported:${JSON.stringify(params)}`, (signal) => apiGet(view.cred, '/api/v1/stats/imported', params, signal))
  const o = overview.data
  if (!o || o.imports.length === 0) return null
  const from = o.imports.map((i) => i.from).sort()[0]
  const to = o.imports.map((i) => i.to).sort().at(-1)
  return (
    <section class="panel wide imported" aria-labelledby="imported-title" id="imported">
      <header class="panel-head">
        <h2 id="imported-title">Imported from {[...new Set(o.imports.map((i) => sourceName(i.source)))].join(', ')}</h2>
      </header>
      <div class="panel-body">
        <p class="muted small" data-imported-note>
          Imported statistics for {from} to {to}, shown beside the collected ones and never added to them.
          Visitors are summed per day, not distinct: someone who came on three days counts three times.
          Days and rows with fewer than the minimum number of visitors are left out.
          {state.filters.length > 0 ? ' Filters do not apply to imported statistics.' : ''}
        </p>
        <div class="cards imported-cards">
          {CARDS.map((c) => {
            const v = o.results[c.key]
            return (
              <div class="card" key={c.key} data-imported-metric={c.key}>
                <span class="card-label">{c.label}</span>
                {v && v.value !== null ? <span class="card-value">{formatMetric(c.key, v.value)}</span>
                  : <span class="card-value withheld-value" title={v?.withheld}>Withheld</span>}
              </div>
            )
          })}
        </div>
        <Chart data={{ results: o.timeseries, interval: o.interval, period: o.period }} metric="visitors" label="Imported visitors" />
        <div class="grid imported-lists">
          {LISTS.map((l) => <ImportedList key={l.property} params={params} property={l.property} title={l.title} />)}
        </div>
      </div>
    </section>
  )
}
