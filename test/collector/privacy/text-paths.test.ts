/**
 * Everywhere text enters (issue 18, point 2): a value of every kind of the catalogue, planted in
 * each text a beacon carries, never reaches the row the pipeline writes; and a site's own
 * `scrub.patterns` apply on the same paths.
 */
import { describe, expect, it } from 'vitest'
import { runPipeline } from '../../../collector/pipeline/index.ts'
import { isDrop, type Drop, type EventRow } from '../../../collector/pipeline/types.ts'
import { CATALOGUE } from '../../../identifiers/catalogue.ts'
import { context, expectRow, incoming, policyWith } from '../pipeline/context.ts'
import { GENERATORS, rng, secretPart } from '../../helpers/identifier-corpus.ts'

const enc = encodeURIComponent

/** Each text path of a beacon, as a body carrying `v` there. */
const PATHS: Record<string, (v: string) => Record<string, unknown>> = {
  'page path': (v) => ({ url: `https://example.com/a/${enc(v)}/b` }),
  'page path, hash-routed': (v) => ({ url: `https://example.com/#/a/${enc(v)}`, hashMode: true }),
  'referrer path': (v) => ({ referrer: `https://ref.example.net/from/${enc(v)}` }),
  'kept query value': (v) => ({ url: `https://example.com/?ref=${enc(v)}` }),
  'kept query name': (v) => ({ url: `https://example.com/?${enc(v)}=1` }),
  'UTM value': (v) => ({ url: `https://example.com/?utm_source=${enc(v)}&utm_campaign=x%20${enc(v)}` }),
  'event name': (v) => ({ name: `Clicked ${v}` }),
  'prop key': (v) => ({ name: 'Signup', props: { [v]: 'yes' } }),
  'prop value': (v) => ({ name: 'Signup', props: { note: `from ${v} today` } }),
  'outbound URL': (v) => ({ name: 'Outbound Link: Click', props: { url: `https://other.example.org/to/${enc(v)}` } }),
  'download URL': (v) => ({ name: 'File Download', props: { url: `https://example.com/files/${enc(v)}.pdf` } }),
}

// every query parameter is kept, so that a parameter's name is a text path too
const policy = policyWith({ query_params: ['*'] })

function run(body: Record<string, unknown>, p = policy): EventRow | Drop {
  return runPipeline(incoming({ name: 'pageview', url: 'https://example.com/', domain: 'example.com', ...body }), context({ policy: p }))
}
const row = (body: Record<string, unknown>, p = policy) => expectRow(run(body, p))
/** What is stored of a beacon: its row, or nothing when it is refused (a name over 120 characters). */
const stored = (body: Record<string, unknown>, p = policy) => {
  const result = run(body, p)
  return isDrop(result) ? '' : JSON.stringify(result)
}

describe('every kind on every text path', () => {
  const r = rng(18)
  for (const kind of CATALOGUE) {
    it(`${kind.id} is scrubbed from every text path`, () => {
      for (let i = 0; i < 3; i++) {
        const value = GENERATORS[kind.id](r)
        // prop keys are cut at 64 characters before they are scrubbed: plant what fits
        for (const [path, body] of Object.entries(PATHS)) {
          if (path === 'prop key' && value.length > 60) continue
          const text = stored(body(value))
          const secret = secretPart(kind.id, value)
          expect(text.includes(secret) || text.includes(enc(secret)), `${kind.id} ${JSON.stringify(value)} survives in the ${path}`).toBe(false)
        }
      }
    })
  }

  it('ordinary values pass every text path unchanged', () => {
    const e = row({ url: 'https://example.com/blog/2026/11/29?utm_campaign=spring_sale_2026&ref=newsletter', referrer: 'https://ref.example.net/product/12345', name: 'Signup', props: { plan: 'pro', step: '3' } })
    expect(e).toMatchObject({ pathname: '/blog/2026/11/29', utm_campaign: 'spring_sale_2026', referrer_path: '/product/12345', name: 'Signup', props: { plan: 'pro', step: '3' } })
  })

  it('a referrer addressed by an IP literal keeps [ip] as its host and source', () => {
    const e = row({ referrer: 'http://203.0.113.9/intranet' })
    expect(e).toMatchObject({ referrer_host: '[ip]', source: '[ip]' })
  })
})

describe("the policy's scrub.patterns", () => {
  const own = policyWith({ scrub: { patterns: [{ name: 'customer-number', pattern: 'CUST-[0-9]{6}', label: 'Customer numbers' }] } })

  it('replace the site\'s own identifiers on the same paths, after the catalogue', () => {
    for (const [path, body] of Object.entries(PATHS)) {
      expect(stored(body('CUST-123456'), own), path).not.toContain('CUST-123456')
    }
    expect(row({ url: 'https://example.com/account/CUST-123456/orders' }, own).pathname).toBe('/account/[customer-number]/orders')
  })

  it('do nothing for a site without them', () => {
    expect(row({ url: 'https://example.com/account/CUST-123456/orders' }).pathname).toBe('/account/CUST-123456/orders')
  })
})
