import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { PolicyError, buildPolicy, globMatcher, loadPolicy } from '../../policy/policy.ts'
import { DIMENSIONS, EVENT_KINDS } from '../../policy/schema.ts'

/** The dimensions policies/strict.yaml lists. */
const STRICT_DIMENSIONS = ['path', 'referrer_host', 'referrer_path', 'source', 'channel', 'utm', 'browser', 'browser_version', 'os', 'os_version', 'device', 'screen', 'country', 'region', 'city']

const STRICT = fileURLToPath(new URL('../../policies/strict.yaml', import.meta.url))

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-test-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

function policyFile(name: string, text: string): string {
  const file = path.join(tmp, name)
  fs.writeFileSync(file, text)
  return file
}

/** The message of the PolicyError that `fn` throws. */
function policyError(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError)
    return (err as Error).message
  }
  throw new Error('expected a PolicyError')
}

describe('loadPolicy(policies/strict.yaml)', () => {
  const policy = loadPolicy(STRICT)
  const site = policy.forSite('example.com')

  it('has its name, description and file', () => {
    expect(policy.name).toBe('Strict default')
    expect(policy.description).toMatch(/Do Not Track and Global Privacy Control are honoured/)
    expect(policy.file).toBe(STRICT)
    expect(policy.source).toMatchObject({ version: 1 })
  })

  it('allows every event kind, custom name, dimension and prop', () => {
    expect([...site.kinds].sort()).toEqual([...EVENT_KINDS].sort())
    expect(site.customName('anything at all')).toBe(true)
    expect([...site.dimensions]).toEqual(STRICT_DIMENSIONS)
    expect(DIMENSIONS).toEqual(expect.arrayContaining(STRICT_DIMENSIONS))
    expect(site.prop('plan')).toBe(true)
  })

  it('keeps only utm_*, ref and source query parameters', () => {
    for (const k of ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'utm_anything', 'ref', 'source']) expect(site.queryParam(k), k).toBe(true)
    for (const k of ['q', 'session', 'email', 'referrer', 'utm', 'sources', 'gclid', 'fbclid']) expect(site.queryParam(k), k).toBe(false)
  })

  it('has the strict privacy values', () => {
    expect(site).toMatchObject({
      lastVisitDay: false,
      geoPrecision: 'city',
      truncateIp: false,
      saltPeriodHours: 24,
      persistSalt: false,
      dnt: 'drop',
      gpc: 'drop',
      dropBots: true,
      rawEventsDays: 30,
      aggregatesDays: 760,
      minVisitors: { dashboard: 5, shared: 5, export: 5 },
      minNetworks: { dashboard: 5, shared: 5, export: 5 },
      epsilon: { dashboard: null, shared: 0.5, export: 0.5 },
      exportEpsilon: 0.5,
      visitTimeoutMinutes: 30,
    })
    expect(site.excludedPath('/')).toBe(false)
    expect(site.excludedPath('/kids/games')).toBe(false)
  })

  it('applies the same defaults to any site', () => {
    expect(policy.forSite('other.example.net')).toBe(site)
  })

  it('the built-in defaults equal the strict file', () => {
    const builtIn = buildPolicy({ version: 1 }).forSite('example.com')
    const { customName: _a, prop: _b, queryParam: _c, excludedPath: _d, ...plainBuiltIn } = builtIn
    const { customName: _e, prop: _f, queryParam: _g, excludedPath: _h, ...plainStrict } = site
    expect(plainBuiltIn).toEqual(plainStrict)
  })
})

describe('loadPolicy errors', () => {
  it('names a file that cannot be read', () => {
    const missing = path.join(tmp, 'missing.yaml')
    expect(policyError(() => loadPolicy(missing))).toBe(`policy ${missing}: cannot be read (ENOENT)`)
  })

  it('names a file that is not YAML', () => {
    const file = policyFile('broken.yaml', 'version: 1\ndefaults: [unclosed\n')
    expect(policyError(() => loadPolicy(file))).toMatch(new RegExp(`^policy ${file}: not valid YAML`))
  })

  it('names the file and the key of a bad value', () => {
    const file = policyFile('bad.yaml', 'version: 1\ndefaults:\n  min_visitors:\n    export: 0\n')
    expect(policyError(() => loadPolicy(file))).toBe(`policy ${file}: defaults.min_visitors.export must be >= 1`)
  })

  it('the network rule can raise the minimum, never lower it', () => {
    const low = policyFile('low-networks.yaml', 'version: 1\ndefaults:\n  min_visitors:\n    shared: 10\n  min_networks:\n    shared: 5\n')
    expect(policyError(() => loadPolicy(low))).toContain('min_networks.shared (5) is below min_visitors.shared (10)')
    const high = loadPolicy(policyFile('high-networks.yaml', 'version: 1\ndefaults:\n  min_networks:\n    export: 8\n')).forSite('example.com')
    expect(high.minNetworks).toEqual({ dashboard: 5, shared: 5, export: 8 })
  })

  it('loads a valid file with its own name', () => {
    const file = policyFile('ok.yaml', 'version: 1\nname: Example\ndefaults:\n  consent:\n    dnt: ignore\n')
    const policy = loadPolicy(file)
    expect(policy.name).toBe('Example')
    expect(policy.forSite('example.com').dnt).toBe('ignore')
  })
})

describe('buildPolicy errors name the key', () => {
  it.each<[string, unknown, RegExp]>([
    ['min_visitors below 1', { version: 1, defaults: { min_visitors: { dashboard: 0 } } }, /defaults\.min_visitors\.dashboard must be >= 1/],
    ['an unknown key', { version: 1, defaults: { colour: 'blue' } }, /defaults .*unknown key\(s\) \["colour"\]/],
    ['an unknown top-level key', { version: 1, extra: true }, /\(top level\).*unknown key\(s\) \["extra"\]/],
    ['a wrong consent stance', { version: 1, defaults: { consent: { dnt: 'maybe' } } }, /defaults\.consent\.dnt /],
    ['a wrong geo precision in a site', { version: 1, sites: { 'example.com': { ip: { geo_precision: 'street' } } } }, /sites\.example\.com\.ip\.geo_precision /],
    ['an unknown dimension', { version: 1, defaults: { dimensions: ['path', 'ip_address'] } }, /defaults\.dimensions\.1 /],
    ['a duplicate event kind', { version: 1, defaults: { events: { kinds: ['pageview', 'pageview'] } } }, /defaults\.events\.kinds .*duplicate/],
    ['a salt period over a month', { version: 1, defaults: { visitor_hash: { salt_period_hours: 1000 } } }, /defaults\.visitor_hash\.salt_period_hours must be <= 744/],
    ['a zero noise epsilon', { version: 1, defaults: { noise: { export_epsilon: 0 } } }, /defaults\.noise\.export_epsilon must be > 0/],
    ['a wrong version', { version: 2 }, /version /],
    ['a missing version', {}, /\(top level\) must have required properties version/],
    ['not an object', 'strict', /\(top level\) must be object/],
  ])('%s', (_label, parsed, message) => {
    const text = policyError(() => buildPolicy(parsed, 'p.yaml'))
    expect(text).toMatch(/^policy p\.yaml: /)
    expect(text).toMatch(message)
  })
})

describe('per-site rules merge over defaults', () => {
  const policy = buildPolicy({
    version: 1,
    name: 'Merged',
    defaults: {
      consent: { dnt: 'ignore' },
      min_visitors: { dashboard: 10 },
      query_params: ['utm_*'],
    },
    sites: {
      'Example.com': {
        consent: { gpc: 'count_without_hash' },
        min_visitors: { export: 50 },
        dimensions: ['path', 'country'],
        events: { custom_names: ['signup*'] },
        exclude_paths: ['/kids/*'],
      },
    },
  })

  it('a site keeps what it does not override, from the defaults and then the built-in rules', () => {
    const site = policy.forSite('example.com')
    expect(site.dnt).toBe('ignore')
    expect(site.gpc).toBe('count_without_hash')
    expect(site.minVisitors).toEqual({ dashboard: 10, shared: 5, export: 50 })
    expect([...site.dimensions]).toEqual(['path', 'country'])
    expect([...site.kinds].sort()).toEqual([...EVENT_KINDS].sort())
    expect(site.customName('signup_complete')).toBe(true)
    expect(site.customName('purchase')).toBe(false)
    expect(site.queryParam('utm_source')).toBe(true)
    expect(site.queryParam('ref')).toBe(false)
    expect(site.excludedPath('/kids/games')).toBe(true)
  })

  it('other sites get the defaults only', () => {
    const other = policy.forSite('other.example.net')
    expect(other.dnt).toBe('ignore')
    expect(other.gpc).toBe('drop')
    expect(other.minVisitors).toEqual({ dashboard: 10, shared: 5, export: 5 })
    expect([...other.dimensions]).toEqual([...buildPolicy({ version: 1 }).forSite('x').dimensions])
    expect(other.customName('purchase')).toBe(true)
    expect(other.excludedPath('/kids/games')).toBe(false)
  })

  it('a site key is matched lower-case', () => {
    expect(policy.forSite('example.com')).not.toBe(policy.forSite('other.example.net'))
  })

  it('keeps the name and the parsed source', () => {
    expect(policy.name).toBe('Merged')
    expect(policy.file).toBe('(inline)')
    expect(policy.source).toMatchObject({ name: 'Merged' })
  })
})

describe('globMatcher', () => {
  it('no patterns match nothing', () => {
    const m = globMatcher([])
    expect(m('')).toBe(false)
    expect(m('anything')).toBe(false)
  })

  it('a lone * matches everything', () => {
    const m = globMatcher(['utm_*', '*'])
    expect(m('')).toBe(true)
    expect(m('anything at all')).toBe(true)
  })

  it('* matches any run of characters, anchored at both ends', () => {
    const m = globMatcher(['utm_*'])
    expect(m('utm_source')).toBe(true)
    expect(m('utm_')).toBe(true)
    expect(m('xutm_source')).toBe(false)
    expect(m('utm')).toBe(false)
    const mid = globMatcher(['sign*up'])
    expect(mid('signup')).toBe(true)
    expect(mid('sign-me-up')).toBe(true)
    expect(mid('signups')).toBe(false)
  })

  it('is case-insensitive', () => {
    const m = globMatcher(['utm_*', 'Ref'])
    expect(m('UTM_Source')).toBe(true)
    expect(m('REF')).toBe(true)
  })

  it('a pattern without * matches exactly', () => {
    const m = globMatcher(['ref', 'source'])
    expect(m('ref')).toBe(true)
    expect(m('source')).toBe(true)
    expect(m('referrer')).toBe(false)
    expect(m('xref')).toBe(false)
  })

  it('every other character is literal', () => {
    expect(globMatcher(['a.b'])('a.b')).toBe(true)
    expect(globMatcher(['a.b'])('axb')).toBe(false)
    expect(globMatcher(['what?'])('what?')).toBe(true)
    expect(globMatcher(['what?'])('wha')).toBe(false)
    expect(globMatcher(['a+b'])('aab')).toBe(false)
    expect(globMatcher(['(x)|y'])('(x)|y')).toBe(true)
    expect(globMatcher(['(x)|y'])('y')).toBe(false)
    expect(globMatcher(['[ab]'])('a')).toBe(false)
    expect(globMatcher(['^$\\'])('^$\\')).toBe(true)
  })

  it('path patterns: /kids/* covers the section and its root', () => {
    const site = buildPolicy({ version: 1, defaults: { exclude_paths: ['/kids/*', '/private'] } }).forSite('example.com')
    expect(site.excludedPath('/kids/games')).toBe(true)
    expect(site.excludedPath('/kids/games/chess')).toBe(true)
    expect(site.excludedPath('/kids/')).toBe(true)
    expect(site.excludedPath('/kids')).toBe(true)
    expect(site.excludedPath('/kidsafe')).toBe(false)
    expect(site.excludedPath('/about/kids')).toBe(false)
    expect(site.excludedPath('/private')).toBe(true)
    expect(site.excludedPath('/private/x')).toBe(false)
  })
})
