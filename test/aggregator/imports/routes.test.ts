import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importHere, readImportPaths } from '../../../cli/import.ts'
import { ADMIN_TOKEN, rows, tempDataDir, testApp } from '../../helpers/app.ts'
import { multipartBody, plausibleCsvs, zipOf, type WorldDay } from './plausible-export.ts'

/**
 * Issue 16, point 3: a Plausible export made by the test (Plausible's exporter's columns, zipped)
 * goes in through the HTTP route and the CLI's function, and shows beside the collected
 * statistics under k = 5: totals, series and breakdowns are sums of the kept day cells only.
 */

const K = 5
const POLICY = `version: 1
name: imports
defaults:
  min_visitors: { dashboard: ${K}, shared: ${K}, export: ${K} }
`
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const REASON = `fewer than ${K} visitors behind this number or its neighbours`

const WORLD: WorldDay[] = [
  { date: '2024-03-01', visitors: 20, pages: { '/': 12, '/blog': 8 }, sources: { Google: 10, '': 7, Newsletter: 3 }, countries: { DE: 15, FR: 5 }, devices: { Desktop: 14, Mobile: 6 }, events: { Signup: 6 } },
  // fewer than k: the day counts as none, and so does every row of it
  { date: '2024-03-02', visitors: 3, pages: { '/': 3 }, countries: { DE: 3 } },
  // "/" leaves 4 of the day's 30 outside it, "/blog" has 4: both suppressed; Google is all of the day
  { date: '2024-03-03', visitors: 30, pages: { '/': 26, '/blog': 4 }, sources: { Google: 30 }, countries: { DE: 20, FR: 10 }, devices: { Desktop: 30 } },
  { date: '2024-03-04', visitors: 10, pages: { '/': 5, '/blog': 5 }, sources: { Google: 10 }, countries: { DE: 10 }, devices: { Desktop: 5, Mobile: 5 }, events: { Signup: 5 } },
]
const RANGE = 'from=2024-03-01&to=2024-03-04'

let app: FastifyInstance

beforeAll(async () => {
  const dir = tempDataDir('imports-policy-')
  fs.writeFileSync(path.join(dir, 'policy.yaml'), POLICY)
  app = await testApp({ policyFile: path.join(dir, 'policy.yaml') }, ['example.com', 'example.org'])
})
afterAll(async () => {
  await app?.close()
})

const upload = (zip: Uint8Array, site = 'example.com', headers: Record<string, string> = auth) =>
  app.inject({ method: 'POST', url: `/api/v1/imports?site=${site}`, headers: { ...headers, 'content-type': 'application/zip' }, payload: Buffer.from(zip) })
const get = (url: string) => app.inject({ method: 'GET', url, headers: auth })
const storedRows = async (site = 'example.com') => Number((await rows<{ n: number }>(app, 'SELECT count() AS n FROM imported_daily WHERE site = {site:String}', { site }))[0].n)

describe('a Plausible export', () => {
  let id: string

  it('imports from its zip and shows the sums of the kept day cells', async () => {
    const res = await upload(zipOf(plausibleCsvs(WORLD)))
    expect(res.statusCode, res.body).toBe(201)
    const body = res.json()
    id = body.import.id
    expect(body).toMatchObject({ replaced: false, import: { site: 'example.com', source: 'plausible', from: '2024-03-01', to: '2024-03-04', state: 'complete' } })
    expect(body.import.files).toHaveLength(10)

    const overview = (await get(`/api/v1/stats/imported?site=example.com&${RANGE}`)).json()
    expect(overview.imports).toEqual([{ id, source: 'plausible', from: '2024-03-01', to: '2024-03-04' }])
    // 20 + (3 withheld) + 30 + 10 visitors; two pageviews and one visit each, half bounce, a minute each
    expect(overview.results).toEqual({ visitors: { value: 60 }, visits: { value: 60 }, pageviews: { value: 120 }, bounce_rate: { value: 50 }, visit_duration: { value: 60 } })
    expect(overview.timeseries.map((r: { date: string; visitors: number | null; withheld?: string }) => [r.date, r.visitors, r.withheld])).toEqual([
      ['2024-03-01', 20, undefined], ['2024-03-02', null, REASON], ['2024-03-03', 30, undefined], ['2024-03-04', 10, undefined],
    ])

    const breakdown = async (property: string) => (await get(`/api/v1/stats/imported/breakdown?site=example.com&${RANGE}&property=${property}`)).json().results
    expect(await breakdown('page')).toEqual([{ page: '/', visitors: 17, pageviews: 34 }, { page: '/blog', visitors: 13, pageviews: 26 }])
    // Newsletter (3) is under k on its only day: not listed; direct traffic is "(none)"
    expect(await breakdown('source')).toEqual([
      { source: 'Google', visitors: 50, visits: 50, bounce_rate: 50, visit_duration: 60 },
      { source: '(none)', visitors: 7, visits: 7, bounce_rate: 43, visit_duration: 60 },
    ])
    expect((await breakdown('country')).map((r: { country: string; visitors: number }) => [r.country, r.visitors])).toEqual([['DE', 45], ['FR', 15]])
    expect((await breakdown('device')).map((r: { device: string; visitors: number }) => [r.device, r.visitors])).toEqual([['Desktop', 49], ['Mobile', 11]])
    expect(await breakdown('event')).toEqual([{ event: 'Signup', visitors: 11, events: 22 }])
  })

  it('never mixes into the collected statistics', async () => {
    const res = await get(`/api/v1/stats/aggregate?site=example.com&${RANGE}&metrics=visitors`)
    expect(res.json().results.visitors).toEqual({ value: null, change: null, withheld: REASON })
  })

  it('answers a period outside every import with nothing: no import listed, no number', async () => {
    const overview = (await get('/api/v1/stats/imported?site=example.com&from=2024-05-01&to=2024-05-03')).json()
    expect(overview.imports).toEqual([])
    expect(overview.results.visitors).toEqual({ value: null, withheld: REASON })
    expect(overview.timeseries.every((r: { visitors: number | null; withheld?: string }) => r.visitors === null && r.withheld === undefined)).toBe(true)
  })

  it('replaces itself when imported again (as the zip, or as its files through the CLI), never doubles', async () => {
    const before = await storedRows()
    const again = await upload(zipOf(plausibleCsvs(WORLD)))
    expect(again.statusCode).toBe(200)
    expect(again.json()).toMatchObject({ replaced: true, import: { id } })

    const dir = tempDataDir('plausible-export-')
    for (const [name, text] of plausibleCsvs(WORLD)) fs.writeFileSync(path.join(dir, name), text)
    const viaCli = await importHere(app.runtime.store.client, app.runtime.sites, app.runtime.policy, 'example.com', readImportPaths([dir]))
    expect(viaCli).toMatchObject({ replaced: true, info: { id, state: 'complete' } })

    expect(await storedRows()).toBe(before)
    const list = (await get('/api/v1/imports?site=example.com')).json().imports
    expect(list).toHaveLength(1)
    expect((await get(`/api/v1/stats/imported?site=example.com&${RANGE}`)).json().results.visitors).toEqual({ value: 60 })
  })

  it('refuses an export whose days overlap another import', async () => {
    const other = WORLD.map((d) => ({ ...d, visitors: d.visitors + 1 }))
    const res = await upload(zipOf(plausibleCsvs(other)))
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toContain(`overlap import ${id}`)
  })

  it('takes a multipart upload (the settings form) and a single CSV file', async () => {
    const { body, contentType } = multipartBody('example_org_20240401.zip', zipOf(plausibleCsvs([{ date: '2024-04-01', visitors: 9 }])))
    const res = await app.inject({ method: 'POST', url: '/api/v1/imports?site=example.org', headers: { ...auth, 'content-type': contentType }, payload: body })
    expect(res.statusCode, res.body).toBe(201)
    expect((await get('/api/v1/stats/imported?site=example.org&from=2024-04-01&to=2024-04-01')).json().results.visitors).toEqual({ value: 9 })

    const [[name, text]] = plausibleCsvs([{ date: '2024-04-02', visitors: 6 }], ['visitors'])
    const csv = await app.inject({ method: 'POST', url: `/api/v1/imports?site=example.org&filename=${name}`, headers: { ...auth, 'content-type': 'text/csv' }, payload: text })
    expect(csv.statusCode, csv.body).toBe(201)
    expect(csv.json().import.files).toEqual([name])
  })

  it('is deleted by an admin: it stops counting and its rows leave', async () => {
    const created = await upload(zipOf(plausibleCsvs([{ date: '2024-06-01', visitors: 8 }])))
    const other = created.json().import.id
    expect(await storedRows()).toBeGreaterThan(0)
    const res = await app.inject({ method: 'DELETE', url: `/api/v1/imports/${other}?site=example.com`, headers: auth })
    expect(res.json()).toEqual({ deleted: true })
    expect(Number((await rows<{ n: number }>(app, 'SELECT count() AS n FROM imported_daily WHERE import_id = {id:String}', { id: other }))[0].n)).toBe(0)
    expect((await get('/api/v1/stats/imported?site=example.com&from=2024-06-01&to=2024-06-01')).json().imports).toEqual([])
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/imports/${other}?site=example.com`, headers: auth })).statusCode).toBe(404)
  })
})

describe('personal data in an export', () => {
  // found in review: imported values were stored as given, where the collector scrubs every string
  it('is scrubbed as the collector scrubs it: an e-mail address in a page path is stored as [email], through the route and the CLI', async () => {
    const days: WorldDay[] = [{ date: '2023-05-01', visitors: 12, pages: { '/account/jane.doe@example.com/settings': 6, '/account/john.roe@example.com/settings': 6 } }]
    const res = await upload(zipOf(plausibleCsvs(days, ['visitors', 'pages'])), 'example.org')
    expect(res.statusCode, res.body).toBe(201)
    const dir = tempDataDir('imports-pii-')
    for (const [name, text] of plausibleCsvs([{ ...days[0], date: '2023-06-01' }], ['visitors', 'pages'])) fs.writeFileSync(path.join(dir, name), text)
    await importHere(app.runtime.store.client, app.runtime.sites, app.runtime.policy, 'example.org', readImportPaths([dir]))
    const stored = await rows<{ value: string }>(app, "SELECT DISTINCT value FROM imported_daily WHERE site = 'example.org' AND property = 'page'")
    expect(stored.map((r) => r.value)).toEqual(['/account/[email]/settings'])
    // the two pages became one: its visitors are the day's cells added up
    const page = (await get('/api/v1/stats/imported/breakdown?site=example.org&from=2023-05-01&to=2023-05-01&property=page')).json().results
    expect(page).toEqual([{ page: '/account/[email]/settings', visitors: 12, pageviews: 24 }])
  })
})

describe('a malformed export', () => {
  const broken = (edit: (files: Map<string, string>) => void) => {
    const files = plausibleCsvs([{ date: '2024-07-01', visitors: 12, pages: { '/': 6 } }, { date: '2024-07-02', visitors: 7, pages: { '/': 7 } }])
    edit(files)
    return zipOf(files)
  }
  const PAGES = 'imported_pages_20240701_20240702.csv'
  const VISITORS = 'imported_visitors_20240701_20240702.csv'

  it.each([
    ['a bad date', (f: Map<string, string>) => f.set(PAGES, f.get(PAGES)!.replace('2024-07-02', '2024-07-32')), { file: PAGES, line: 3, column: 'date' }, /line 3, column "date": "2024-07-32" is not a date/],
    ['a date outside its file name', (f: Map<string, string>) => f.set(PAGES, f.get(PAGES)!.replace('2024-07-02', '2024-08-02')), { file: PAGES, line: 3, column: 'date' }, /outside the days/],
    ['a missing column', (f: Map<string, string>) => f.set(VISITORS, f.get(VISITORS)!.replace('bounces,', '').replace(/^(2024-07-\d\d,\d+,\d+),\d+,/gm, '$1,')), { file: VISITORS, line: 1, column: 'bounces' }, /line 1: missing column "bounces"/],
    ['a wrong number', (f: Map<string, string>) => f.set(PAGES, f.get(PAGES)!.replace(',6,6,12,', ',6,six,12,')), { file: PAGES, line: 2, column: 'visitors' }, /line 2, column "visitors": "six" is not a whole number/],
    ['a broken quote', (f: Map<string, string>) => f.set(PAGES, `${f.get(PAGES)!}2024-07-02,example.com,"/x,1,1,1,,,,\n`), { file: PAGES }, /not valid CSV/],
    ['a file of another table', (f: Map<string, string>) => f.set('imported_goals_20240701_20240702.csv', 'date\n'), { file: 'imported_goals_20240701_20240702.csv' }, /not a file of Plausible's CSV export/],
    ['no day totals', (f: Map<string, string>) => f.delete(VISITORS), {}, /imported_visitors_<dates>.csv is missing/],
  ])('with %s is a 400 naming the file and line, and nothing is stored', async (_what, edit, where, message) => {
    const before = await storedRows()
    const res = await upload(broken(edit))
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject(where)
    expect(res.json().error).toMatch(message)
    if ('file' in where) expect(res.json().error.startsWith(where.file!)).toBe(true)
    expect(await storedRows()).toBe(before)
    expect((await get('/api/v1/imports?site=example.com')).json().imports.some((i: { from: string }) => i.from === '2024-07-01')).toBe(false)
  })

  it('that is not a zip is a 400', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/imports?site=example.com', headers: { ...auth, 'content-type': 'application/zip' }, payload: Buffer.from('PK\u0003\u0004 not really a zip') })
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toMatch(/not a readable zip archive/)
  })
})

describe('access', () => {
  it('reading needs a stats token of the site; importing needs an admin', async () => {
    expect((await app.inject({ method: 'GET', url: `/api/v1/stats/imported?site=example.com&${RANGE}` })).statusCode).toBe(401)
    const token = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: auth, payload: { site: 'example.com', scopes: ['stats'] } })
    expect(token.statusCode, token.body).toBe(201)
    const bearer = { authorization: `Bearer ${token.json().token}` }
    expect((await app.inject({ method: 'GET', url: `/api/v1/stats/imported?site=example.com&${RANGE}`, headers: bearer })).statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: `/api/v1/stats/imported?site=example.org&${RANGE}`, headers: bearer })).statusCode).toBe(403)
    expect((await upload(zipOf(plausibleCsvs([{ date: '2024-09-01', visitors: 9 }])), 'example.com', bearer)).statusCode).toBe(403)
  })

  it('a shared link reads them with its consistent noise (N1), on the same kept cells', async () => {
    const link = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: auth, payload: { site: 'example.com', scopes: ['shared'] } })
    expect(link.statusCode, link.body).toBe(201)
    const shared = { authorization: `Bearer ${link.json().token}` }
    const ask = async () => (await app.inject({ method: 'GET', url: `/api/v1/stats/imported/breakdown?site=example.com&${RANGE}&property=country`, headers: shared })).json().results
    const [first, again] = [await ask(), await ask()]
    // the same answer twice (averaging gains nothing), the same rows as the exact answer, not all of them the exact numbers
    expect(again).toEqual(first)
    expect(first.map((r: { country: string }) => r.country).sort()).toEqual(['DE', 'FR'])
    const overview = async (q: string, headers: Record<string, string>) => (await app.inject({ method: 'GET', url: `/api/v1/stats/imported?site=example.com&${q}`, headers })).json()
    // every range of the four days, its three counts: each is exact with probability
    // (1 − α)/(1 + α) ≈ 0.245 at ε = 0.5, so "some count differs" fails by chance about once in 10^16
    const days = ['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04']
    const ranges = days.flatMap((from, i) => days.slice(i).map((to) => `from=${from}&to=${to}`))
    const counts = (o: { results: Record<string, { value: number | null }> }) => ['visitors', 'visits', 'pageviews'].map((m) => o.results[m].value)
    const exact = (await Promise.all(ranges.map((q) => overview(q, auth)))).flatMap(counts)
    const noisy = (await Promise.all(ranges.map((q) => overview(q, shared)))).flatMap(counts)
    // withheld for one audience is withheld for the other (the same kept cells)
    expect(noisy.map((v) => v === null)).toEqual(exact.map((v) => v === null))
    expect(exact.filter((v) => v !== null).length).toBeGreaterThanOrEqual(27)
    expect(noisy.some((v, i) => v !== exact[i])).toBe(true)
    const whole = await overview(RANGE, shared)
    // the day withheld for everyone stays withheld
    expect(whole.timeseries[1]).toMatchObject({ visitors: null, withheld: REASON })
  })

  it('an unknown parameter or property is a 400', async () => {
    expect((await get(`/api/v1/stats/imported?site=example.com&${RANGE}&filters=page==/`)).statusCode).toBe(400)
    expect((await get(`/api/v1/stats/imported/breakdown?site=example.com&${RANGE}&property=city`)).statusCode).toBe(400)
  })
})

describe('removing the site', () => {
  it('erases its imports and imported rows', async () => {
    expect(await storedRows('example.org')).toBeGreaterThan(0)
    const res = await app.inject({ method: 'DELETE', url: '/api/v1/sites/example.org?confirm=example.org', headers: auth })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().tables).toEqual(expect.arrayContaining(['imported_daily', 'imports']))
    expect(await storedRows('example.org')).toBe(0)
    expect(Number((await rows<{ n: number }>(app, "SELECT count() AS n FROM imports WHERE site = 'example.org'"))[0].n)).toBe(0)
  })
})
