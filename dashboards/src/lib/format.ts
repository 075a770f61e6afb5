/** How numbers, durations, countries and properties read on screen. */
export type Metric = 'visitors' | 'visits' | 'pageviews' | 'views_per_visit' | 'bounce_rate' | 'visit_duration' | 'events' | 'time_on_page' | 'conversion_rate'

export const METRICS: { key: Metric; label: string; lowerIsBetter?: boolean }[] = [
  { key: 'visitors', label: 'Unique visitors' },
  { key: 'visits', label: 'Total visits' },
  { key: 'pageviews', label: 'Total pageviews' },
  { key: 'views_per_visit', label: 'Views per visit' },
  { key: 'bounce_rate', label: 'Bounce rate', lowerIsBetter: true },
  { key: 'visit_duration', label: 'Visit duration' },
]

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 })
const full = new Intl.NumberFormat('en')

export const formatNumber = (n: number) => (Math.abs(n) < 10_000 ? full.format(n) : compact.format(n))
export const formatFull = (n: number) => full.format(n)

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`
}

export function formatMetric(metric: string, value: number): string {
  switch (metric) {
    case 'bounce_rate':
    case 'conversion_rate':
    case 'scroll_depth':
      return `${value}%`
    case 'visit_duration':
    case 'time_on_page':
      return formatDuration(value)
    case 'views_per_visit':
      return value.toFixed(2)
    default:
      return formatNumber(value)
  }
}

/** An amount in its currency (ISO 4217), as revenue goals count it: `€1,234.50`. */
export const formatMoney = (amount: number, currency: string) => new Intl.NumberFormat('en', { style: 'currency', currency }).format(amount)

const regionNames = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'region' }) : null

export function countryName(code: string): string {
  if (!/^[A-Z]{2}$/.test(code)) return code
  try {
    return regionNames?.of(code) ?? code
  } catch {
    return code
  }
}

export const PROPERTY_LABELS: Record<string, string> = {
  page: 'Page', entry_page: 'Entry page', exit_page: 'Exit page',
  source: 'Source', referrer: 'Referrer', channel: 'Channel',
  utm_source: 'UTM source', utm_medium: 'UTM medium', utm_campaign: 'UTM campaign', utm_content: 'UTM content', utm_term: 'UTM term',
  country: 'Country', region: 'Region', city: 'City',
  browser: 'Browser', browser_version: 'Browser version', os: 'Operating system', os_version: 'OS version', device: 'Device', screen: 'Screen size',
  event: 'Event', outbound: 'Outbound link', download: 'File download', network: 'Network', new_vs_returning: 'New vs returning',
  goal: 'Goal', hostname: 'Hostname',
}

export function propertyLabel(property: string): string {
  if (property.startsWith('prop:')) return `Property ${property.slice(5)}`
  return PROPERTY_LABELS[property] ?? property
}

/** A filter value as a person reads it (countries by name). */
export function valueLabel(property: string, value: string): string {
  if (value === '(none)' && ['source', 'channel', 'referrer'].includes(property)) return 'Direct / None'
  if (value === '(none)' && ['country', 'region', 'city'].includes(property)) return 'Unknown'
  return property === 'country' ? countryName(value) : value
}

export function formatChange(change: number): string {
  return `${Math.abs(change) >= 100 ? Math.round(Math.abs(change)) : Math.abs(change)}%`
}
