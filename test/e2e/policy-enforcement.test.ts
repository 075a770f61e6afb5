import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { DOC_IPS, UA, beacon, flush, rows, tempDataDir, testApp } from '../helpers/app.ts'

// Each site below changes one policy key against the strict defaults.
const POLICY = `
version: 1
name: enforcement test
sites:
  dims.example.com:
    dimensions: [path, browser, os, country]
  country.example.com:
    ip: { geo_precision: country }
  kinds.example.com:
    events: { kinds: [pageview], custom_names: [] }
  custom.example.com:
    events: { custom_names: ["Signup", "Download *"] }
    props: [plan]
  consent.example.com:
    consent: { dnt: count_without_hash, gpc: drop }
  ignore.example.com:
    consent: { dnt: ignore, gpc: ignore }
  noquery.example.com:
    query_params: []
  lastvisit.example.com:
    last_visit_day: true
  excluded.example.com:
    exclude_paths: ["/kids/*", "/private"]
  bots.example.com:
    bots: keep
  network.example.com:
    dimensions: [path, country, network]
  truncate.example.com:
    ip: { truncate: true, geo_precision: city }
`
const SITES = ['strict.example.com', ...POLICY.matchAll(/^  ([a-z.]+):$/gm)].map((m) => (typeof m === 'string' ? m : m[1]))

let app: FastifyInstance
beforeAll(async () => {
  const file = path.join(tempDataDir(), 'policy.yaml')
  fs.writeFileSync(file, POLICY)
  app = await testApp({ policyFile: file }, SITES)
})
afterAll(async () => {
  await app?.close()
})

const send = (site: string, body: Record<string, unknown> = {}, opts: Parameters<typeof beacon>[2] = {}) =>
  beacon(app, { n: 'pageview', u: `https://${site}/page?utm_source=news&ref=partner`, d: site, r: 'https://www.bing.com/', w: 400, ...body }, { ip: '81.2.69.160', ua: UA.iphone, ...opts })

const stored = async (site: string) => {
  await flush(app)
  return rows<Record<string, string | number>>(app, 'SELECT * EXCEPT ts FROM events WHERE site = {site:String} ORDER BY ts', { site })
}

describe('policy keys change what is stored', () => {
  it('dimensions: a dimension not allowed leaves its column empty', async () => {
    await send('dims.example.com')
    const [r] = await stored('dims.example.com')
    expect(r).toMatchObject({ pathname: '/page', browser: 'Mobile Safari', os: 'iOS', country: 'GB' })
    expect(r).toMatchObject({ region: '', city: '', browser_version: '', os_version: '', device: '', screen: '', referrer_host: '', source: '', channel: '', utm_source: '' })
  })

  it('ip.geo_precision: country keeps no region or city', async () => {
    await send('country.example.com')
    const [r] = await stored('country.example.com')
    expect(r).toMatchObject({ country: 'GB', region: '', city: '' })
    await send('strict.example.com')
    const [s] = await stored('strict.example.com')
    expect(s).toMatchObject({ country: 'GB', region: 'England', city: 'London' })
  })

  it('events.kinds and custom_names: other kinds are dropped with 202', async () => {
    const out = await send('kinds.example.com', { n: 'Outbound Link: Click', p: { url: 'https://other.example.org/' } })
    expect(out.statusCode).toBe(202)
    expect(await stored('kinds.example.com')).toEqual([])
    expect((await send('custom.example.com', { n: 'Newsletter' })).statusCode).toBe(202)
    expect((await send('custom.example.com', { n: 'Download brochure', p: { plan: 'pro', colour: 'red' } })).statusCode).toBe(202)
    const r = await stored('custom.example.com')
    expect(r.map((x) => x.name)).toEqual(['Download brochure'])
    expect(r[0].props).toEqual({ plan: 'pro' })
  })

  it('consent: DNT counted without a visitor hash, GPC dropped, or both ignored', async () => {
    await send('consent.example.com', {}, { headers: { dnt: '1' } })
    expect((await send('consent.example.com', {}, { headers: { 'sec-gpc': '1' } })).statusCode).toBe(202)
    const r = await stored('consent.example.com')
    expect(r).toHaveLength(1)
    expect(r[0].visitor_id).toBe(0)
    expect((await send('strict.example.com', { u: 'https://strict.example.com/dnt' }, { headers: { dnt: '1' } })).statusCode).toBe(202)
    expect((await stored('strict.example.com')).map((x) => x.pathname)).not.toContain('/dnt')
    await send('ignore.example.com', {}, { headers: { dnt: '1', 'sec-gpc': '1' } })
    const [i] = await stored('ignore.example.com')
    expect(Number(i.visitor_id)).toBeGreaterThan(0)
  })

  it('query_params: none kept means no UTM tags and no ref', async () => {
    await send('noquery.example.com')
    const [r] = await stored('noquery.example.com')
    expect(r).toMatchObject({ utm_source: '', query: '', source: 'Bing' })
    const [s] = await stored('strict.example.com')
    expect(s).toMatchObject({ utm_source: 'news', query: 'ref=partner' })
  })

  it('last_visit_day: only allowed sites store new/returning, and only they tell the tracker to keep the day', async () => {
    const allowed = await send('lastvisit.example.com', { v: 1 })
    expect(allowed.json()).toEqual({ ok: true, lv: true })
    const strict = await send('strict.example.com', { v: 1, u: 'https://strict.example.com/again' })
    expect(strict.json()).toEqual({ ok: true })
    const [r] = await stored('lastvisit.example.com')
    expect(r.returning).toBe(1)
    const s = await stored('strict.example.com')
    expect(s.at(-1)!.returning).toBe(2)
  })

  it('exclude_paths: a section is dropped, its neighbours kept', async () => {
    expect((await send('excluded.example.com', { u: 'https://excluded.example.com/kids/games' })).statusCode).toBe(202)
    expect((await send('excluded.example.com', { u: 'https://excluded.example.com/private/' })).statusCode).toBe(202)
    await send('excluded.example.com', { u: 'https://excluded.example.com/kidswear' })
    expect((await stored('excluded.example.com')).map((r) => r.pathname)).toEqual(['/kidswear'])
  })

  it('bots: keep stores crawlers, drop (the default) does not', async () => {
    await send('bots.example.com', {}, { ua: UA.googlebot })
    expect(await stored('bots.example.com')).toHaveLength(1)
    expect((await send('strict.example.com', { u: 'https://strict.example.com/crawled' }, { ua: UA.googlebot })).statusCode).toBe(202)
    expect((await stored('strict.example.com')).map((x) => x.pathname)).not.toContain('/crawled')
  })

  it('network: the ISP / organisation where allowed (a real public IP proves the lookup)', async () => {
    await send('network.example.com', {}, { ip: '8.8.8.8' })
    const [r] = await stored('network.example.com')
    expect(r.network).toBe('Google LLC')
    const [s] = await stored('strict.example.com')
    expect(s.network).toBe('')
  })

  it('ip.truncate: the lookup sees the /24 only, and documentation addresses locate nowhere', async () => {
    await send('truncate.example.com', {}, { ip: '81.2.69.160' })
    await send('truncate.example.com', { u: 'https://truncate.example.com/doc' }, { ip: DOC_IPS[2] })
    const r = await stored('truncate.example.com')
    expect(r[0].country).toBe('GB')
    expect(r[1]).toMatchObject({ country: '', region: '', city: '' })
  })
})
