/**
 * `scrub.patterns` in the policy file (issue 18, point 4): a site's own identifiers, validated
 * at load as linear-time RE2, scrubbed after the catalogue, and listed with every built-in kind
 * on the disclosure page.
 */
import { describe, expect, it } from 'vitest'
import { CATALOGUE, scrubIdentifiers } from '../../identifiers/catalogue.ts'
import { MAX_PROGRAM_SIZE, sitePatternProblem } from '../../identifiers/site-patterns.ts'
import { describePolicy } from '../../policy/describe.ts'
import { buildPolicy, PolicyError } from '../../policy/policy.ts'
import { escapeHtml, renderDisclosureHtml } from '../../policy/privacy-page.ts'

const CUSTOMER = { name: 'customer-number', pattern: 'CUST-[0-9]{6}', label: 'Customer numbers' }
const withPatterns = (patterns: unknown, where: 'defaults' | 'site' = 'defaults') =>
  buildPolicy(where === 'defaults' ? { version: 1, defaults: { scrub: { patterns } } } : { version: 1, sites: { 'shop.example.com': { scrub: { patterns } } } }, 'p.yaml')

describe('scrub.patterns', () => {
  it('compiles into the site rules, after the defaults merge', () => {
    const policy = buildPolicy({ version: 1, defaults: { scrub: { patterns: [CUSTOMER] } }, sites: { 'shop.example.com': { scrub: { patterns: [] } } } })
    const [own] = policy.forSite('example.com').scrub
    expect(own).toMatchObject({ id: 'customer-number', placeholder: '[customer-number]', label: 'Customer numbers' })
    expect(own.scrub('/a/CUST-123456/b CUST-654321')).toBe('/a/[customer-number]/b [customer-number]')
    expect(policy.forSite('shop.example.com').scrub).toEqual([])
    expect(buildPolicy({ version: 1 }).forSite('example.com').scrub).toEqual([])
  })

  it('run after the catalogue: a built-in kind keeps its own placeholder', () => {
    const site = withPatterns([{ name: 'digits', pattern: '[0-9]{4}' }]).forSite('x').scrub
    expect(scrubIdentifiers('card 4111 1111 1111 1111, room 1234', site)).toBe('card [card], room [digits]')
  })

  it.each([
    ['(a)\\1', /not an RE2 pattern.*no back-references/],
    ['(?=x)y', /not an RE2 pattern/],
    ['(?<=x)y', /not an RE2 pattern/],
    ['(?<!x)y', /not an RE2 pattern/],
    ['[a-', /not an RE2 pattern/],
    ['x*', /matches the empty text/],
    ['[a-z]{900}[0-9]{900}[a-f]{900}', /compiles too large/],
    ['(?:[a-z]{1000}){3}', /invalid repeat count/],
  ])('refuses %j at load, naming the entry', (pattern, problem) => {
    expect(() => withPatterns([{ name: 'x', pattern }])).toThrow(PolicyError)
    expect(() => withPatterns([{ name: 'x', pattern }])).toThrow(/^policy p\.yaml: defaults\.scrub\.patterns\.0\.pattern /)
    expect(() => withPatterns([{ name: 'x', pattern }])).toThrow(problem)
    expect(() => withPatterns([CUSTOMER, { name: 'x', pattern }], 'site')).toThrow(/sites\.shop\.example\.com\.scrub\.patterns\.1\.pattern/)
  })

  it.each([
    [{ name: 'Customer Number', pattern: 'x' }, /scrub\/patterns\/0\/name|scrub\.patterns\.0\.name/],
    [{ name: 'c', pattern: '' }, /scrub\.patterns\.0\.pattern/],
    [{ name: 'c', pattern: 'x', flags: 'i' }, /unknown key/],
  ])('refuses a malformed entry %j', (entry, message) => {
    expect(() => withPatterns([entry])).toThrow(message)
  })

  it('accepts what RE2 runs in linear time, even a pattern that backtracks exponentially elsewhere', () => {
    expect(sitePatternProblem('(?i)cust-[0-9]{6}')).toBeNull()
    expect(sitePatternProblem('(a+)+$')).toBeNull()
    const [p] = withPatterns([{ name: 'nested', pattern: '(a+)+$' }]).forSite('x').scrub
    const text = 'a'.repeat(20_000) + '!'
    const t = performance.now()
    expect(p.scrub(text)).toBe(text)
    // JavaScript's own engine would not finish this within the test's life
    expect(performance.now() - t).toBeLessThan(2000)
    expect(MAX_PROGRAM_SIZE).toBeGreaterThan(1000)
  })
})

describe('the disclosure lists the kinds scrubbed', () => {
  const policy = buildPolicy({ version: 1, sites: { 'shop.example.com': { scrub: { patterns: [CUSTOMER] } } } })

  it('every kind of the catalogue, and a site\'s own patterns for that site only', () => {
    const site = describePolicy(policy, 'shop.example.com')
    expect(site.scrubbed.map((k) => k.kind)).toEqual([...CATALOGUE.map((k) => k.id), 'customer-number'])
    expect(site.scrubbed.at(-1)).toEqual({ kind: 'customer-number', placeholder: '[customer-number]', text: 'Customer numbers' })
    expect(describePolicy(policy, null).scrubbed.map((k) => k.kind)).toEqual(CATALOGUE.map((k) => k.id))
  })

  it('on the page, with their placeholders', () => {
    const html = renderDisclosureHtml(describePolicy(policy, 'shop.example.com'))
    expect(html).toContain('Identifiers removed from text')
    for (const kind of CATALOGUE) expect(html).toContain(escapeHtml(kind.label))
    expect(html).toContain('[iban]')
    expect(html).toContain('Customer numbers')
  })
})
