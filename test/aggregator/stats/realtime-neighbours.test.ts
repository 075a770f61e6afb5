import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN_TOKEN, flush, testApp } from '../../helpers/app.ts'
import { eventRow, insertEvents } from '../../helpers/fixtures.ts'

/**
 * Realtime's pages under a filter are rows of the same list without it (R3 row by row, as a
 * breakdown's): a page whose visitors under `browser!=Firefox` are within 1..k-1 of its visitors
 * without the filter would tell how many Firefox visitors are on it right now.
 *
 * Each visitor a network of its own, the default policy (k = 5), in the last minute: Chrome
 * visitors 1..10 on /a and 11..20 on /b; Firefox visitor 21 on /a and 22..26 on /c. Without a
 * filter: 26 visitors, /a 11, /b 10, /c 5. Under `browser!=Firefox`: 20 visitors (6 fewer: the
 * total may be shown), /a 10 (one less than without the filter: folded), /b 10 (the same);
 * "(other)" over /a is 10 against 11 without the filter, over /a and /b 20 against 21: neither
 * may be shown, so no page is.
 */
const SITE = 'now.example.com'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({}, [SITE])
  const t = Date.now() - 60_000
  const view = (v: number, page: string, browser: string) => eventRow(SITE, v, t + v * 100, page, { browser })
  await insertEvents(app.runtime.store.client, [
    ...Array.from({ length: 10 }, (_, i) => view(i + 1, '/a', 'Chrome')),
    ...Array.from({ length: 10 }, (_, i) => view(i + 11, '/b', 'Chrome')),
    view(21, '/a', 'Firefox'),
    ...Array.from({ length: 5 }, (_, i) => view(i + 22, '/c', 'Firefox')),
  ])
  await flush(app)
})
afterAll(async () => {
  await app?.close()
})

const realtime = async (filters?: string) => {
  const res = await app.inject({ url: `/api/v1/stats/realtime?site=${SITE}${filters ? `&filters=${encodeURIComponent(filters)}` : ''}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(res.statusCode, res.body).toBe(200)
  return res.json()
}

describe('realtime pages under a filter (R3 row by row)', () => {
  it('shows no page whose visitors differ by 1..k-1 from the same page without the filter', async () => {
    expect(await realtime()).toEqual({ visitors: 26, pages: [{ page: '/a', visitors: 11 }, { page: '/b', visitors: 10 }, { page: '/c', visitors: 5 }] })
    expect(await realtime('browser!=Firefox')).toEqual({ visitors: 20, pages: [] })
  })

  it('shows a page the filter leaves as it is, or sets k visitors apart from', async () => {
    // under browser==Chrome (the same 20): /b is the same without the filter, /a 1 apart
    const chrome = await realtime('browser==Chrome')
    expect(chrome.visitors).toBe(20)
    expect(chrome.pages.map((r: { page: string }) => r.page)).not.toContain('/a')
    // under page!=/c: the 21 on /a or /b (5 fewer); every page is as it is without the filter
    expect(await realtime('page!=/c')).toEqual({ visitors: 21, pages: [{ page: '/a', visitors: 11 }, { page: '/b', visitors: 10 }] })
  })
})
