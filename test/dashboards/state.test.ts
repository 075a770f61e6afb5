/** The dashboards' date ranges and filters, as the browser app turns them into stats API parameters and URLs. */
import { describe, expect, it } from 'vitest'
import { parseFilters, serializeFilters, withFilter, filterable } from '../../dashboards/src/lib/filters.ts'
import { tickStride } from '../../dashboards/src/components/chart-axis.ts'
import { intervalsFor, periodParams, todayIn } from '../../dashboards/src/lib/range.ts'

// 2026-03-01 00:30 UTC: still 28 February in New York, already 1 March in Berlin
const NOW = Date.UTC(2026, 2, 1, 0, 30)

describe('date ranges', () => {
  it('counts days in the site time zone', () => {
    expect(todayIn('UTC', NOW)).toBe('2026-03-01')
    expect(todayIn('America/New_York', NOW)).toBe('2026-02-28')
    expect(todayIn('Europe/Berlin', NOW)).toBe('2026-03-01')
  })

  it('asks yesterday and last month as custom days of the site', () => {
    expect(periodParams({ key: 'yesterday' }, 'America/New_York', NOW)).toEqual({ period: 'custom', from: '2026-02-27', to: '2026-02-27' })
    expect(periodParams({ key: 'yesterday' }, 'Europe/Berlin', NOW)).toEqual({ period: 'custom', from: '2026-02-28', to: '2026-02-28' })
    expect(periodParams({ key: 'lastmonth' }, 'America/New_York', NOW)).toEqual({ period: 'custom', from: '2026-01-01', to: '2026-01-31' })
    expect(periodParams({ key: 'lastmonth' }, 'Europe/Berlin', NOW)).toEqual({ period: 'custom', from: '2026-02-01', to: '2026-02-28' })
    expect(periodParams({ key: 'lastmonth' }, 'UTC', Date.UTC(2026, 0, 15))).toEqual({ period: 'custom', from: '2025-12-01', to: '2025-12-31' })
  })

  it('passes the API its own periods, and orders a custom range', () => {
    for (const key of ['day', '7d', '30d', 'month', '12mo'] as const) expect(periodParams({ key }, 'UTC', NOW)).toEqual({ period: key })
    expect(periodParams({ key: 'custom', from: '2026-02-10', to: '2026-02-01' }, 'UTC', NOW)).toEqual({ period: 'custom', from: '2026-02-01', to: '2026-02-10' })
    expect(periodParams({ key: 'custom' }, 'UTC', NOW)).toEqual({ period: 'custom', from: '2026-02-23', to: '2026-03-01' })
  })

  it('offers chart intervals that fit the range', () => {
    expect(intervalsFor({ key: 'day' }, 'UTC')).toEqual(['hour'])
    expect(intervalsFor({ key: '30d' }, 'UTC')).toEqual(['day', 'week'])
    expect(intervalsFor({ key: '12mo' }, 'UTC')[0]).toBe('month')
  })

  it('labels the chart every few buckets, at natural strides that fit the width', () => {
    expect(tickStride(7, 1100, 'day')).toBe(1)
    expect(tickStride(30, 1100, 'day')).toBe(2)
    expect(tickStride(30, 340, 'day')).toBe(7)
    expect(tickStride(365, 1100, 'day')).toBe(28)
    expect(tickStride(24, 1100, 'hour')).toBe(2)
    expect(tickStride(12, 1100, 'month')).toBe(1)
  })
})

describe('filters', () => {
  it('reads and writes the stats API syntax', () => {
    const raw = 'country==DE|FR;browser!=Safari;page~/blog;prop:plan==pro'
    const parsed = parseFilters(raw)
    expect(parsed).toEqual([
      { property: 'country', op: '==', values: ['DE', 'FR'] },
      { property: 'browser', op: '!=', values: ['Safari'] },
      { property: 'page', op: '~', values: ['/blog'] },
      { property: 'prop:plan', op: '==', values: ['pro'] },
    ])
    expect(serializeFilters(parsed)).toBe(raw)
    expect(parseFilters('nonsense;country==')).toEqual([])
  })

  it('a click replaces the filter on the same property; (other) and separators are not filterable', () => {
    expect(withFilter(parseFilters('country==DE;page==/'), 'country', 'US')).toEqual(parseFilters('page==/;country==US'))
    expect(filterable('(other)')).toBe(false)
    expect(filterable('a;b')).toBe(false)
    expect(filterable('(none)')).toBe(true)
  })
})
