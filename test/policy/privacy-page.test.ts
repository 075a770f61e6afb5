import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import Value from 'typebox/value'
import YAML from 'yaml'
import { escapeHtml, renderDisclosureHtml } from '../../policy/privacy-page.ts'
import { DIMENSION_LABELS, DisclosureSchema, describePolicy, type Disclosure } from '../../policy/describe.ts'
import { buildPolicy } from '../../policy/policy.ts'
import { DIMENSIONS } from '../../policy/schema.ts'
import { testApp } from '../helpers/app.ts'

// One app per test file (chDB: one store per process); this file runs the strict default policy.
const STRICT = fileURLToPath(new URL('../../policies/strict.yaml', import.meta.url))
const strictSource = YAML.parse(fs.readFileSync(STRICT, 'utf8')) as { defaults: { dimensions: string[] } }

const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
const XSS = '<script>alert(1)</script>'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp()
})
afterAll(async () => {
  await app?.close()
})

async function disclosure(query = ''): Promise<Disclosure> {
  const res = await app.inject({ method: 'GET', url: `/privacy.json${query}` })
  expect(res.statusCode).toBe(200)
  return res.json() as Disclosure
}

describe('GET /privacy.json (strict policy)', () => {
  it('reflects the policy values', async () => {
    const d = await disclosure()
    expect(Value.Check(DisclosureSchema, d)).toBe(true)
    expect(d.policy.name).toBe('Strict default')
    expect(d.site).toBeNull()
    expect(d.rules).toBe('defaults')
    expect(d.consent.dnt.stance).toBe('drop')
    expect(d.consent.gpc.stance).toBe('drop')
    expect(d.consent.dnt.text).toMatch(/not recorded at all/)
    expect(d.minVisitors).toMatchObject({ dashboard: 5, shared: 5, export: 5 })
    expect(d.retention).toMatchObject({ rawEventsDays: 30, aggregatesDays: 760 })
    expect(d.visitorHash).toMatchObject({ saltPeriodHours: 24, persistSalt: false })
    expect(d.collected.dimensions.map((x) => x.name)).toEqual(strictSource.defaults.dimensions)
    expect(d.collected.events.map((x) => x.name)).toEqual(['pageview', 'engagement', 'outbound', 'download', 'click', 'custom'])
    expect(d.collected.queryParams).toEqual(['utm_*', 'ref', 'source'])
    expect(d.collected.lastVisitDay).toBe(false)
    expect(d.collected.geography).toMatchObject({ precision: 'city', truncateIp: false })
    expect(d.bots.drop).toBe(true)
    expect(d.excludedPaths).toEqual([])
    expect(d.visitTimeoutMinutes).toBe(30)
  })

  it('names what is never collected and how to opt out', async () => {
    const d = await disclosure()
    const never = d.neverCollected.join('\n')
    expect(never).toMatch(/IP address\. It is used only in memory/)
    expect(never).toMatch(/User-Agent/)
    expect(never).toMatch(/Cookies/)
    expect(never).toMatch(/query string/)
    expect(never).toMatch(/\[email\]/)
    const optOut = d.optOut.join('\n')
    expect(optOut).toMatch(/localStorage\.analytics_ignore/)
    expect(optOut).toMatch(/Do Not Track/)
    expect(optOut).toMatch(/Global Privacy Control/)
  })

  it('describes the opt-out the tracker really honours', () => {
    const tracker = fs.readFileSync(new URL('../../collector/tracker/tracker.js', import.meta.url), 'utf8')
    expect(tracker).toMatch(/localStorage\.analytics_ignore\s*==+\s*'true'/)
  })

  it('shows a site by its normalised name; a site without a section gets the defaults', async () => {
    const d = await disclosure('?site=WWW.Example.COM')
    expect(d.site).toBe('example.com')
    expect(d.rules).toBe('defaults')
    expect(d.minVisitors.dashboard).toBe(5)
  })

  it('answers 400 for a site that is not a host name, without reflecting it', async () => {
    const res = await app.inject({ method: 'GET', url: `/privacy.json?site=${encodeURIComponent(XSS)}` })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: 'site must be a host name such as example.com' })
    expect(res.body).not.toContain('<script')
  })

  it('reads the active policy on every request (a reload shows at once)', async () => {
    const before = app.runtime.policy
    try {
      app.runtime.policy = buildPolicy({
        version: 1,
        name: 'Reloaded',
        defaults: { min_visitors: { dashboard: 42 } },
        sites: { 'example.com': { consent: { dnt: 'ignore' }, exclude_paths: ['/admin/*'] } },
      })
      const d = await disclosure('?site=example.com')
      expect(d.policy.name).toBe('Reloaded')
      expect(d.rules).toBe('site')
      expect(d.minVisitors.dashboard).toBe(42)
      expect(d.consent.dnt.stance).toBe('ignore')
      expect(d.excludedPaths).toEqual(['/admin/*'])
      const html = await app.inject({ method: 'GET', url: '/privacy' })
      expect(html.body).toContain('42 visitors')
    } finally {
      app.runtime.policy = before
    }
    expect((await disclosure()).policy.name).toBe('Strict default')
  })
})

describe('GET /privacy (strict policy)', () => {
  it('is a self-contained HTML page with the security headers', async () => {
    const res = await app.inject({ method: 'GET', url: '/privacy' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.headers['content-security-policy']).toBe(CSP)
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    expect(res.body).toMatch(/^<!doctype html>\n<html lang="en">/)
    expect(res.body).toContain('<h1>Analytics and your privacy</h1>')
    expect(res.body).toContain('prefers-color-scheme: dark')
    // Nothing to load: no script, no stylesheet link, no image, no external URL.
    expect(res.body).not.toMatch(/<script|<link|<img|src=|https?:\/\//i)
  })

  it('mentions k, the retention days and the consent stance', async () => {
    const { body } = await app.inject({ method: 'GET', url: '/privacy' })
    expect(body).toContain('5 visitors')
    expect(body).toContain('30 days')
    expect(body).toContain('760 days')
    expect(body).toContain('Do Not Track')
    expect(body).toContain('not recorded at all')
    expect(body).toContain(escapeHtml(DIMENSION_LABELS.city))
  })

  it('does not reflect a script given as the site', async () => {
    for (const url of [`/privacy?site=${encodeURIComponent(XSS)}`, `/privacy?site=${XSS}`, `/privacy?site=a.com${encodeURIComponent('"><script>alert(1)</script>')}`]) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBeLessThan(500)
      expect(res.body, url).not.toContain('<script')
      expect(res.body, url).not.toContain('alert(1)')
      if (res.statusCode === 400 && String(res.headers['content-type']).startsWith('text/html')) expect(res.headers['content-security-policy']).toBe(CSP)
    }
  })
})

describe('renderDisclosureHtml', () => {
  it('escapes every string that comes from the policy file', () => {
    const policy = buildPolicy({
      version: 1,
      name: '<script>alert("name")</script>',
      description: '<img src=x onerror=alert(1)> & "quoted"',
      defaults: {
        props: ['<b>plan</b>'],
        query_params: ['<i>utm_*</i>'],
        exclude_paths: ['/"><script>alert(2)</script>'],
        events: { custom_names: ['<svg onload=alert(3)>'] },
      },
    })
    const html = renderDisclosureHtml(describePolicy(policy, 'example.com'))
    expect(html).not.toMatch(/<script|<img|<svg|<b>|<i>/)
    expect(html).toContain('&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;')
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;')
    expect(html).toContain('/&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;')
  })
})

describe('describePolicy', () => {
  it('fills the pattern lists a file leaves out exactly as buildPolicy does', () => {
    const bare = buildPolicy({ version: 1 })
    const p = bare.forSite('example.com')
    expect(p.patterns.customNames).toEqual(['*'])
    expect(p.customName('anything at all')).toBe(true)
    expect(p.patterns.props).toEqual(['*'])
    expect(p.prop('anything')).toBe(true)
    for (const k of p.patterns.queryParams) expect(p.queryParam(k.replace('*', 'source')), k).toBe(true)
    for (const k of ['gclid', 'q', 'email']) expect(p.queryParam(k), k).toBe(false)
    expect(p.patterns.excludePaths).toEqual([])
    expect(p.excludedPath('/')).toBe(false)
    const d = describePolicy(bare, null)
    expect(d.collected.queryParams).toEqual(['utm_*', 'ref', 'source'])
    expect(d.collected.props).toEqual(['*'])
    expect(d.collected.dimensions.map((x) => x.name)).toEqual([...p.dimensions])
  })

  it('merges a site section over the defaults as buildPolicy does', () => {
    const policy = buildPolicy({
      version: 1,
      defaults: { props: ['plan'], events: { custom_names: ['Signup'] }, exclude_paths: ['/a/*'] },
      sites: { 'Shop.Example': { events: { kinds: ['pageview', 'custom'] }, exclude_paths: ['/checkout/*'] } },
    })
    const site = describePolicy(policy, 'shop.example')
    expect(site.rules).toBe('site')
    expect(site.collected.events.map((e) => e.name)).toEqual(['pageview', 'custom'])
    expect(site.collected.customEventNames).toEqual(['Signup'])
    expect(site.collected.props).toEqual(['plan'])
    expect(site.excludedPaths).toEqual(['/checkout/*'])
    const other = describePolicy(policy, 'other.example')
    expect(other.rules).toBe('defaults')
    expect(other.excludedPaths).toEqual(['/a/*'])
  })

  it('lists only the geography the precision allows, and labels every dimension', () => {
    const policy = buildPolicy({ version: 1, defaults: { ip: { geo_precision: 'country' } } })
    const names = describePolicy(policy, null).collected.dimensions.map((x) => x.name)
    expect(names).toContain('country')
    expect(names).not.toContain('region')
    expect(names).not.toContain('city')
    expect(describePolicy(policy, null).collected.geography.text).toMatch(/^Only the country is looked up from your IP address/)
    const withNetwork = buildPolicy({ version: 1, defaults: { dimensions: ['path', 'network'], ip: { geo_precision: 'none', truncate: true } } })
    expect(describePolicy(withNetwork, null).collected.geography.text).toMatch(/^Only the network \(the ISP or organisation that owns the address\) is looked up from a shortened IP address/)
    for (const dim of DIMENSIONS) expect(DIMENSION_LABELS[dim], dim).toBeTruthy()
    expect(DIMENSION_LABELS.network).toBe('Network (ISP / organisation, from the IP address)')
  })

  it('puts no stance it ignores among the ways to opt out', () => {
    const policy = buildPolicy({ version: 1, defaults: { consent: { dnt: 'ignore', gpc: 'count_without_hash' } } })
    const d = describePolicy(policy, null)
    expect(d.optOut.join('\n')).not.toMatch(/Do Not Track/)
    expect(d.optOut.join('\n')).toMatch(/Global Privacy Control in your browser: your page views are then counted without a visitor hash/)
    expect(d.consent.dnt.text).toMatch(/not acted upon/)
  })
})
