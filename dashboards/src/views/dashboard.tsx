import { apiGet, type AggregateAnswer, type TimeseriesAnswer } from '../lib/api.ts'
import type { Metric } from '../lib/format.ts'
import { intervalsFor, previousPeriod, rangeLabel } from '../lib/range.ts'
import { navigate } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { apiParams, readState, useView, viewHref } from '../lib/view.ts'
import { Chart } from '../components/chart.tsx'
import { ExportMenu } from '../components/export-menu.tsx'
import { FilterBar } from '../components/filter-bar.tsx'
import { FunnelPanel } from '../components/funnel.tsx'
import { goalsTab } from '../components/goals.tsx'
import { MetricCards } from '../components/metric-cards.tsx'
import { EventsPanel, LinksPanel, LocationsPanel, PagesPanel, SourcesPanel, TechnologyPanel } from '../components/panels.tsx'
import { RangePicker } from '../components/range-picker.tsx'
import { ListSkeleton } from '../components/breakdown.tsx'

function PanelsLoading() {
  return (
    <div class="grid" aria-busy="true">
      {['Acquisition', 'Pages', 'Locations', 'Technology'].map((t) => (
        <section class="panel" key={t}><header class="panel-head"><h2>{t}</h2></header><div class="panel-body"><ListSkeleton /></div></section>
      ))}
    </div>
  )
}

/** The main view: range, filters, metric cards, chart and every breakdown, all from the URL. */
export function Dashboard({ params }: { params: URLSearchParams }) {
  const view = useView()
  const state = readState(params)
  const base = apiParams(view, state)
  const intervals = intervalsFor(state.range, view.timezone)
  const interval = state.interval && (intervals as string[]).includes(state.interval) ? state.interval : intervals[0]

  const aggKey = JSON.stringify(base)
  const agg = useFetch<AggregateAnswer>(aggKey, (signal) =>
    apiGet(view.cred, '/api/v1/stats/aggregate', { ...base, metrics: 'visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration' }, signal))
  const seriesParams = { ...base, metrics: state.metric, interval }
  const series = useFetch<TimeseriesAnswer>(JSON.stringify(seriesParams), (signal) => apiGet(view.cred, '/api/v1/stats/timeseries', seriesParams, signal))
  const totalVisitors = agg.data?.results.visitors?.value ?? null
  // the previous period, for the chart's dashed line: known once the aggregate names this period
  const previous = state.compare && agg.data ? previousPeriod(agg.data.period) : null
  const previousParams = previous ? { ...base, period: 'custom', from: previous.from, to: previous.to, date: undefined, metrics: state.metric, interval } : null
  const prevSeries = useFetch<TimeseriesAnswer>(previousParams ? JSON.stringify(previousParams) : null, (signal) => apiGet(view.cred, '/api/v1/stats/timeseries', previousParams!, signal))

  const selectMetric = (metric: Metric) => navigate(viewHref(view, state, { metric }), { replace: true })

  return (
    <div class="dashboard">
      <div class="toolbar">
        <div class="toolbar-title">
          <h1>{view.site}</h1>
          <p class="muted small" aria-live="polite">{rangeLabel(state.range)}{agg.data ? ` · ${agg.data.period.replace('..', ' to ')}` : ''}</p>
        </div>
        <div class="toolbar-actions">
          <RangePicker state={state} />
          {!view.readOnly && <ExportMenu params={base} />}
        </div>
      </div>
      <FilterBar state={state} />

      {agg.error && !agg.data && <p class="error" role="alert">Could not load statistics: {agg.error.message}</p>}
      <section class="overview" aria-label="Overview">
        <MetricCards agg={agg.data} metric={state.metric} onSelect={selectMetric} loading={agg.loading} />
        <div id="chart-panel" role="tabpanel" aria-labelledby={`card-${state.metric}`} class="chart-panel">
          <div class="chart-controls">
            <label class="compare">
              <input type="checkbox" checked={!!state.compare} onChange={(e) => navigate(viewHref(view, state, { compare: (e.currentTarget as HTMLInputElement).checked }), { replace: true })} />
              <span>Compare<span class="compare-long"> with previous period</span></span>
            </label>
            {intervals.length > 1 && (
              <label class="interval">
                <span class="visually-hidden">Chart interval</span>
                <select value={interval} onChange={(e) => navigate(viewHref(view, state, { interval: (e.currentTarget as HTMLSelectElement).value }), { replace: true })}>
                  {intervals.map((i) => <option key={i} value={i}>{i === 'hour' ? 'Hourly' : i === 'day' ? 'Daily' : i === 'week' ? 'Weekly' : 'Monthly'}</option>)}
                </select>
              </label>
            )}
          </div>
          {series.error && !series.data ? <p class="error" role="alert">Could not load the chart: {series.error.message}</p> : (
            <Chart data={series.data} previous={state.compare ? prevSeries.data : undefined} metric={state.metric} />
          )}
        </div>
      </section>

      {/* the panels ask once the cards have their answer: the numbers people look at first come first */}
      {agg.data === undefined && agg.error === undefined ? <PanelsLoading /> : (
      <div class="grid">
        <SourcesPanel state={state} />
        <PagesPanel state={state} />
        <LocationsPanel state={state} />
        <TechnologyPanel state={state} />
        <EventsPanel state={state} totalVisitors={totalVisitors} goalsTab={goalsTab(state)} />
        <LinksPanel state={state} />
        <FunnelPanel state={state} />
      </div>
      )}
    </div>
  )
}
