/**
 * The world map's country shapes, made at build time from Natural Earth's 1:110m countries
 * (the `world-atlas` package, public-domain data, ISC) as SVG paths keyed by ISO 3166-1
 * alpha-2 code — the code the collector stores — so the browser gets small path strings
 * and no projection code. Served as the virtual module `virtual:world-map`, loaded lazily.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import type { Plugin } from 'vite'
import { feature } from 'topojson-client'
import type { Topology, GeometryCollection } from 'topojson-specification'
import type { Feature, Geometry, Position } from 'geojson'

const require = createRequire(import.meta.url)
const ID = 'virtual:world-map'
const RESOLVED = '\0' + ID
const WIDTH = 1000

/** d3-geo's Natural Earth I projection (raw, radians in, unit plane out). */
function naturalEarth(lambda: number, phi: number): [number, number] {
  const phi2 = phi * phi
  const phi4 = phi2 * phi2
  return [
    lambda * (0.8707 - 0.131979 * phi2 + phi4 * (-0.013791 + phi4 * (0.003971 * phi2 - 0.001529 * phi4))),
    phi * (1.007226 + phi2 * (0.015085 + phi4 * (-0.044475 + 0.028874 * phi2 - 0.005916 * phi4))),
  ]
}

const RAD = Math.PI / 180
const [maxX] = naturalEarth(Math.PI, 0)
const [, maxY] = naturalEarth(0, Math.PI / 2)
const scale = WIDTH / (2 * maxX)
// Antarctica is dropped: no visitors there and a quarter of the map's height.
const TOP = maxY * scale
const BOTTOM = -naturalEarth(0, -60 * RAD)[1] * scale

function project([lon, lat]: Position): [number, number] {
  const [x, y] = naturalEarth(lon * RAD, lat * RAD)
  return [Math.round((x * scale + WIDTH / 2) * 10) / 10, Math.round((TOP - y * scale) * 10) / 10]
}

/**
 * A ring as a relative SVG path: `M x y l dx dy ... z`, repeated points dropped. A ring that
 * crosses the antimeridian (eastern Russia) is unwrapped past 180°; the map's edge clips it.
 */
function ringPath(ring: Position[]): string {
  const crosses = ring.some(([lon], i) => i > 0 && Math.abs(lon - ring[i - 1][0]) > 180)
  const pts = (crosses ? ring.map(([lon, lat]): Position => [lon < 0 ? lon + 360 : lon, lat]) : ring).map(project)
  let [px, py] = pts[0]
  let d = `M${px} ${py}l`
  let n = 0
  for (const [x, y] of pts.slice(1)) {
    const dx = Math.round((x - px) * 10) / 10
    const dy = Math.round((y - py) * 10) / 10
    if (dx === 0 && dy === 0) continue
    d += `${n++ ? ' ' : ''}${dx} ${dy}`
    px = x
    py = y
  }
  return n < 2 ? '' : `${d}z`
}

function geometryPath(g: Geometry): string {
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : []
  return polygons.flatMap((p) => p.map(ringPath)).join('')
}

export interface WorldMapData {
  viewBox: string
  /** [alpha-2 code, SVG path] */
  countries: [string, string][]
}

export function worldMapData(): WorldMapData {
  const topology = JSON.parse(fs.readFileSync(require.resolve('world-atlas/countries-110m.json'), 'utf8')) as Topology<{ countries: GeometryCollection<{ name: string }> }>
  const countries = require('i18n-iso-countries') as { numericToAlpha2(n: string): string | undefined }
  const byName: Record<string, string> = { Kosovo: 'XK', 'N. Cyprus': 'CY', Somaliland: 'SO' }
  const fc = feature(topology, topology.objects.countries) as unknown as { features: Feature<Geometry, { name: string }>[] }
  const out = new Map<string, string>()
  for (const f of fc.features) {
    const code = (f.id ? countries.numericToAlpha2(String(f.id)) : undefined) ?? byName[f.properties.name]
    if (!code || code === 'AQ') continue
    out.set(code, (out.get(code) ?? '') + geometryPath(f.geometry))
  }
  return { viewBox: `0 0 ${WIDTH} ${Math.ceil(TOP + BOTTOM)}`, countries: [...out] }
}

export function worldMapPlugin(): Plugin {
  return {
    name: 'world-map',
    resolveId: (id) => (id === ID ? RESOLVED : undefined),
    load: (id) => (id === RESOLVED ? `export default ${JSON.stringify(worldMapData())}` : undefined),
  }
}
