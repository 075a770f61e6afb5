import { useEffect, useState } from 'preact/hooks'
import { withFilter } from '../lib/filters.ts'
import { countryName, formatFull } from '../lib/format.ts'
import { navigate } from '../lib/router.ts'
import { useView, viewHref, type DashState } from '../lib/view.ts'
import { ListSkeleton, useBreakdown, Withheld } from './breakdown.tsx'

type WorldMapData = typeof import('virtual:world-map').default
let shapes: Promise<WorldMapData> | null = null
// Natural Earth shapes, built into their own chunk: loaded only when the map is shown.
const loadShapes = () => (shapes ??= import('virtual:world-map').then((m) => m.default))

const SCALE = ['#e0e7ff', '#c7d2fe', '#a5b4fc', '#818cf8', '#6366f1', '#4f46e5', '#4338ca']

/** Countries coloured by visitors; the Countries tab has the same numbers as a list. */
export function WorldMap({ state }: { state: DashState }) {
  const view = useView()
  const [map, setMap] = useState<WorldMapData | null>(null)
  const [hover, setHover] = useState<{ code: string; x: number; y: number } | null>(null)
  useEffect(() => void loadShapes().then(setMap), [])
  const b = useBreakdown(state, 'country', ['visitors'], 300)

  if (b.error && !b.data) return <p class="error" role="alert">Could not load countries: {b.error.message}</p>
  if (!b.data || !map) return <ListSkeleton />
  if (b.data.withheld) return <Withheld reason={b.data.withheld} />
  const visitors = new Map(b.data.results.filter((r) => /^[A-Z]{2}$/.test(String(r.country))).map((r) => [String(r.country), Number(r.visitors)]))
  const max = Math.max(...visitors.values(), 1)
  const fill = (code: string) => {
    const v = visitors.get(code)
    if (!v) return undefined
    return SCALE[Math.min(SCALE.length - 1, Math.floor((Math.log(v) / Math.log(max + 1)) * SCALE.length))]
  }
  const other = b.data.results.find((r) => r.country === '(other)')
  const hovered = hover && visitors.get(hover.code)
  return (
    <figure class="world-map">
      <svg viewBox={map.viewBox} role="img" aria-label={`World map of visitors by country: ${visitors.size} countries shown. The Countries tab lists the same numbers.`}
        onMouseLeave={() => setHover(null)}>
        {map.countries.map(([code, d]) => {
          const f = fill(code)
          return (
            <path key={code} d={d} class={f ? 'has-visitors' : undefined} style={f ? { fill: f } : undefined}
              onMouseMove={(e) => setHover({ code, x: e.offsetX, y: e.offsetY })}
              onClick={f ? () => navigate(viewHref(view, state, { filters: withFilter(state.filters, 'country', code) })) : undefined} />
          )
        })}
      </svg>
      {hover && (
        <div class="map-tip" style={{ left: `${hover.x}px`, top: `${hover.y}px` }} role="presentation">
          <strong>{countryName(hover.code)}</strong>
          <span>{hovered ? `${formatFull(hovered)} visitors` : 'no visitors shown'}</span>
        </div>
      )}
      <figcaption class="map-legend">
        <span>fewer</span>
        {SCALE.map((c) => <span class="swatch" key={c} style={{ background: c }} />)}
        <span>more visitors</span>
        {other && <span class="muted small"> · {formatFull(Number(other.visitors))} visitors in small groups are not placed on the map</span>}
      </figcaption>
    </figure>
  )
}
