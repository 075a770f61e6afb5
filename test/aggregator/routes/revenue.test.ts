import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, beacon, flush, rows, settle, testApp } from '../../helpers/app.ts'
import { at, day, eventRow, insertEvents } from '../../helpers/fixtures.ts'

/**
 * Revenue goals (issue 14, point 3): revenue through the events API, stored exactly in its own
 * currency; revenue goals; total_revenue and average_revenue in aggregate, timeseries,
 * breakdowns and the goals panel, under k like every number.
 *
 * The statistics come from a store computed here by hand: two days ago (UTC), 38 visitors of
 * shop.example.com, each visit a landing page with its campaign, then what it bought.
 *
 *   spring  8 visitors: EUR 10, 20 … 80; the first buys again, "5.5" more  → EUR 365.5 in 9 events
 *   autumn  7 visitors: EUR 100 each                                        → EUR 700 in 7
 *   mixed   6 visitors: one pays EUR 999, five pay USD 50                   → EUR 999 in 1 (one payer: under k)
 *   summer  5 visitors: EUR 20 each                                         → EUR 100 in 5
 *   tiny    2 visitors: EUR 7 each                                          → EUR 14 in 2
 *   none   10 visitors buy nothing; six of them sign up
 *
 * Purchase: 28 converting visitors, 29 events; EUR 2178.5 in 24 events from 23 payers. Spring
 * and autumn buy a book (prop product), the others a lamp; autumn's visitors see /sale first.
 */
const SITE = 'shop.example.com'
const EUR = 10_000 // ten-thousandths of a unit, as stored

interface Plan { campaign: string; first: number; product: string; pays: [number, string][] }
const PLANS: Plan[] = [
  { campaign: 'spring', first: 100, product: 'book', pays: Array.from({ length: 8 }, (_, i) => [10 * (i + 1), 'EUR']) },
  { campaign: 'autumn', first: 200, product: 'book', pays: Array.from({ length: 7 }, () => [100, 'EUR']) },
  { campaign: 'mixed', first: 300, product: 'lamp', pays: [[999, 'EUR'], ...Array.from({ length: 5 }, (): [number, string] => [50, 'USD'])] },
  { campaign: 'summer', first: 400, product: 'lamp', pays: Array.from({ length: 5 }, () => [20, 'EUR']) },
  { campaign: 'tiny', first: 500, product: 'lamp', pays: [[7, 'EUR'], [7, 'EUR']] },
]
const purchase = (visitor: number, ts: number, amount: number, currency: string, product: string) =>
  ({ ...eventRow(SITE, visitor, ts, '/checkout'), name: 'Purchase', props: { product }, revenue_amount: String(amount * EUR), revenue_currency: currency })

function storeEvents() {
  const out: Record<string, unknown>[] = []
  let minute = 0
  for (const plan of PLANS) {
    plan.pays.forEach(([amount, currency], i) => {
      const visitor = plan.first + i
      const t = at(9, minute++)
      out.push(eventRow(SITE, visitor, t, '/', { utm_campaign: plan.campaign }))
      if (plan.campaign === 'autumn') out.push(eventRow(SITE, visitor, t + 10_000, '/sale'))
      out.push(purchase(visitor, t + 30_000, amount, currency, plan.product))
    })
  }
  out.push(purchase(100, at(9, 0, 50), 5.5, 'EUR', 'book'))
  for (let i = 0; i < 10; i++) {
    out.push(eventRow(SITE, 600 + i, at(11, i), '/pricing'))
    if (i < 6) out.push({ ...eventRow(SITE, 600 + i, at(11, i, 30), '/pricing'), name: 'Signup' })
  }
  return out
}

let app: FastifyInstance
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const get = async (path: string) => {
  const res = await app.inject({ url: path, headers: admin })
  return { status: res.statusCode, body: res.json() }
}
const postGoal = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/goals', headers: admin, payload })
const period = `period=custom&from=${day}&to=${day}`
const stats = (route: string, params: string) => get(`/api/v1/stats/${route}?site=${SITE}&${period}&${params}`)
const ids: Record<string, string> = {}

beforeAll(async () => {
  app = await testApp({}, [SITE, 'example.com'])
  await insertEvents(app.runtime.store.client, storeEvents())
  await settle(app)
  for (const [name, goal] of [['purchase', { event: 'Purchase', currency: 'eur' }], ['signup', { event: 'Signup' }], ['donation', { event: 'Donation', currency: 'USD' }]] as const) {
    const res = await postGoal({ site: SITE, ...goal })
    expect(res.statusCode, res.body).toBe(201)
    ids[name] = res.json().id
  }
})
afterAll(async () => {
  await app?.close()
})

describe('the events API takes revenue', () => {
  const stored = async (name: string) => {
    await flush(app)
    return rows<{ amount: string; currency: string }>(
      app,
      "SELECT toString(revenue_amount) AS amount, toString(revenue_currency) AS currency FROM events WHERE site = 'example.com' AND name = {name:String} ORDER BY ts",
      { name },
    )
  }

  it('stores the amount exactly, in its own currency, by Plausible\'s `revenue` or its tracker\'s `$`', async () => {
    const sent = [
      { name: 'Order', url: 'https://example.com/thanks', domain: 'example.com', revenue: { amount: '1322.22', currency: 'USD' } },
      { n: 'Order', u: 'https://example.com/thanks', d: 'example.com', $: { amount: 10.5, currency: 'eur' } },
    ]
    for (const body of sent) {
      const res = await beacon(app, body)
      expect(res.statusCode, res.body).toBe(202)
    }
    expect(await stored('Order')).toEqual([{ amount: '13222200', currency: 'USD' }, { amount: '105000', currency: 'EUR' }])
  })

  it('refuses malformed revenue with a 400 that names the problem, and stores nothing of it', async () => {
    const bad: [object, RegExp][] = [
      [{ amount: 10, currency: 'EURO' }, /revenue\.currency must be an ISO 4217 currency code/],
      [{ amount: 'ten', currency: 'EUR' }, /revenue\.amount must be a number/],
      [{ amount: -5, currency: 'EUR' }, /revenue\.amount/],
      [{ amount: 10 }, /revenue\.currency/],
    ]
    for (const [revenue, reason] of bad) {
      const res = await beacon(app, { name: 'Refused', url: 'https://example.com/thanks', domain: 'example.com', revenue })
      expect(res.statusCode, JSON.stringify(revenue)).toBe(400)
      expect(res.json().error).toMatch(reason)
    }
    const onPageview = await beacon(app, { name: 'pageview', url: 'https://example.com/refused', domain: 'example.com', revenue: { amount: 1, currency: 'EUR' } })
    expect(onPageview.statusCode).toBe(400)
    expect(onPageview.json().error).toMatch(/custom event/)
    expect(await stored('Refused')).toEqual([])
  })
})

describe('revenue goals', () => {
  it('are event goals with an ISO 4217 currency, listed with it', async () => {
    const { body } = await get(`/api/v1/goals?site=${SITE}`)
    expect(body.goals.map((g: Record<string, unknown>) => [g.label, g.currency])).toEqual([['Purchase', 'EUR'], ['Signup', undefined], ['Donation', 'USD']])
    const again = await postGoal({ site: SITE, event: 'Purchase', currency: 'EUR' })
    expect(again.statusCode).toBe(200)
    expect(again.json().id).toBe(ids.purchase)
  })

  it('count one currency: the same goal in another currency or none is a 400, as are a page goal or an unknown code', async () => {
    const cases: [object, RegExp][] = [
      [{ event: 'Purchase', currency: 'USD' }, /goal Purchase exists in EUR .*one currency/],
      [{ event: 'Purchase' }, /goal Purchase exists in EUR/],
      [{ event: 'Signup', currency: 'EUR' }, /goal Signup exists without a currency/],
      [{ page: '/checkout', currency: 'EUR' }, /currency goes with event goals/],
      [{ event: 'Gift', currency: 'ABC' }, /ISO 4217/],
    ]
    for (const [goal, reason] of cases) {
      const res = await postGoal({ site: SITE, ...goal })
      expect(res.statusCode, JSON.stringify(goal)).toBe(400)
      expect(res.json().error).toMatch(reason)
    }
  })
})

describe('total_revenue and average_revenue', () => {
  const purchase = 'filters=goal==Purchase&metrics=visitors,total_revenue,average_revenue'

  it('aggregate: the goal\'s revenue in its currency, average per revenue event, with the currency named', async () => {
    const { status, body } = await stats('aggregate', purchase)
    expect(status, JSON.stringify(body)).toBe(200)
    expect(body.currency).toBe('EUR')
    expect(body.results.visitors.value).toBe(28)
    expect(body.results.total_revenue.value).toBe(2178.5)
    expect(body.results.average_revenue.value).toBe(Math.round((2178.5 / 24) * 100) / 100)
  })

  it('timeseries: the same, per bucket', async () => {
    const { body } = await stats('timeseries', `${purchase}&interval=day`)
    expect(body.currency).toBe('EUR')
    expect(body.results).toEqual([{ date: day, visitors: 28, total_revenue: 2178.5, average_revenue: 90.77 }])
  })

  it('breakdown by campaign: each row its visits\' revenue; withheld where fewer than k paid it, and for (other)', async () => {
    const { body } = await stats('breakdown', `property=utm_campaign&${purchase}`)
    expect(body.currency).toBe('EUR')
    expect(body.results).toEqual([
      { utm_campaign: 'spring', visitors: 8, total_revenue: 365.5, average_revenue: 40.61 },
      { utm_campaign: 'autumn', visitors: 7, total_revenue: 700, average_revenue: 100 },
      // six converting visitors, but one paid in euros: his amount alone is never shown
      { utm_campaign: 'mixed', visitors: 6, total_revenue: null, average_revenue: null },
      // summer (5) and tiny (2): the union is counted again for visitors, its revenue is not
      { utm_campaign: '(other)', visitors: 7, total_revenue: null, average_revenue: null },
    ])
  })

  it('breakdown by a custom prop: the revenue of the events that carried the value', async () => {
    const { body } = await stats('breakdown', `property=prop:product&${purchase}`)
    expect(body.results).toEqual([
      { 'prop:product': 'book', visitors: 15, total_revenue: 1065.5, average_revenue: 66.59 },
      // eight payers in euros: 999 + 5 × 20 + 2 × 7
      { 'prop:product': 'lamp', visitors: 13, total_revenue: 1113, average_revenue: 139.13 },
    ])
  })

  it('breakdown by event name: where every visitor converted, the row is folded (R4) and (other) shows no revenue', async () => {
    const { body } = await stats('breakdown', `property=event&${purchase}`)
    expect(body.results).toEqual([{ event: '(other)', visitors: 28, total_revenue: null, average_revenue: null }])
  })

  it('breakdown by page, scroll depth beside: the revenue of the visits that viewed it', async () => {
    const { status, body } = await stats('breakdown', 'property=page&filters=goal==Purchase&metrics=visitors,total_revenue,scroll_depth')
    expect(status, JSON.stringify(body)).toBe(200)
    // every converting visit viewed /: its row is everyone (R4), shown only as (other)
    expect(body.results).toEqual([{ page: '/sale', visitors: 7, total_revenue: 700, scroll_depth: null }, { page: '(other)', visitors: 28, total_revenue: null, scroll_depth: null }])
  })

  it('goals panel: a revenue goal has its revenue and currency, other goals none; a withheld one reads null', async () => {
    const { body } = await get(`/api/v1/stats/goals?site=${SITE}&${period}`)
    expect(body.results).toEqual([
      { id: ids.purchase, goal: 'Purchase', visitors: 28, events: 29, conversion_rate: 73.7, currency: 'EUR', total_revenue: 2178.5, average_revenue: 90.77 },
      { id: ids.signup, goal: 'Signup', visitors: 6, events: 6, conversion_rate: 15.8 },
      { id: ids.donation, goal: 'Donation', visitors: null, events: null, conversion_rate: null, withheld: expect.any(String), currency: 'USD', total_revenue: null, average_revenue: null },
    ])
  })

  it('the goals panel under a filter: revenue of the filtered visits only, withheld when under k paid it', async () => {
    const withoutMixed = (await get(`/api/v1/stats/goals?site=${SITE}&${period}&filters=utm_campaign!=mixed`)).body.results[0]
    expect(withoutMixed).toMatchObject({ visitors: 22, events: 23, total_revenue: 1179.5, average_revenue: 51.28 })
    // mixed and the visitors who bought nothing: six converted, one of them in euros
    const mixed = (await get(`/api/v1/stats/goals?site=${SITE}&${period}&filters=utm_campaign!=spring|autumn|summer|tiny`)).body.results[0]
    expect(mixed).toEqual({ id: ids.purchase, goal: 'Purchase', visitors: 6, events: 6, conversion_rate: 37.5, currency: 'EUR', total_revenue: null, average_revenue: null })
  })

  it('are refused with the reason where they cannot be answered, never silently empty', async () => {
    const cases: [string, string, RegExp][] = [
      ['aggregate', 'metrics=total_revenue', /need a goal filter on a revenue goal/],
      ['aggregate', 'filters=goal==Signup&metrics=average_revenue', /need a goal filter on a revenue goal/],
      ['aggregate', 'filters=goal!=Purchase&metrics=total_revenue', /need a goal filter on a revenue goal/],
      ['breakdown', 'property=source&filters=goal==Purchase|Donation&metrics=total_revenue', /several currencies \(EUR, USD\)/],
    ]
    for (const [route, params, reason] of cases) {
      const { status, body } = await stats(route, params)
      expect(status, params).toBe(400)
      expect(body.error).toMatch(reason)
    }
  })

  it('on a shared link (noise ε 0.5 by default): the total follows its noisy events, the average stays true, asked again alike', async () => {
    const link = (await app.tokens.create({ site: SITE, scopes: ['shared'], name: 'revenue' })).token
    const ask = async () => (await app.inject({ url: `/api/v1/stats/aggregate?site=${SITE}&${period}&${purchase}`, headers: { authorization: `Bearer ${link}` } })).json()
    const first = await ask()
    expect(first.results.average_revenue.value).toBe(90.77)
    const events = first.results.total_revenue.value / 90.7708
    expect(Math.abs(events - Math.round(events))).toBeLessThan(0.01) // a whole number of (noisy) revenue events
    expect(await ask()).toEqual(first)
  })

  it('without revenue asked, a goal-filtered answer names no currency', async () => {
    const { body } = await stats('aggregate', 'filters=goal==Purchase&metrics=visitors')
    expect(body).not.toHaveProperty('currency')
    expect(body.results.visitors.value).toBe(28)
  })
})
