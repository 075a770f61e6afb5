import { useState } from 'preact/hooks'
import { apiGet, type AggregateAnswer, type TimeseriesAnswer } from '../lib/api.ts'
import type { Metric } from '../lib/format.ts'
import { intervalsFor, rangeLabel } from '../lib/range.ts'
import { navigate } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { apiParams, comparisonParams, goalFilter, readState, useView, viewHref } from '../lib/view.ts'
import { AnnotationNotes, useAnnotations } from '../components/annotations.tsx'
import { Chart } from '../components/chart.tsx'
import { ComparisonPicker } from '../components/comparison-picker.tsx'
import { ExportMenu } from '../components/export-menu.tsx'
import { FilterBar } from '../components/filter-bar.tsx'
import { FunnelPanel } from '../components/funnel.tsx'
import { goalsTab } from '../components/goals.tsx'
import { cardsFor, MetricCards } from '../components/metric-cards.tsx'
import { EventsPanel, LinksPanel, LocationsPanel, PagesPanel, SourcesPanel, TechnologyPanel } from '../components/panels.tsx'
import { RangePicker } from '../components/range-picker.tsx'
import { ListSkeleton } from '../components/breakdown.tsx'
import { ImportedSection } from '../components/imported.tsx'

function PanelsLoading() {
  return (
    <div class="grid" aria-busy="true">
      {['Acquisition', 'Pages', 'Locations', 'Technology'].map((t) => (
        <section class="panel" key={t}><header class="panel-head"><h2>{t}</h2></header><div class="panel-body"><ListSkeleton /></div></section>
      ))}
    </div>
  )
}

/**
 * The main view: range, comparison, filters, metric cards, chart and every breakdown, all from
 * the URL. With a goal filter the cards and every breakdown are about conversions.
 */
export function Dashboard({ params }: { params: URLSearchParams }) {
  const view = useView()
  const state = readState(params)
  const base = apiParams(view, state)
  const compare = comparisonParams(state)
  const comparing = state.comparison !== 'off'
  const intervals = intervalsFor(state.range, view.timezone)
  const interval = state.interval && (intervals as string[]).includes(state.interval) ? state.interval : intervals[0]
  const cards = cardsFor(goalFilter(state) !== undefined)
  const card = cards.find((c) => c.key === state.metric) ?? cards[0]

  const aggParams = { ...base, ...compare, metrics: cards.map((c) => c.key).join(',') }
  const agg = useFetch<AggregateAnswer>(JSON.stringify(aggParams), (signal) => apiGet(view.cred, '/api/v1/stats/aggregate', aggParams, signal))
  // one request: the period's buckets and the compared period's, bucket by bucket
  const seriesParams = { ...base, ...compare, metrics: card.key, interval }
  const series = useFetch<TimeseriesAnswer>(JSON.stringify(seriesParams), (signal) => apiGet(view.cred, '/api/v1/stats/timeseries', seriesParams, signal))
  const comparedPeriod = comparing ? agg.data?.comparison?.period : undefined
  // the answer on screen while the next loads, unless it is of another metric than the card chosen
  const shownSeries = series.data && !series.data.results.some((r) => !(card.key in r)) ? series.data : undefined

  const notes = useAnnotations(state)
  // the day of a bucket clicked on the chart, for the note form
  const [pickedDay, setPickedDay] = useState<string>()

  const selectMetric = (metric: Metric) => navigate(viewHref(view, state, { metric }), { replace: true })

  return (
    <div class="dashboard">
      <div class="toolbar">
        <div class="toolbar-title">
          <h1>{view.site}</h1>
          <p class="muted small" aria-live="polite" data-periods>
            {rangeLabel(state.range)}{agg.data ? ` · ${agg.data.period.replace('..', ' to ')}` : ''}
            {comparedPeriod ? ` · compared with ${comparedPeriod.replace('..', ' to ')}` : ''}
          </p>
        </div>
        <div class="toolbar-actions">
          <RangePicker state={state} />
          <ComparisonPicker state={state} compared={agg.data?.comparison?.period} />
          {!view.readOnly && <ExportMenu params={base} />}
        </div>
      </div>
      <FilterBar state={state} />

      {agg.error && !agg.data && <p class="error" role="alert">Could not load statistics: {agg.error.message}</p>}
      <section class="overview" aria-label="Overview">
        <MetricCards cards={cards} agg={agg.data} metric={card.key} compared={comparedPeriod} onSelect={selectMetric} loading={agg.loading} />
        <div id="chart-panel" role="tabpanel" aria-labelledby={`card-${card.key}`} class="chart-panel">
          <div class="chart-controls">
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
            <Chart data={shownSeries} previous={comparing ? shownSeries?.comparison?.results : undefined} metric={card.key} label={card.label}
              annotations={notes.list} onPickDate={view.readOnly ? undefined : setPickedDay} />
          )}
          <AnnotationNotes notes={notes} picked={pickedDay} />
        </div>
      </section>

      {/* the panels ask once the cards have their answer: the numbers people look at first come first */}
      {agg.data === undefined && agg.error === undefined ? <PanelsLoading /> : (
      <div class="grid">
        <SourcesPanel state={state} />
        <PagesPanel state={state} />
        <LocationsPanel state={state} />
        <TechnologyPanel state={state} />
        <EventsPanel state={state} goalsTab={goalsTab(state)} />
        <LinksPanel state={state} />
        <FunnelPanel state={state} />
      </div>
      )}
      {agg.data !== undefined && <ImportedSection state={state} />}
    </div>
  )
}
