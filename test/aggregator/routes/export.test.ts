import fs from 'node:fs'
import path from 'node:path'
import { unzipSync } from 'fflate'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditStore } from '../../../audit/audit.ts'
import { EXPORTS_PER_MONTH } from '../../../aggregator/export/budget.ts'
import { monthsCovered, ZIP_TABLES } from '../../../aggregator/export/export.ts'
import { countNoise, KeyedStream, twoSidedGeometric } from '../../../aggregator/export/noise.ts'
import { ADMIN_TOKEN, rows, settle, tempDataDir, testApp } from '../../helpers/app.ts'
import { day, dayBefore, dayStart, eventRow, handCountedVisits, insertEvents, utcDay } from '../../helpers/fixtures.ts'

/**
 * The same small store as test/stats.test.ts, two days ago (UTC), for three sites with one
 * policy: 10 visitors from Germany, 3 from France, 6 from the US (19 visitors, 25 visits).
 * Exports carry noise unless the policy says otherwise; this one turns it off by default:
 * - EXACT: k = 5 everywhere, no noise; two days before (the day between them empty), 5 more
 *   visitors from GB view /about, so that over three days the pages have rows to show (R4);
 * - LOOSE: dashboards k = 3 (France shows there), exports k = 5 (France must never show);
 * - NOISY: k = 5 and noise.export_epsilon = 1.
 */
const EXACT = 'exact.example.com'
const LOOSE = 'loose.example.com'
const NOISY = 'noisy.example.com'
const eventsOf = handCountedVisits
const DAY = 86_400_000
const twoBefore = utcDay(dayStart - 2 * DAY)
const EARLIER = Array.from({ length: 5 }, (_, i) => eventRow(EXACT, 7000 + i, dayStart - 2 * DAY + 9 * 3_600_000 + i * 60_000, '/about', { country: 'GB' }))

let app: FastifyInstance
let dir: string
beforeAll(async () => {
  dir = tempDataDir('analytics-export-')
  const policyFile = path.join(dir, 'policy.yaml')
  fs.writeFileSync(
    policyFile,
    [
      'version: 1',
      'name: export test',
      'defaults:',
      '  min_visitors: { dashboard: 5, shared: 5, export: 5 }',
      '  noise: { export_epsilon: null }',
      'sites:',
      `  ${LOOSE}:`,
      '    min_visitors: { dashboard: 3, shared: 3, export: 5 }',
      `  ${NOISY}:`,
      '    noise: { export_epsilon: 1 }',
      '',
    ].join('\n'),
  )
  app = await testApp({ policyFile }, [EXACT, LOOSE, NOISY])
  await insertEvents(app.runtime.store.client, [...[EXACT, LOOSE, NOISY].flatMap(eventsOf), ...EARLIER])
  await settle(app)
})
afterAll(async () => {
  await app?.close()
})

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const range = `period=custom&from=${day}&to=${day}`
/** EXACT's three days, from the GB visitors to the hand-counted day: 24 visitors. */
const range3 = `period=custom&from=${twoBefore}&to=${day}`
const exportOf = (site: string, params: string) => app.inject({ url: `/api/v1/export?site=${site}&${params}`, headers: auth })
const api = async (endpoint: string, site: string, params: string) =>
  (await app.inject({ url: `/api/v1/stats/${endpoint}?site=${site}&${params}`, headers: auth })).json()

/** RFC 4180 CSV (what CSVWithNames writes): quoted fields, doubled quotes. */
function parseCsv(text: string): { header: string[]; rows: Record<string, string>[] } {
  const records: string[][] = []
  let field = ''
  let record: string[] = []
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') record.push(field), (field = '')
    else if (c === '\n') record.push(field), records.push(record), (record = []), (field = '')
    else field += c
  }
  if (field || record.length) record.push(field), records.push(record)
  const [header, ...body] = records
  for (const r of body) expect(r).toHaveLength(header.length)
  return { header, rows: body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]]))) }
}

/** Reads Parquet bytes back through ClickHouse: proves the file is valid Parquet. */
async function readParquet(bytes: Buffer): Promise<{ rows: Record<string, unknown>[]; columns: { name: string; type: string }[] }> {
  const file = path.join(dir, `read-${Math.random().toString(36).slice(2)}.parquet`)
  fs.writeFileSync(file, bytes)
  const out = {
    rows: await rows(app, 'SELECT * FROM file({file:String}, Parquet)', { file }),
    columns: await rows<{ name: string; type: string }>(app, 'DESCRIBE file({file:String}, Parquet)', { file }),
  }
  fs.rmSync(file)
  return out
}

const num = (v: string) => (v === '' ? null : Number(v))

describe('exact exports', () => {
  it('a breakdown as CSV equals the stats API', async () => {
    const res = await exportOf(EXACT, `${range}&property=country&format=csv`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/csv')
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${EXACT}-${day}-${day}-country.csv"`)
    const csv = parseCsv(res.body)
    expect(csv.header).toEqual(['country', 'visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events', 'time_on_page'])
    const metrics = csv.header.slice(1)
    const fromApi = (await api('breakdown', EXACT, `${range}&property=country&metrics=${metrics.join(',')}`)).results
    expect(csv.rows.map((r) => ({ country: r.country, ...Object.fromEntries(metrics.map((m) => [m, num(r[m])])) }))).toEqual(fromApi)
    expect(csv.rows.map((r) => r.country)).toEqual(['DE', '(other)'])
  })

  it('the time series (no property) as CSV, JSON lines and Parquet says the same', async () => {
    const params = range3
    const csv = parseCsv((await exportOf(EXACT, `${params}&format=csv`)).body)
    expect(csv.header).toEqual(['date', 'visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events', 'withheld'])
    const metrics = csv.header.slice(1, -1)
    const fromApi = (await api('timeseries', EXACT, `${params}&interval=day&metrics=${metrics.join(',')}`)).results
    const asApi = (r: Record<string, string>) => ({ date: r.date, ...Object.fromEntries(metrics.map((m) => [m, num(r[m])])), ...(r.withheld ? { withheld: r.withheld } : {}) })
    expect(csv.rows.map(asApi)).toEqual(fromApi)
    expect(csv.rows[0]).toMatchObject({ date: twoBefore, visitors: '5', visits: '5', pageviews: '5', events: '5', withheld: '' })
    // the empty day is withheld like a small one
    expect(csv.rows[1]).toMatchObject({ date: dayBefore, visitors: '', withheld: 'fewer than 5 visitors behind this number or its neighbours' })
    expect(csv.rows[2]).toMatchObject({ date: day, visitors: '19', visits: '25', pageviews: '47', events: '48', withheld: '' })

    const json = await exportOf(EXACT, `${params}&format=json`)
    expect(json.headers['content-type']).toContain('application/x-ndjson')
    expect(json.headers['content-disposition']).toContain(`${EXACT}-${twoBefore}-${day}.ndjson`)
    const lines = json.body.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toEqual(csv.rows.map((r) => ({ ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'date' || k === 'withheld' ? v : num(v)])) })))

    const parquet = await exportOf(EXACT, `${params}&format=parquet`)
    expect(parquet.headers['content-type']).toBe('application/vnd.apache.parquet')
    const bytes = parquet.rawPayload
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('PAR1')
    expect(bytes.subarray(-4).toString('latin1')).toBe('PAR1')
    const back = await readParquet(bytes)
    expect(back.rows).toHaveLength(3)
    expect(back.columns.map((c) => c.name)).toEqual(csv.header)
    expect(back.columns.find((c) => c.name === 'visitors')!.type).toBe('Nullable(UInt64)')
    expect(back.rows[1]).toMatchObject({ visitors: null })
    expect(back.rows[2]).toMatchObject({ visitors: 19, visits: 25, pageviews: 47, events: 48 })
  })

  it('a Parquet breakdown reads back with the right rows', async () => {
    const res = await exportOf(EXACT, `${range3}&property=page&format=parquet`)
    const back = await readParquet(res.rawPayload)
    const fromApi = (await api('breakdown', EXACT, `${range3}&property=page&metrics=visitors,pageviews`)).results
    expect(back.rows.map((r) => ({ page: r.page, visitors: Number(r.visitors), pageviews: Number(r.pageviews) }))).toEqual(fromApi)
    expect(back.rows.map((r) => r.page)).toEqual(['/', '/pricing', '/blog', '/signup', '/about'])
  })

  it('the zip holds one CSV per breakdown, each parsable and equal to its single export', async () => {
    const res = await exportOf(EXACT, `${range}&format=zip`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/zip')
    expect(res.headers['content-disposition']).toContain(`${EXACT}-${day}-${day}.zip`)
    const files = unzipSync(new Uint8Array(res.rawPayload))
    expect(Object.keys(files).sort()).toEqual(ZIP_TABLES.map((t) => t.file).sort())
    for (const name of ['visitors.csv', 'sources.csv', 'pages.csv', 'entry_pages.csv', 'exit_pages.csv', 'countries.csv', 'regions.csv', 'cities.csv', 'browsers.csv',
      'operating_systems.csv', 'devices.csv', 'screens.csv', 'utm_sources.csv', 'utm_mediums.csv', 'utm_campaigns.csv', 'custom_events.csv', 'outbound_links.csv', 'file_downloads.csv']) {
      expect(files[name], name).toBeDefined()
    }
    for (const bytes of Object.values(files)) parseCsv(Buffer.from(bytes).toString('utf8'))
    const single = await exportOf(EXACT, `${range}&property=country&format=csv`)
    expect(Buffer.from(files['countries.csv']).toString('utf8')).toBe(single.body)
    expect(parseCsv(Buffer.from(files['custom_events.csv']).toString('utf8')).rows).toEqual([]) // one visitor: withheld
    expect(parseCsv(Buffer.from(files['visitors.csv']).toString('utf8')).rows[0]).toMatchObject({ date: day, visitors: '19' })
  })

  it('answers 400 for a bad format, period, property, filter or interval; 401 without a token; 404 for an unknown site', async () => {
    const bad = [
      `${range}&format=xlsx`,
      'period=realtime',
      'period=fortnight',
      'period=custom&from=2026-02-30&to=2026-03-01',
      `${range}&property=shoe_size`,
      `${range}&filters=shoe_size==42`,
      `${range}&filters=country`,
      `${range}&interval=hour`,
      `${range}&property=country&interval=week`,
      `${range}&property=country&format=zip`,
    ]
    for (const q of bad) {
      const res = await exportOf(EXACT, q)
      expect(res.statusCode, q).toBe(400)
      expect(res.json().error, q).toEqual(expect.any(String))
    }
    expect((await app.inject({ url: `/api/v1/export?site=${EXACT}&${range}` })).statusCode).toBe(401)
    expect((await exportOf('nobody.example', range)).statusCode).toBe(404)
  })

  it('takes a per-site token with the export scope, not one with only stats', async () => {
    const exportToken = (await app.tokens.create({ site: LOOSE, scopes: ['export'], name: 'export test' })).token
    const statsToken = (await app.tokens.create({ site: LOOSE, scopes: ['stats'], name: 'export test' })).token
    const call = (token: string, site = LOOSE) => app.inject({ url: `/api/v1/export?site=${site}&${range}&property=country`, headers: { authorization: `Bearer ${token}` } })
    const ok = await call(exportToken)
    expect(ok.statusCode).toBe(200)
    expect(ok.body).not.toContain('FR') // the export k, whoever asks
    expect((await call(statsToken)).statusCode).toBe(403)
    expect((await call(exportToken, EXACT)).statusCode).toBe(403)
  })

  it('filters apply to exports', async () => {
    const csv = parseCsv((await exportOf(EXACT, `${range3}&property=page&filters=country!=DE`)).body)
    expect(csv.rows.map((r) => [r.page, r.visitors])).toEqual([['/blog', '9'], ['/', '6'], ['/pricing', '6'], ['/signup', '6'], ['/about', '5']])
    // a filter that sets apart fewer than k visitors (here FR's 3) withholds the export (R3)
    expect(parseCsv((await exportOf(EXACT, `${range}&property=page&filters=country!=FR`)).body).rows).toEqual([])
  })
})

describe('the export k', () => {
  it('a country of 3 visitors shows on the dashboard (k = 3) but in no export format (k = 5)', async () => {
    const dashboard = await api('breakdown', LOOSE, `${range}&property=country`)
    expect(dashboard.results).toContainEqual({ country: 'FR', visitors: 3 })
    for (const property of ['country', 'region', 'city', 'page']) {
      const csv = await exportOf(LOOSE, `${range}&property=${property}&format=csv`)
      const json = await exportOf(LOOSE, `${range}&property=${property}&format=json`)
      expect(csv.statusCode).toBe(200)
      for (const body of [csv.body, json.body]) {
        expect(body).not.toMatch(/FR|Bretagne|Rennes/)
      }
      const parquet = await readParquet((await exportOf(LOOSE, `${range}&property=${property}&format=parquet`)).rawPayload)
      expect(JSON.stringify(parquet.rows)).not.toMatch(/FR|Bretagne|Rennes/)
      expect(parquet.rows.length).toBe(parseCsv(csv.body).rows.length)
    }
    const zip = unzipSync(new Uint8Array((await exportOf(LOOSE, `${range}&format=zip`)).rawPayload))
    for (const [name, bytes] of Object.entries(zip)) expect(Buffer.from(bytes).toString('utf8'), name).not.toMatch(/FR|Bretagne|Rennes/)
    // and the country's 3 visitors are inside (other), not dropped
    const countries = parseCsv(Buffer.from(zip['countries.csv']).toString('utf8')).rows
    expect(countries.reduce((s, r) => s + Number(r.visitors), 0)).toBe(19)
  })
})

describe('export noise', () => {
  it('the two-sided geometric sampler: deterministic per key and label, P(0) and the variance as the distribution says', () => {
    const key = Buffer.alloc(32, 7)
    const a = new KeyedStream(key, 'x')
    const b = new KeyedStream(key, 'x')
    const seqA = Array.from({ length: 5 }, () => a.uniform())
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(seqA)
    expect(new KeyedStream(key, 'y').uniform()).not.toBe(seqA[0])
    const epsilon = 1
    const alpha = Math.exp(-epsilon)
    const n = 20_000
    const stream = new KeyedStream(key, 'samples')
    const samples = Array.from({ length: n }, () => twoSidedGeometric(stream, epsilon))
    const zeros = samples.filter((z) => z === 0).length / n
    const mean = samples.reduce((s, z) => s + z, 0) / n
    const variance = samples.reduce((s, z) => s + z * z, 0) / n - mean * mean
    expect(zeros).toBeCloseTo((1 - alpha) / (1 + alpha), 1)
    expect(Math.abs(mean)).toBeLessThan(0.05)
    expect(variance).toBeCloseTo((2 * alpha) / (1 - alpha) ** 2, 0)
    expect(countNoise(key, 'DE', 'visitors', 1)).toBe(countNoise(key, 'DE', 'visitors', 1))
  })

  it('noised numbers differ from the true ones, asked twice give the same bytes, and single exports agree with the zip', async () => {
    const exact = unzipSync(new Uint8Array((await exportOf(EXACT, `${range}&format=zip`)).rawPayload))
    const first = await exportOf(NOISY, `${range}&format=zip`)
    expect(first.statusCode).toBe(200)
    expect(first.headers['x-analytics-noise-epsilon']).toBe('1')
    const second = await exportOf(NOISY, `${range}&format=zip`)
    expect(Buffer.compare(first.rawPayload, second.rawPayload)).toBe(0)
    const noisy = unzipSync(new Uint8Array(first.rawPayload))
    let differs = 0
    let compared = 0
    for (const name of Object.keys(exact)) {
      const e = parseCsv(Buffer.from(exact[name]).toString('utf8'))
      const n = parseCsv(Buffer.from(noisy[name]).toString('utf8'))
      expect(n.header).toEqual(e.header)
      // k is applied to the true counts: the same rows are published (possibly in another order)
      const key = (r: Record<string, string>) => (name === 'visitors.csv' ? r.date : JSON.stringify(e.header.slice(0, e.header.indexOf('visitors')).map((h) => r[h])))
      const byKey = new Map(n.rows.map((r) => [key(r), r]))
      expect(n.rows.map(key).sort()).toEqual(e.rows.map(key).sort())
      for (const r of e.rows) {
        for (const count of ['visitors', 'visits', 'pageviews', 'events']) {
          if (r[count] === '') continue
          compared++
          const noised = byKey.get(key(r))![count]
          expect(Number(noised)).toBeGreaterThanOrEqual(0)
          if (noised !== r[count]) differs++
        }
      }
    }
    expect(compared).toBeGreaterThan(20)
    expect(differs).toBeGreaterThan(0)
    // pages count pageviews, not events: a zero of the question's shape, not of data, stays 0
    for (const r of parseCsv(Buffer.from(noisy['pages.csv']).toString('utf8')).rows) expect(r.events).toBe('0')

    // a single export of a table in the zip carries the very same noise (and is free: the same numbers)
    const countries = await exportOf(NOISY, `${range}&property=country&format=csv`)
    expect(countries.body).toBe(Buffer.from(noisy['countries.csv']).toString('utf8'))
    const asJson = (await exportOf(NOISY, `${range}&property=country&format=json`)).body.trim().split('\n').map((l) => JSON.parse(l))
    expect(asJson.map((r) => String(r.visitors))).toEqual(parseCsv(countries.body).rows.map((r) => r.visitors))
  })

  it(`refuses the ${EXPORTS_PER_MONTH + 1}th distinct export of a month's data; a repeat stays free`, async () => {
    // a month of its own, so the exports above do not count here
    const q = 'period=custom&from=2025-01-10&to=2025-01-12'
    const properties = ['country', 'source', 'page', 'browser', 'os', 'device', 'screen', 'entry_page', 'exit_page', 'channel', 'city']
    for (const [i, property] of properties.entries()) {
      const res = await exportOf(NOISY, `${q}&property=${property}&format=${i % 2 ? 'json' : 'csv'}`)
      if (i < EXPORTS_PER_MONTH) {
        expect(res.statusCode, property).toBe(200)
        // the same question again, in another format: the same answer, no charge
        expect((await exportOf(NOISY, `${q}&property=${property}&format=parquet`)).statusCode).toBe(200)
      } else {
        expect(res.statusCode).toBe(403)
        expect(res.json()).toMatchObject({
          error: expect.stringContaining('budget of 2025-01 is spent'),
          budget: { month: '2025-01', spent_epsilon: 10, budget_epsilon: 10, exports_per_month: EXPORTS_PER_MONTH },
        })
      }
    }
    expect((await exportOf(NOISY, `${q}&property=country&format=csv`)).statusCode).toBe(200)
    // a range that reaches into the spent month is refused too; another month is not
    expect((await exportOf(NOISY, 'period=custom&from=2024-12-30&to=2025-01-02&property=country')).statusCode).toBe(403)
    expect((await exportOf(NOISY, 'period=custom&from=2025-02-01&to=2025-02-02&property=country')).statusCode).toBe(200)
    // an exact policy keeps no ledger
    for (let i = 0; i < EXPORTS_PER_MONTH + 2; i++) expect((await exportOf(EXACT, `${q}&property=country&filters=page~${i}`)).statusCode).toBe(200)
    const ledger = await rows<{ month: string; n: number }>(app, 'SELECT month, count() AS n FROM export_budget FINAL WHERE site = {site:String} GROUP BY month ORDER BY month', { site: NOISY })
    expect(ledger.find((r) => r.month === '2025-01')?.n).toBe(EXPORTS_PER_MONTH)
    expect(await rows(app, 'SELECT * FROM export_budget WHERE site = {site:String}', { site: EXACT })).toEqual([])
  })

  it('the noise keys and the ledger pass the privacy audit', async () => {
    const report = await auditStore(app.runtime.store.client, app.runtime.policy)
    expect(report.findings.filter((f) => f.where.startsWith('export_'))).toEqual([])
    expect(await rows(app, 'SELECT site FROM export_noise_keys')).toEqual([{ site: NOISY }])
  })

  it('monthsCovered lists every calendar month of a range', () => {
    expect(monthsCovered('2024-11-30', '2025-02-01')).toEqual(['2024-11', '2024-12', '2025-01', '2025-02'])
    expect(monthsCovered('2025-01-10', '2025-01-12')).toEqual(['2025-01'])
  })
})

describe('formula injection in exports (OWASP CSV injection)', () => {
  // unauthenticated text as a spreadsheet would run it: every cell a formula, a DDE call, a tab or a carriage return
  const EVIL = {
    event: '=HYPERLINK("https://evil.example/","click")',
    utm_source: "=cmd|' /C calc'!A0",
    utm_medium: '+SUM(1,2)',
    utm_campaign: '-2+3',
    utm_content: '@SUM(1)',
    utm_term: '\tTAB',
    source: '\rCR',
  } as const
  // 40 days before the other tests' day: none of their numbers moves, nor their month's export budget
  const evilStart = dayStart - 40 * 86_400_000
  const evilDay = utcDay(evilStart)
  const evilRange = `period=custom&from=${evilDay}&to=${evilDay}`
  const { event, ...utm } = EVIL

  beforeAll(async () => {
    const ts = (i: number, s: number) => evilStart + 3_600_000 + i * 60_000 + s * 1000
    // as many visitors again with plain values, each from a network of its own: no row is withheld or folded
    const plain = Object.fromEntries(Object.keys(utm).map((k) => [k, 'plain']))
    await insertEvents(app.runtime.store.client, Array.from({ length: 40 }, (_, i) => [
      eventRow(EXACT, 5000 + i, ts(i, 0), '/landing', { ...(i < 20 ? utm : plain), network_id: 5000 + i }),
      eventRow(EXACT, 5000 + i, ts(i, 10), '/landing', { name: i < 20 ? event : 'Plain', network_id: 5000 + i }),
    ]).flat())
    await settle(app)
  })

  it('CSV and zip cells that could start a formula get a leading quote; JSON and Parquet stay raw', async () => {
    const zip = unzipSync(new Uint8Array((await exportOf(EXACT, `${evilRange}&format=zip`)).rawPayload))
    const files: Record<keyof typeof EVIL, string> = {
      event: 'custom_events.csv', utm_source: 'utm_sources.csv', utm_medium: 'utm_mediums.csv', utm_campaign: 'utm_campaigns.csv',
      utm_content: 'utm_contents.csv', utm_term: 'utm_terms.csv', source: 'sources.csv',
    }
    for (const [property, raw] of Object.entries(EVIL) as [keyof typeof EVIL, string][]) {
      const csv = await exportOf(EXACT, `${evilRange}&property=${property}&format=csv`)
      expect(csv.statusCode).toBe(200)
      const cells = parseCsv(csv.body).rows.map((r) => r[property])
      expect(cells, property).toContain(`'${raw}`)
      expect(cells, property).not.toContain(raw)
      expect(parseCsv(Buffer.from(zip[files[property]]).toString('utf8')).rows.map((r) => r[property]), files[property]).toContain(`'${raw}`)

      const json = (await exportOf(EXACT, `${evilRange}&property=${property}&format=json`)).body.trim().split('\n').map((l) => JSON.parse(l))
      expect(json.map((r) => r[property]), property).toContain(raw)
      const parquet = await readParquet((await exportOf(EXACT, `${evilRange}&property=${property}&format=parquet`)).rawPayload)
      expect(parquet.rows.map((r) => r[property]), property).toContain(raw)
    }
    // ordinary text and the numbers are untouched
    const sources = parseCsv((await exportOf(EXACT, `${evilRange}&property=utm_source&format=csv`)).body).rows
    expect(sources.find((r) => r.utm_source === 'plain')?.visitors).toMatch(/^\d+$/)
  })
})
