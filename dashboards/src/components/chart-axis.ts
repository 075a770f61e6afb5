import type uPlot from 'uplot'

/** Room one label of the time axis takes, in CSS pixels ("25 Nov" in 12 px type, with its gap). */
const LABEL_PX = 64

/** Strides, in buckets, that read naturally: every 3 or 6 hours, every 2 days or every week, every quarter. */
const STRIDES: Record<string, number[]> = {
  minute: [1, 5, 10, 15, 30, 60],
  hour: [1, 2, 3, 4, 6, 12, 24],
  day: [1, 2, 3, 7, 14, 28],
  week: [1, 2, 4, 8, 13, 26],
  month: [1, 2, 3, 6, 12],
}

/** Every how many buckets a label goes, so that `buckets` labels fit in `widthPx`. */
export function tickStride(buckets: number, widthPx: number, interval: string): number {
  const needed = Math.ceil((buckets * LABEL_PX) / Math.max(widthPx, LABEL_PX))
  return STRIDES[interval]?.find((s) => s >= needed) ?? needed
}

function axisLabel(ts: number, interval: string, withDay: boolean): string {
  const d = new Date(ts * 1000)
  const o: Intl.DateTimeFormatOptions = { timeZone: 'UTC' }
  if (interval === 'minute' || interval === 'hour') {
    const time = d.toLocaleTimeString('en-GB', { ...o, hour: '2-digit', minute: '2-digit' })
    return withDay ? `${d.toLocaleDateString('en-GB', { ...o, day: 'numeric', month: 'short' })} ${time}` : time
  }
  if (interval === 'month') return d.toLocaleDateString('en-GB', { ...o, month: 'short', year: '2-digit' })
  return d.toLocaleDateString('en-GB', { ...o, day: 'numeric', month: 'short' })
}

/**
 * The time axis: a label on a bucket's start, every `tickStride` buckets, never between two
 * (uPlot's own time ticks fall every few hours of a daily chart, each named by its day: the
 * same date three times). `onLabels` hears the labels drawn.
 */
export function timeAxis(xs: number[], interval: string, onLabels?: (labels: string[]) => void): Pick<uPlot.Axis, 'splits' | 'values'> {
  const withDay = xs.length > 1 && xs[xs.length - 1] - xs[0] >= 86_400
  return {
    splits: (u) => {
      const width = u.bbox.width ? u.bbox.width / devicePixelRatio : u.width
      const stride = tickStride(xs.length, width, interval)
      return xs.filter((_, i) => i % stride === 0)
    },
    values: (_u, splits) => {
      const labels = splits.map((ts) => axisLabel(ts, interval, withDay))
      onLabels?.(labels)
      return labels
    },
  }
}
