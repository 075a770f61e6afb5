import { strToU8, zipSync } from 'fflate'

/**
 * A Plausible CSV export made by the test, with the columns (and their order) of Plausible's
 * exporter (lib/plausible/exports.ex): one file per table, `imported_<table>_<first>_<last>.csv`.
 * The numbers come from a small world of days, each with its visitors and their split by page,
 * source, country, device, browser, OS and custom event, so a test can compute what should show.
 */
export interface WorldDay {
  date: string
  visitors: number
  pages?: Record<string, number>
  sources?: Record<string, number>
  countries?: Record<string, number>
  devices?: Record<string, number>
  browsers?: Record<string, number>
  os?: Record<string, number>
  events?: Record<string, number>
}

/** The counts the world implies for `v` visitors: one visit each, two pageviews, half bounce, a minute each. */
export const countsOf = (v: number) => ({ visitors: v, visits: v, pageviews: 2 * v, bounces: Math.floor(v / 2), visit_duration: 60 * v })

const HEADERS: Record<string, string[]> = {
  visitors: ['date', 'visitors', 'pageviews', 'bounces', 'visits', 'visit_duration'],
  sources: ['date', 'source', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'pageviews', 'visitors', 'visits', 'visit_duration', 'bounces'],
  pages: ['date', 'hostname', 'page', 'visits', 'visitors', 'pageviews', 'total_scroll_depth', 'total_scroll_depth_visits', 'total_time_on_page', 'total_time_on_page_visits'],
  entry_pages: ['date', 'entry_page', 'visitors', 'entrances', 'visit_duration', 'bounces', 'pageviews'],
  exit_pages: ['date', 'exit_page', 'visitors', 'visit_duration', 'exits', 'bounces', 'pageviews'],
  custom_events: ['date', 'name', 'link_url', 'path', 'visitors', 'events'],
  locations: ['date', 'country', 'region', 'city', 'visitors', 'visits', 'visit_duration', 'bounces', 'pageviews'],
  devices: ['date', 'device', 'visitors', 'visits', 'visit_duration', 'bounces', 'pageviews'],
  browsers: ['date', 'browser', 'browser_version', 'visitors', 'visits', 'visit_duration', 'bounces', 'pageviews'],
  operating_systems: ['date', 'operating_system', 'operating_system_version', 'visitors', 'visits', 'visit_duration', 'bounces', 'pageviews'],
}

const quote = (v: string | number) => (typeof v === 'number' || !/[",\n]/.test(v) ? String(v) : `"${v.replace(/"/g, '""')}"`)

function rows(day: WorldDay, table: string): (string | number)[][] {
  const split = (m: Record<string, number> | undefined, row: (value: string, v: number) => (string | number)[]) => Object.entries(m ?? {}).map(([value, v]) => row(value, v))
  const c = countsOf
  switch (table) {
    case 'visitors': {
      const t = c(day.visitors)
      return [[day.date, t.visitors, t.pageviews, t.bounces, t.visits, t.visit_duration]]
    }
    case 'sources': return split(day.sources, (s, v) => [day.date, s, s ? `https://${s.toLowerCase()}.example/` : '', '', '', '', '', '', c(v).pageviews, v, c(v).visits, c(v).visit_duration, c(v).bounces])
    case 'pages': return split(day.pages, (p, v) => [day.date, 'example.com', p, v, v, c(v).pageviews, '', '', '', ''])
    case 'entry_pages': return split(day.pages, (p, v) => [day.date, p, v, v, c(v).visit_duration, c(v).bounces, c(v).pageviews])
    case 'exit_pages': return split(day.pages, (p, v) => [day.date, p, v, c(v).visit_duration, v, c(v).bounces, c(v).pageviews])
    case 'custom_events': return split(day.events, (n, v) => [day.date, n, '', '', v, 2 * v])
    case 'locations': return split(day.countries, (cc, v) => [day.date, cc, '', 0, v, c(v).visits, c(v).visit_duration, c(v).bounces, c(v).pageviews])
    case 'devices': return split(day.devices, (d, v) => [day.date, d, v, c(v).visits, c(v).visit_duration, c(v).bounces, c(v).pageviews])
    case 'browsers': return split(day.browsers, (b, v) => [day.date, b, '131.0', v, c(v).visits, c(v).visit_duration, c(v).bounces, c(v).pageviews])
    case 'operating_systems': return split(day.os, (o, v) => [day.date, o, '14', v, c(v).visits, c(v).visit_duration, c(v).bounces, c(v).pageviews])
  }
  throw new Error(table)
}

/** The export's files by name, as CSV text with LF line ends, as ClickHouse writes CSVWithNames. */
export function plausibleCsvs(days: WorldDay[], tables = Object.keys(HEADERS)): Map<string, string> {
  const dates = days.map((d) => d.date).sort()
  const suffix = `${dates[0].replaceAll('-', '')}_${dates[dates.length - 1].replaceAll('-', '')}`
  const out = new Map<string, string>()
  for (const t of tables) {
    const lines = [HEADERS[t], ...days.flatMap((d) => rows(d, t))].map((r) => r.map(quote).join(','))
    out.set(`imported_${t}_${suffix}.csv`, `${lines.join('\n')}\n`)
  }
  return out
}

/** The zip Plausible hands out, of these files. */
export function zipOf(files: Map<string, string>): Uint8Array {
  return zipSync(Object.fromEntries([...files].map(([n, text]) => [n, strToU8(text)])))
}

/** A multipart/form-data body with one file, as a browser's form sends it. */
export function multipartBody(filename: string, content: Uint8Array, boundary = '----analytics-test-boundary'): { body: Buffer; contentType: string } {
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/zip\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return { body: Buffer.concat([head, Buffer.from(content), tail]), contentType: `multipart/form-data; boundary=${boundary}` }
}
