import type uPlot from 'uplot'
import { formatDay } from '../lib/range.ts'
import type { Annotation } from './annotations.tsx'

/** Where a day's notes sit over the chart, in pixels of the chart's box (`.chart-wrap`). */
export interface Mark {
  date: string
  notes: string[]
  left: number
  top: number
}

const NOTE_COLOUR = '#b45309'
/** A day as the chart's x scale counts it: wall-clock dates plotted as UTC (see chart.tsx). */
const daySeconds = (date: string) => Date.parse(`${date}T00:00:00Z`) / 1000

function byDay(notes: Annotation[]): { date: string; x: number; notes: string[] }[] {
  const days = new Map<string, string[]>()
  for (const n of notes) days.set(n.date, [...(days.get(n.date) ?? []), n.note])
  return [...days].map(([date, texts]) => ({ date, x: daySeconds(date), notes: texts }))
}

/**
 * A uPlot plugin for annotations: a dashed line down the chart on each noted day, the day's
 * notes in the cursor's tooltip (`tip`, filled by the chart's own hook first), the markers'
 * places for the DOM (`onMarks`: focusable, with their own tooltip), and a click on the chart
 * naming the day of the bucket under the cursor (`onPick`: the note form takes it).
 */
export function annotationsPlugin(opts: { notes: Annotation[]; tip: () => HTMLElement | null; onMarks: (marks: Mark[]) => void; onPick: (bucket: number) => void }): uPlot.Plugin {
  const days = byDay(opts.notes)
  const inView = (u: uPlot) => days.filter((d) => d.x >= (u.scales.x.min ?? -Infinity) && d.x <= (u.scales.x.max ?? Infinity))
  return {
    hooks: {
      ready: [(u) => u.over.addEventListener('click', () => {
        const i = u.cursor.idx
        if (i !== null && i !== undefined) opts.onPick(i)
      })],
      draw: [(u) => {
        const shown = inView(u)
        const ctx = u.ctx
        ctx.save()
        ctx.strokeStyle = NOTE_COLOUR
        ctx.lineWidth = 1.5 * devicePixelRatio
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio])
        for (const d of shown) {
          const x = Math.round(u.valToPos(d.x, 'x', true))
          ctx.beginPath()
          ctx.moveTo(x, u.bbox.top)
          ctx.lineTo(x, u.bbox.top + u.bbox.height)
          ctx.stroke()
        }
        ctx.restore()
        const wrap = u.root.parentElement?.parentElement
        const origin = wrap?.getBoundingClientRect()
        const over = u.over.getBoundingClientRect()
        const left = origin ? over.left - origin.left : 0
        const top = origin ? over.top - origin.top : 0
        opts.onMarks(shown.map((d) => ({ date: d.date, notes: d.notes, left: left + u.valToPos(d.x, 'x'), top })))
      }],
      setCursor: [(u) => {
        const t = opts.tip()
        const i = u.cursor.idx
        if (!t || t.hidden || i === null || i === undefined) return
        const xs = u.data[0]
        const from = xs[i]
        const to = xs[i + 1] ?? from + (xs.length > 1 ? xs[1] - xs[0] : 86_400)
        for (const d of days.filter((day) => day.x >= from && day.x < to)) {
          const line = document.createElement('div')
          line.className = 'tip-note'
          line.textContent = `${formatDay(d.date)}: ${d.notes.join(' · ')}`
          t.append(line)
        }
      }],
    },
  }
}

/** The markers of noted days over the chart: each focusable, its notes in a tooltip on hover and focus. */
export function AnnotationMarks({ marks }: { marks: Mark[] }) {
  if (!marks.length) return null
  return (
    <div class="annotation-marks">
      {marks.map((m) => {
        const text = `${formatDay(m.date)}: ${m.notes.join(' · ')}`
        return (
          <div key={m.date} class="annotation-mark" style={{ left: `${m.left}px`, top: `${m.top}px` }}>
            <button type="button" class="annotation-pin" aria-label={`Note on ${text}`} data-date={m.date} />
            <span class="annotation-tip" role="tooltip">{text}</span>
          </div>
        )
      })}
    </div>
  )
}
