import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { purge } from '../../retention/purge.ts'
import { RollupJob } from '../../aggregator/rollup/job.ts'
import { ADMIN_TOKEN, rows, settle, testApp } from '../helpers/app.ts'
import { insertEvents, utcDay } from '../helpers/fixtures.ts'

// Strict policy: raw events 30 days, aggregates 25 months, k = 5.
const SITE = 'old.example.com'
const DAY = 86_400_000
// "today" as of three minutes ago: in the first minutes after midnight UTC, yesterday is not closed
// (built) until two minutes past, and "a minute ago" is still yesterday
const today = Math.floor((Date.now() - 3 * 60_000) / DAY) * DAY
const oldDay = today - 40 * DAY

const visit = (visitor: number, t: number) => [
  { site: SITE, ts: t, name: 'pageview', visitor_id: String(visitor), pathname: '/', country: 'DE', props: {} },
  { site: SITE, ts: t + 30_000, name: 'pageview', visitor_id: String(visitor), pathname: '/pricing', country: 'DE', props: {} },
]

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({}, [SITE])
  const events = [...Array.from({ length: 7 }, (_, i) => visit(100 + i, oldDay + 3_600_000 + i * 1000)).flat(), ...Array.from({ length: 5 }, (_, i) => visit(200 + i, today - DAY + i * 1000)).flat()]
  await insertEvents(app.runtime.store.client, events)
  await settle(app)
})
afterAll(async () => {
  await app?.close()
})

const visitorsOn = async (d: string) => {
  const res = await app.inject({ url: `/api/v1/stats/aggregate?site=${SITE}&period=custom&from=${d}&to=${d}&metrics=visitors,pageviews`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  return res.json().results
}

describe('retention and rollups', () => {
  it('purging raw events (and visits) keeps the daily statistics, and the job does not rebuild them from nothing', async () => {
    expect(await visitorsOn(utcDay(oldDay))).toMatchObject({ visitors: { value: 7 }, pageviews: { value: 14 } })
    await purge(app.runtime.store.client, app.runtime.policy, [SITE])
    const raw = await rows<{ c: number }>(app, 'SELECT count() c FROM events WHERE ts < fromUnixTimestamp64Milli({t:Int64})', { t: today - 30 * DAY })
    expect(raw[0].c).toBe(0)
    const visits = await rows<{ c: number }>(app, 'SELECT count() c FROM visits WHERE day = {d:Date}', { d: utcDay(oldDay) })
    expect(visits[0].c).toBe(0)
    expect(await app.runtime.rollups.staleDays()).toEqual([])
    await app.runtime.rollups.run()
    expect(await visitorsOn(utcDay(oldDay))).toMatchObject({ visitors: { value: 7 }, pageviews: { value: 14 } })
    // the recent day is untouched
    expect(await visitorsOn(utcDay(today - DAY))).toMatchObject({ visitors: { value: 5 } })
    // no staged copy is left after a build
    const staged = await rows<{ c: number }>(app, 'SELECT count() AS c FROM rollup_daily_stage')
    expect(staged[0].c).toBe(0)
  })

  it('late events for a built day are taken in by the next build', async () => {
    const late = Array.from({ length: 3 }, (_, i) => visit(300 + i, today - DAY + 7_200_000 + i * 1000)).flat()
    await insertEvents(app.runtime.store.client, late)
    expect(await app.runtime.rollups.staleDays()).toEqual([utcDay(today - DAY)])
    await app.runtime.rollups.run()
    expect(await visitorsOn(utcDay(today - DAY))).toMatchObject({ visitors: { value: 8 } })
  })

  it('a day is built once it is over (and two minutes more); until then it is answered from visits and events', async () => {
    let now = today + DAY + 60_000 // a minute after today ends: today is not closed yet
    const job = new RollupJob(app.runtime.store.client, app.runtime.sites, () => now)
    await insertEvents(app.runtime.store.client, visit(500, Math.min(Date.now(), today + 3_600_000) - 60_000))
    expect(await job.staleDays()).not.toContain(utcDay(today))
    now = today + DAY + 3 * 60_000
    expect(await job.staleDays()).toContain(utcDay(today))
  })
})
