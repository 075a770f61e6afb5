import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import YAML from 'yaml'
import type { Disclosure } from '../../policy/describe.ts'
import { loadPolicy } from '../../policy/policy.ts'
import { testApp } from '../helpers/app.ts'

// One app per test file (chDB: one store per process); this file runs the university policy.
const UNIVERSITY = fileURLToPath(new URL('../../policies/example-university.yaml', import.meta.url))
const yamlText = fs.readFileSync(UNIVERSITY, 'utf8')
// The reference policy lives outside the repository; its verbatim check runs where it is present.
const REFERENCE = process.env.REFERENCE_POLICY ?? '/work/shared/reference/example-privacy-policy.txt'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp({ policyFile: UNIVERSITY }, ['example.com', 'scpd.example.edu'])
})
afterAll(async () => {
  await app?.close()
})

async function disclosure(query = ''): Promise<Disclosure> {
  const res = await app.inject({ method: 'GET', url: `/privacy.json${query}` })
  expect(res.statusCode).toBe(200)
  return res.json() as Disclosure
}

/** The text of the YAML comments, one string, line breaks and `#` continuations joined. */
function commentText(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.includes('#'))
    .map((line) => line.slice(line.indexOf('#') + 1).trim())
    .join(' ')
}

describe('policies/example-university.yaml', () => {
  it('loads with loadPolicy', () => {
    const policy = loadPolicy(UNIVERSITY)
    const site = policy.forSite('any.example')
    expect(site).toMatchObject({
      dnt: 'ignore',
      gpc: 'count_without_hash',
      lastVisitDay: true,
      geoPrecision: 'city',
      minVisitors: { dashboard: 5, shared: 10, export: 10 },
      rawEventsDays: 90,
      aggregatesDays: 760,
    })
    expect(site.dimensions.has('network')).toBe(true)
    expect(policy.forSite('scpd.example.edu').excludedPath('/registration/course-101')).toBe(true)
    expect(site.excludedPath('/registration/course-101')).toBe(false)
  })

  it('quotes the reference policy in its comments', () => {
    const comments = commentText(yamlText)
    expect(comments).toContain('We do not use technology that recognizes a "do-not-track" signal')
    expect(comments).toContain('in aggregate form')
    expect(comments).toContain('aggregated information that does not personally identify you')
    expect(comments).toContain('operating system and browser software')
    expect(comments).toContain('information from the URLs from which you linked to our Site')
    expect(comments).toContain("a user's Internet Service Provider")
    expect(comments).toContain('determine and identify repeat visitors')
    expect(comments).toMatch(/Global Privacy Control/)
  })

  it('has a comment for every key it sets', () => {
    const lines = yamlText.split('\n')
    lines.forEach((line, i) => {
      const key = /^\s*([a-z_]+):/.exec(line)?.[1]
      if (!key || ['version', 'name', 'description', 'defaults', 'sites', 'events', 'ip', 'visitor_hash', 'consent', 'retention', 'min_visitors', 'noise', 'dimensions'].includes(key)) return
      const commented = line.includes('#') || lines[i - 1]?.trim().startsWith('#')
      expect(commented, `${key} (line ${i + 1})`).toBe(true)
    })
    // Each dimension has its quote too.
    const dims = (YAML.parse(yamlText) as { defaults: { dimensions: string[] } }).defaults.dimensions
    for (const dim of dims) expect(commentText(yamlText), dim).toMatch(new RegExp(`\\b${dim}\\b.*“`))
  })

  it.skipIf(!fs.existsSync(REFERENCE))('quotes the reference verbatim', () => {
    const reference = fs.readFileSync(REFERENCE, 'utf8').replace(/\s+/g, ' ')
    const quotes = [...commentText(yamlText).matchAll(/“([^”]+)”/g)].map((m) => m[1].replace(/\s+/g, ' '))
    expect(quotes.length).toBeGreaterThan(20)
    for (const quote of quotes) expect(reference, quote).toContain(quote)
  })
})

describe('GET /privacy.json (university policy)', () => {
  it('reflects the policy values', async () => {
    const d = await disclosure()
    expect(d.policy.name).toBe('University site (SCPD-style policy)')
    expect(d.rules).toBe('defaults')
    expect(d.consent.dnt.stance).toBe('ignore')
    expect(d.consent.gpc.stance).toBe('count_without_hash')
    expect(d.minVisitors).toMatchObject({ dashboard: 5, shared: 10, export: 10 })
    expect(d.retention).toMatchObject({ rawEventsDays: 90, aggregatesDays: 760 })
    expect(d.collected.lastVisitDay).toBe(true)
    expect(d.collected.geography).toMatchObject({ precision: 'city', truncateIp: true })
    expect(d.collected.dimensions.map((x) => x.name)).toEqual(
      expect.arrayContaining(['path', 'referrer_host', 'browser', 'os', 'country', 'region', 'city', 'network']),
    )
    expect(d.collected.dimensions.find((x) => x.name === 'network')?.text).toBe('Network (ISP / organisation, from the IP address)')
    expect(d.optOut.join('\n')).not.toMatch(/Do Not Track/)
    expect(d.optOut.join('\n')).toMatch(/Global Privacy Control/)
  })

  it('shows the per-site section for scpd.example.edu', async () => {
    const d = await disclosure('?site=scpd.example.edu')
    expect(d.site).toBe('scpd.example.edu')
    expect(d.rules).toBe('site')
    expect(d.excludedPaths).toEqual(['/registration/*', '/account/*'])
    expect(d.consent.dnt.stance).toBe('ignore')
    expect((await disclosure('?site=example.com')).excludedPaths).toEqual([])
  })
})

describe('GET /privacy (university policy)', () => {
  it('is HTML with the CSP and mentions k, retention and the DNT stance', async () => {
    const res = await app.inject({ method: 'GET', url: '/privacy?site=scpd.example.edu' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
    expect(res.body).toContain('10 visitors')
    expect(res.body).toContain('90 days')
    expect(res.body).toContain('760 days')
    expect(res.body).toContain('is not acted upon')
    expect(res.body).toContain('Network (ISP / organisation, from the IP address)')
    expect(res.body).toContain('<code>/registration/*</code>')
    expect(res.body).toContain('scpd.example.edu')
  })

  it('does not reflect a script given as the site', async () => {
    const res = await app.inject({ method: 'GET', url: `/privacy?site=${encodeURIComponent('<script>alert(1)</script>')}` })
    expect(res.body).not.toContain('<script')
  })
})
