import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { comparisonRange, resolvePeriod } from '../../../aggregator/stats/period.ts'
import { ADMIN_TOKEN, settle, testApp } from '../../helpers/app.ts'
import { at, day, dayBefore, eventRow, insertEvents, utcDay } from '../../helpers/fixtures.ts'

/**
 * Issue 14: the questions a marketer asks — goal filters and conversion rates, comparisons,
 * hostnames, wildcards, and no silent no-ops. The store (k = 5, one network per visitor), two
 * days ago (UTC) unless said:
 *
 *  A  12 visitors via Google (DE) on mk.example.com: / then /blog/a; A0..A4 send Signup
 *  B  12 visitors via a newsletter (US, campaign spring) on mk.example.com: /pricing; B0..B5 send Signup
 *  C   7 visitors, direct (FR), on docs.mk.example.com: /blog/b
 *  D  10 visitors via Google the day before: /
 *
 * 31 visitors on the day, 11 of them converting.
 */
const SITE = 'mk.example.com'
const DOCS = 'docs.mk.example.com'
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const view = (visitor: number, ts: number, pathname: string, extra: Record<string, unknown>) => eventRow(SITE, visitor, ts, pathname, extra)
const signup = (visitor: number, ts: number, extra: Record<string, unknown>) => ({ ...view(visitor, ts, '/signup', extra), name: 'Signup' })

const GOOGLE = { source: 'Google', channel: 'search', referrer_host: 'google.com', country: 'DE' }
const NEWSLETTER = { source: 'newsletter', utm_source: 'newsletter', utm_campaign: 'spring', country: 'US' }
const EVENTS = [
  ...range(12).flatMap((i) => [
    view(100 + i, at(9, i), '/', GOOGLE),
    view(100 + i, at(9, i, 30), '/blog/a', { country: 'DE' }),
    ...(i < 5 ? [signup(100 + i, at(9, i, 50), { country: 'DE' })] : []),
  ]),
  ...range(12).flatMap((i) => [view(200 + i, at(11, i), '/pricing', NEWSLETTER), ...(i < 6 ? [signup(200 + i, at(11, i, 40), { country: 'US' })] : [])]),
  ...range(7).map((i) => view(300 + i, at(13, i), '/blog/b', { country: 'FR', hostname: DOCS })),
  ...range(10).map((i) => view(400 + i, at(9, i) - 86_400_000, '/', GOOGLE)),
]

let app: FastifyInstance
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const get = async (path: string) => {
  const res = await app.inject({ url: path, headers: admin })
  return { status: res.statusCode, body: res.json() }
}
const period = `period=custom&from=${day}&to=${day}`
const stats = (route: string, params: string) => get(`/api/v1/stats/${route}?site=${SITE}&${period}&${params}`)
const value = (body: { results: Record<string, { value: number | null }> }, m: string) => body.results[m].value

beforeAll(async () => {
  app = await testApp({}, [SITE])
  await insertEvents(app.runtime.store.client, EVENTS)
  await settle(app)
  const res = await app.inject({ method: 'POST', url: '/api/v1/goals', headers: admin, payload: { site: SITE, event: 'Signup' } })
  expect(res.statusCode).toBe(201)
})
afterAll(async () => {
  await app?.close()
})

describe('conversions everywhere: the goal filter and conversion_rate', () => {
  it('a goal filter keeps the converting visits; conversion_rate is out of the visitors without it', async () => {
    const { status, body } = await stats('aggregate', 'metrics=visitors,conversion_rate&filters=goal==Signup')
    expect(status).toBe(200)
    expect(value(body, 'visitors')).toBe(11)
    expect(value(body, 'conversion_rate')).toBe(35.5) // 11 of 31
  })

  it('every breakdown row gets its own conversion rate: which source brought signups', async () => {
    const { status, body } = await stats('breakdown', 'property=source&metrics=visitors,conversion_rate&filters=goal==Signup')
    expect(status).toBe(200)
    expect(body.results).toEqual([
      { source: 'newsletter', visitors: 6, conversion_rate: 50 },
      { source: 'Google', visitors: 5, conversion_rate: 41.7 },
    ])
  })

  it('a goal is named as the goals panel shows it, case-insensitively, or by its id', async () => {
    const byName = await stats('aggregate', 'metrics=visitors&filters=goal==signup')
    const [goal] = (await get(`/api/v1/goals?site=${SITE}`)).body.goals
    const byId = await stats('aggregate', `metrics=visitors&filters=goal==${goal.id}`)
    expect(value(byName.body, 'visitors')).toBe(11)
    expect(value(byId.body, 'visitors')).toBe(11)
  })

  it('refuses conversion_rate without a goal filter and a goal the site does not have, naming why', async () => {
    const noGoal = await stats('aggregate', 'metrics=conversion_rate')
    expect(noGoal.status).toBe(400)
    expect(noGoal.body.error).toMatch(/conversion_rate needs a goal filter/)
    const unknown = await stats('aggregate', 'metrics=visitors&filters=goal==Purchase')
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toMatch(/no goal named "Purchase"; its goals are "Signup"/)
  })

  it('filtering by the custom event does not make its goal convert 100 %', async () => {
    const { body } = await stats('goals', 'filters=event==Signup')
    expect(body.visitors).toBe(31)
    expect(body.results).toEqual([expect.objectContaining({ goal: 'Signup', visitors: 11, conversion_rate: 35.5 })])
  })
})

describe('hostnames and wildcards', () => {
  it('a hostname property and filter keep subdomains apart', async () => {
    const { body } = await stats('breakdown', 'property=hostname&metrics=visitors')
    expect(body.results).toEqual([
      { hostname: SITE, visitors: 24 },
      { hostname: DOCS, visitors: 7 },
    ])
    const docs = await stats('aggregate', `metrics=visitors&filters=hostname==${DOCS}`)
    expect(value(docs.body, 'visitors')).toBe(7)
  })

  it('a * in a page filter matches any run of characters, as in goals', async () => {
    const blog = await stats('aggregate', 'metrics=visitors&filters=page==/blog/*')
    expect(value(blog.body, 'visitors')).toBe(19)
    const notBlog = await stats('aggregate', 'metrics=visitors&filters=page!=/blog/*')
    expect(value(notBlog.body, 'visitors')).toBe(12)
  })
})

describe('nothing asked is silently ignored', () => {
  it.each([
    ['aggregate', 'metrics=visitors&foo=1', '"foo"'],
    ['breakdown', 'property=source&compare=previous_period', '"compare"'],
    ['timeseries', 'interval=day&revenue=1', '"revenue"'],
    ['goals', 'metrics=visitors', '"metrics"'],
  ])('%s?%s → 400 naming the parameter', async (route, params, named) => {
    const { status, body } = await stats(route, params)
    expect(status).toBe(400)
    expect(body.error).toContain(`unknown parameter ${named}`)
  })

  it('compare_from without comparison=custom is a 400', async () => {
    const { status } = await stats('aggregate', `metrics=visitors&compare_from=${dayBefore}&compare_to=${dayBefore}`)
    expect(status).toBe(400)
  })
})

describe('honest comparisons', () => {
  it('change is against the compared period: the day before by default, any days with comparison=custom', async () => {
    const previous = await stats('aggregate', 'metrics=visitors')
    expect(previous.body.comparison).toEqual({ period: dayBefore })
    expect(previous.body.results.visitors).toEqual({ value: 31, change: 210 }) // 31 against 10
    const custom = await stats('aggregate', `metrics=visitors&comparison=custom&compare_from=${dayBefore}&compare_to=${dayBefore}`)
    expect(custom.body.results.visitors.change).toBe(210)
    // a year before there is nothing: no change rather than a fall of 100 %
    const yoy = await stats('aggregate', 'metrics=visitors&compare=year_over_year')
    expect(yoy.body.comparison.period).toBe(`${Number(day.slice(0, 4)) - 1}${day.slice(4)}`)
    expect(yoy.body.results.visitors.change).toBeNull()
  })

  it('a running period is compared like for like', () => {
    const tz = 'Europe/Berlin'
    const noon = Date.parse('2026-12-15T11:00:00Z') // 12:00 in Berlin
    const today = resolvePeriod({ period: 'day' }, tz, noon)
    expect(comparisonRange(today, 'previous_period', tz, {}, noon)).toEqual({ from: Date.parse('2026-12-13T23:00:00Z'), to: Date.parse('2026-12-14T11:00:00Z'), label: '2026-12-14' })
    const first = Date.parse('2026-12-01T09:00:00Z')
    const month = resolvePeriod({ period: 'month' }, tz, first)
    // the 1st until 10:00 against November the 1st until 10:00, not against all of November
    expect(comparisonRange(month, 'previous_period', tz, {}, first)).toEqual({ from: Date.parse('2026-10-31T23:00:00Z'), to: Date.parse('2026-11-01T09:00:00Z'), label: '2026-11-01' })
    const past = resolvePeriod({ period: 'custom', from: '2026-11-10', to: '2026-11-16' }, tz, noon)
    expect(comparisonRange(past, 'year_over_year', tz, {}, noon).label).toBe('2025-11-10..2025-11-16')
  })

  it('a timeseries draws no future bucket as zero, and its comparison lines up bucket by bucket', async () => {
    const ask = () => get(`/api/v1/stats/timeseries?site=${SITE}&period=day&interval=hour&comparison=previous_period`)
    let answer = await ask()
    // asked across midnight UTC: the answer is of the day before (every hour past), so ask the new day
    if (answer.body.period !== utcDay()) answer = await ask()
    const { status, body } = answer
    expect(status).toBe(200)
    expect(body.period).toBe(utcDay())
    const hour = new Date().getUTCHours()
    const future = body.results.slice(hour + 1)
    expect(future.every((r: Record<string, unknown>) => r.visitors === null && !('withheld' in r))).toBe(true)
    expect(body.comparison.results).toHaveLength(body.results.length)
  })
})
