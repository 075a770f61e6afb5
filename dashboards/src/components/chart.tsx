import { useEffect, useRef, useState } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { TimeseriesAnswer, TimeseriesRow } from '../lib/api.ts'
import { formatMetric, type Metric } from '../lib/format.ts'
import type { Annotation } from './annotations.tsx'
import { AnnotationMarks, annotationsPlugin, type Mark } from './chart-annotations.tsx'
import { timeAxis } from './chart-axis.ts'

const ACCENT = '#4f46e5'

/** API bucket labels are wall-clock times of the site's zone: plot them as UTC so axes show them unchanged. */
const toSeconds = (date: string) => Date.parse(date.length === 10 ? `${date}T00:00:00Z` : `${date.replace(' ', 'T')}Z`) / 1000

export function bucketLabel(date: string, interval: string): string {
  const d = new Date(toSeconds(date) * 1000)
  const o: Intl.DateTimeFormatOptions = { timeZone: 'UTC' }
  if (interval === 'minute' || interval === 'hour') return d.toLocaleString('en-GB', { ...o, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })
  if (interval === 'month') return d.toLocaleDateString('en-GB', { ...o, month: 'long', year: 'numeric' })
  const day = d.toLocaleDateString('en-GB', { ...o, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' })
  return interval === 'week' ? `Week of ${day}` : day
}

/** A bucket's value as read out: a bucket that has not begun has no value yet, never 0. */
const readOut = (r: TimeseriesRow, metric: Metric) => {
  const v = r[metric] as number | null | undefined
  return r.withheld ? `withheld: ${r.withheld}` : v === null || v === undefined ? 'no data yet' : formatMetric(metric, v)
}

let hatch: CanvasPattern | null = null
function hatchPattern(ctx: CanvasRenderingContext2D): CanvasPattern | null {
  if (hatch) return hatch
  const c = document.createElement('canvas')
  c.width = c.height = 8
  const g = c.getContext('2d')!
  g.strokeStyle = 'rgba(107,114,128,0.35)'
  g.lineWidth = 1
  g.beginPath()
  g.moveTo(0, 8)
  g.lineTo(8, 0)
  g.stroke()
  hatch = ctx.createPattern(c, 'repeat')
  return hatch
}

/**
 * The time series of the chosen metric (`label`); withheld buckets are hatched, never drawn as
 * zero, and buckets that have not begun are not drawn at all. `previous` is the compared
 * period's buckets, one for one, drawn dashed. Noted days (annotations) are marked;
 * `onPickDate` hears the day of a clicked bucket.
 */
export function Chart({ data, previous, metric, label, annotations, onPickDate }: { data?: TimeseriesAnswer; previous?: TimeseriesRow[]; metric: Metric; label: string; annotations?: Annotation[]; onPickDate?: (date: string) => void }) {
  const box = useRef<HTMLDivElement>(null)
  const tip = useRef<HTMLDivElement>(null)
  const [marks, setMarks] = useState<Mark[]>([])
  const pick = useRef(onPickDate)
  pick.current = onPickDate

  useEffect(() => {
    const el = box.current
    if (!el || !data) return
    const rows = data.results
    const xs = rows.map((r) => toSeconds(r.date))
    const ys = rows.map((r) => (r.withheld ? null : ((r[metric] as number | null | undefined) ?? null)))
    // the compared period, bucket for bucket
    const prev = previous ? rows.map((_, i) => (previous[i] && !previous[i].withheld ? ((previous[i][metric] as number | null | undefined) ?? null) : null)) : null
    const step = xs.length > 1 ? xs[1] - xs[0] : 86_400

    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: el.clientWidth < 500 ? 200 : 260,
      tzDate: (ts) => {
        const d = new Date(ts * 1000)
        return new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes())
      },
      legend: { show: false },
      plugins: [annotationsPlugin({ notes: annotations ?? [], tip: () => tip.current, onMarks: setMarks, onPick: (i) => pick.current?.(rows[i].date.slice(0, 10)) })],
      padding: [12, 22, 0, 4],
      cursor: { drag: { x: false, y: false }, points: { size: 9, fill: ACCENT }, y: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.12 : 1] } },
      axes: [
        {
          stroke: '#6b7280', grid: { show: false }, ticks: { show: false }, font: '12px system-ui, sans-serif', gap: 6,
          ...timeAxis(xs, data.interval, (labels) => (el.dataset.xLabels = labels.join('|'))),
        },
        {
          stroke: '#6b7280', grid: { stroke: '#eceef2', width: 1 }, ticks: { show: false }, font: '12px system-ui, sans-serif', size: 56,
          values: (_u, vals) => vals.map((v) => formatMetric(metric, v)),
        },
      ],
      series: [
        {},
        { label, stroke: ACCENT, width: 2.5, fill: 'rgba(79,70,229,0.09)', points: { show: xs.length <= 40, size: 5, fill: ACCENT }, spanGaps: false },
        ...(prev ? [{ label: 'Compared period', stroke: '#9ca3af', width: 1.75, dash: [5, 4], points: { show: false }, spanGaps: false }] : []),
      ],
      hooks: {
        drawClear: [
          (u) => {
            const ctx = u.ctx
            const pattern = hatchPattern(ctx)
            if (!pattern) return
            ctx.save()
            ctx.fillStyle = pattern
            rows.forEach((r, i) => {
              if (!r.withheld) return
              const x0 = u.valToPos(xs[i] - step / 2, 'x', true)
              const x1 = u.valToPos(xs[i] + step / 2, 'x', true)
              ctx.fillRect(Math.max(x0, u.bbox.left), u.bbox.top, Math.min(x1, u.bbox.left + u.bbox.width) - Math.max(x0, u.bbox.left), u.bbox.height)
            })
            ctx.restore()
          },
        ],
        setCursor: [
          (u) => {
            const t = tip.current
            const i = u.cursor.idx
            if (!t) return
            if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
              t.hidden = true
              return
            }
            const r = rows[i]
            const value = ys[i]
            t.hidden = false
            t.replaceChildren()
            const head = document.createElement('div')
            head.className = 'tip-date'
            head.textContent = bucketLabel(r.date, data.interval)
            const body = document.createElement('div')
            body.className = 'tip-value'
            body.textContent = r.withheld ? `Withheld: ${r.withheld}` : `${label}: ${value === null ? 'no data yet' : formatMetric(metric, value)}`
            t.append(head, body)
            const b = previous?.[i]
            if (b) {
              const p = document.createElement('div')
              p.className = 'tip-prev'
              const pv = prev?.[i]
              p.textContent = `${bucketLabel(b.date, data.interval)}: ${b.withheld ? 'withheld' : pv === null || pv === undefined ? '–' : formatMetric(metric, pv)}`
              t.append(p)
            }
            const left = u.valToPos(xs[i], 'x') + u.over.offsetLeft
            t.style.left = `${Math.min(Math.max(left, 70), el.clientWidth - 70)}px`
          },
        ],
      },
    }
    const plot = new uPlot(opts, prev ? [xs, ys, prev] : [xs, ys], el)
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: el.clientWidth < 500 ? 200 : 260 }))
    resize.observe(el)
    return () => {
      resize.disconnect()
      plot.destroy()
    }
  }, [data, previous, metric, label, annotations])

  const withheld = data?.results.filter((r) => r.withheld) ?? []
  return (
    <div class="chart-wrap">
      <div ref={box} class="chart" aria-hidden="true" />
      <div ref={tip} class="chart-tip" hidden role="presentation" />
      <AnnotationMarks marks={marks} />
      {withheld.length > 0 && (
        <p class="chart-note"><span class="hatch-swatch" aria-hidden="true" /> {withheld.length} {withheld.length === 1 ? 'period is' : 'periods are'} withheld: {withheld[0].withheld}.</p>
      )}
      {data && (
        <table class="visually-hidden">
          <caption>{label} by {data.interval}</caption>
          <thead><tr><th scope="col">Period</th><th scope="col">Value</th>{previous && <><th scope="col">Compared period</th><th scope="col">Compared value</th></>}</tr></thead>
          <tbody>
            {data.results.map((r, i) => (
              <tr key={r.date}>
                <th scope="row">{bucketLabel(r.date, data.interval)}</th><td>{readOut(r, metric)}</td>
                {previous && (previous[i] ? <><td>{bucketLabel(previous[i].date, data.interval)}</td><td>{readOut(previous[i], metric)}</td></> : <><td /><td /></>)}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
