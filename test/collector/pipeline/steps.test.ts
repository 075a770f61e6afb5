import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { GeoLocator, truncateIp } from '../../../collector/lookups/geo.ts'
import { applyConsentSignals } from '../../../collector/pipeline/apply-consent.ts'
import { applyEventPolicy } from '../../../collector/pipeline/apply-event-policy.ts'
import { classifyReferrer } from '../../../collector/pipeline/classify-referrer.ts'
import { classifyScreen, screenClass } from '../../../collector/pipeline/classify-screen.ts'
import { dropBots } from '../../../collector/pipeline/drop-bots.ts'
import { ReferrerSpamList, isReferrerSpam } from '../../../collector/lookups/referrer-spam.ts'
import { hashVisitor } from '../../../collector/pipeline/hash-visitor.ts'
import { runPipeline, STEPS } from '../../../collector/pipeline/index.ts'
import { keepAllowedDimensions } from '../../../collector/pipeline/keep-allowed-dimensions.ts'
import { knownSite } from '../../../collector/pipeline/known-site.ts'
import { locateIp } from '../../../collector/pipeline/locate-ip.ts'
import { LIMITS, parseBeacon } from '../../../collector/pipeline/parse-beacon.ts'
import { parseUserAgent } from '../../../collector/pipeline/parse-user-agent.ts'
import { UserAgentParser } from '../../../collector/lookups/user-agents.ts'
import { scrubProps } from '../../../collector/pipeline/scrub-props.ts'
import { scrubUrl } from '../../../collector/pipeline/scrub-url.ts'
import { isDrop, type Drop, type EventRow, type Incoming, type PipelineContext, type PipelineEvent, type Step } from '../../../collector/pipeline/types.ts'
import { buildPolicy, loadPolicy, type Policy } from '../../../policy/policy.ts'
import { SaltStore } from '../../../collector/salts.ts'
import { loadConfig } from '../../../server/config.ts'
import { tempDataDir } from '../../helpers/app.ts'

const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  edgeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86',
  operaWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  samsung: 'Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
  firefoxAndroid: 'Mozilla/5.0 (Android 14; Mobile; rv:132.0) Gecko/132.0 Firefox/132.0',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  bingbot: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  ahrefs: 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
  curl: 'curl/8.5.0',
  pythonRequests: 'python-requests/2.32.3',
  headless: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
} as const

const DOC_IPS = ['192.0.2.10', '198.51.100.20', '203.0.113.30', '2001:db8::1', '2001:db8:1::2']
/** 2026-01-15 10:00 UTC */
const T0 = Date.UTC(2026, 0, 15, 10)
const HOUR = 3_600_000

const strict = loadPolicy(fileURLToPath(new URL('../../../policies/strict.yaml', import.meta.url)))
const policyWith = (defaults: Record<string, unknown>): Policy => buildPolicy({ version: 1, defaults })

let geo: GeoLocator
let base: PipelineContext
beforeAll(async () => {
  geo = await GeoLocator.open()
  base = {
    policy: strict,
    isKnownSite: (domain) => domain === 'example.com' || domain === 'shop.example.com',
    geo,
    salts: new SaltStore(() => T0),
    userAgents: new UserAgentParser(),
  }
})

interface Request {
  policy?: Policy
  ip?: string
  ua?: string
  dnt?: boolean
  gpc?: boolean
  ts?: number
  ctx?: Partial<PipelineContext>
}

function incoming(body: unknown, r: Request = {}): Incoming {
  return { body, ip: r.ip ?? DOC_IPS[0], userAgent: r.ua ?? UA.chromeWindows, dnt: r.dnt ?? false, gpc: r.gpc ?? false, receivedAt: r.ts ?? T0 }
}

function context(r: Request = {}): PipelineContext {
  return { ...base, ...(r.policy ? { policy: r.policy } : {}), ...r.ctx }
}

function expectEvent(result: PipelineEvent | Drop): PipelineEvent {
  if (isDrop(result)) throw new Error(`expected an event, got ${JSON.stringify(result)}`)
  return result
}

function expectRow(result: EventRow | Drop): EventRow {
  if (isDrop(result)) throw new Error(`expected a row, got ${JSON.stringify(result)}`)
  return result
}

/** A parsed pageview for example.com, `body` overriding the defaults. */
function makeEvent(body: Record<string, unknown> = {}, r: Request = {}): PipelineEvent {
  return expectEvent(parseBeacon(incoming({ name: 'pageview', url: 'https://example.com/', domain: 'example.com', ...body }, r), context(r)))
}

/** Runs `steps` in order over `event`, each expected to pass the event on. */
function through(event: PipelineEvent, ctx: PipelineContext, ...steps: Step[]): PipelineEvent {
  for (const step of steps) event = expectEvent(step(event, ctx))
  return event
}

describe('parseBeacon', () => {
  const parse = (body: unknown) => parseBeacon(incoming(body), base)

  it('reads Plausible-style long keys', () => {
    const e = expectEvent(
      parse({
        name: 'pageview',
        url: 'https://www.example.com/pricing?utm_source=x',
        domain: 'WWW.Example.com',
        referrer: 'https://www.google.com/',
        props: { plan: 'pro', seats: 3, trial: true },
        screen_width: 1280,
        engagement_time: 1500,
        hashMode: true,
      }),
    )
    expect(e).toMatchObject({
      site: 'example.com',
      name: 'pageview',
      kind: 'pageview',
      url: 'https://www.example.com/pricing?utm_source=x',
      referrer: 'https://www.google.com/',
      props: { plan: 'pro', seats: '3', trial: 'true' },
      screenWidth: 1280,
      engagementMs: 1500,
      hashMode: true,
      ip: DOC_IPS[0],
      userAgent: UA.chromeWindows,
      ts: T0,
      dnt: false,
      gpc: false,
      visitorId: '0',
      withoutHash: false,
    })
    expect(e.policy).toBe(strict.forSite('example.com'))
  })

  it('reads the short keys n, u, d, r, p, w, e, h', () => {
    const e = expectEvent(
      parse({ n: 'signup', u: 'https://example.com/join', d: 'example.com', r: 'https://t.co/abc', p: { plan: 'pro' }, w: '390', e: 2500.4, h: 1 }),
    )
    expect(e).toMatchObject({
      site: 'example.com',
      name: 'signup',
      kind: 'custom',
      url: 'https://example.com/join',
      referrer: 'https://t.co/abc',
      props: { plan: 'pro' },
      screenWidth: 390,
      engagementMs: 2500,
      hashMode: true,
    })
  })

  it('prefers the long key when both are present', () => {
    expect(expectEvent(parse({ name: 'pageview', n: 'other', url: 'https://example.com/a', u: 'https://example.com/b' }))).toMatchObject({ name: 'pageview', url: 'https://example.com/a' })
  })

  it('reads props sent as a JSON string, as Plausible’s tracker does', () => {
    const e = expectEvent(parse({ n: 'signup', u: 'https://example.com/', p: '{"plan":"pro","seats":3}' }))
    expect({ ...e.props }).toEqual({ plan: 'pro', seats: '3' })
  })

  it('takes the site from the URL when no domain is sent, without www and lower-cased', () => {
    expect(expectEvent(parse({ n: 'pageview', u: 'https://WWW.Example.COM/a' })).site).toBe('example.com')
  })

  it('maps Plausible’s built-in event names to kinds', () => {
    const kindOf = (name: string) => expectEvent(parse({ name, url: 'https://example.com/' })).kind
    expect(kindOf('pageview')).toBe('pageview')
    expect(kindOf('engagement')).toBe('engagement')
    expect(kindOf('Outbound Link: Click')).toBe('outbound')
    expect(kindOf('outbound')).toBe('outbound')
    expect(kindOf('File Download')).toBe('download')
    expect(kindOf('download')).toBe('download')
    expect(kindOf('click')).toBe('click')
    expect(kindOf('Signup')).toBe('custom')
    expect(kindOf('  pageview  ')).toBe('pageview')
  })

  it('treats hashMode only when it is true, 1 or "1"', () => {
    const hashOf = (h: unknown) => expectEvent(parse({ n: 'pageview', u: 'https://example.com/', h })).hashMode
    expect([true, 1, '1'].map(hashOf)).toEqual([true, true, true])
    expect([false, 0, '0', 'yes', undefined].map(hashOf)).toEqual([false, false, false, false, false])
  })

  it('caps screen width and engagement time, and reads empty numbers as 0', () => {
    const e = expectEvent(parse({ n: 'engagement', u: 'https://example.com/', w: 10_000_000, e: 10 * 24 * 3600 * 1000 }))
    expect(e.screenWidth).toBe(100_000)
    expect(e.engagementMs).toBe(24 * 3600 * 1000)
    const empty = expectEvent(parse({ n: 'pageview', u: 'https://example.com/', w: '', e: null }))
    expect([empty.screenWidth, empty.engagementMs]).toEqual([0, 0])
  })

  it.each<[string, unknown, RegExp]>([
    ['an array body', [], /^body must be a JSON object$/],
    ['a string body', 'pageview', /^body must be a JSON object$/],
    ['a null body', null, /^body must be a JSON object$/],
    ['no name', { url: 'https://example.com/' }, /^name is required$/],
    ['a blank name', { name: '   ', url: 'https://example.com/' }, /^name is required$/],
    ['a numeric name', { name: 42, url: 'https://example.com/' }, /^name must be a string$/],
    ['a too-long name', { name: 'x'.repeat(LIMITS.name + 1), url: 'https://example.com/' }, /^name is longer than 120 characters$/],
    ['no url', { name: 'pageview' }, /^url is required$/],
    ['a url that is an object', { name: 'pageview', url: { href: 'https://example.com/' } }, /^url must be a string$/],
    ['a relative url', { name: 'pageview', url: '/pricing' }, /^url must be an absolute http\(s\) URL$/],
    ['an ftp url', { name: 'pageview', url: 'ftp://files.example.com/a' }, /^url must be an absolute http\(s\) URL$/],
    ['a javascript: url', { name: 'pageview', url: 'javascript:alert(1)' }, /^url must be an absolute http\(s\) URL$/],
    ['a mailto: url', { name: 'pageview', url: 'mailto:jane@example.com' }, /^url must be an absolute http\(s\) URL$/],
    ['a too-long url', { name: 'pageview', url: 'https://example.com/' + 'a'.repeat(LIMITS.url) }, /^url is longer than 2048 characters$/],
    ['a numeric domain', { name: 'pageview', url: 'https://example.com/', domain: 7 }, /^domain must be a string$/],
    ['a numeric referrer', { name: 'pageview', url: 'https://example.com/', referrer: 1 }, /^referrer must be a string$/],
    ['props as an array', { name: 'x', url: 'https://example.com/', props: ['a'] }, /^props must be an object$/],
    ['props as a number', { name: 'x', url: 'https://example.com/', props: 5 }, /^props must be an object$/],
    ['props as broken JSON', { name: 'x', url: 'https://example.com/', props: '{"plan":' }, /^props must be an object$/],
    ['a nested prop object', { name: 'x', url: 'https://example.com/', props: { user: { email: 'jane@example.com' } } }, /^props values must be strings, numbers or booleans$/],
    ['a nested prop array', { name: 'x', url: 'https://example.com/', props: { tags: ['a', 'b'] } }, /^props values must be strings, numbers or booleans$/],
    ['a negative screen width', { name: 'pageview', url: 'https://example.com/', screen_width: -1 }, /^screen_width must be a non-negative number$/],
    ['a non-numeric screen width', { name: 'pageview', url: 'https://example.com/', w: 'wide' }, /^screen_width must be a non-negative number$/],
    ['a boolean engagement time', { name: 'engagement', url: 'https://example.com/', e: true }, /^engagement_time must be a non-negative number$/],
    ['an infinite engagement time', { name: 'engagement', url: 'https://example.com/', engagement_time: 'Infinity' }, /^engagement_time must be a non-negative number$/],
  ])('rejects %s as invalid, naming the field', (_label, body, detail) => {
    const r = parse(body)
    expect(isDrop(r)).toBe(true)
    expect(r).toEqual({ drop: 'invalid', detail: expect.stringMatching(detail) })
  })

  it('never echoes the input in the detail', () => {
    const r = parse({ name: 'pageview', url: 'ftp://jane.doe.example.com/secret-path' }) as Drop
    expect(r.detail).not.toMatch(/jane|secret/)
  })

  it('accepts a name of exactly the maximum length', () => {
    expect(expectEvent(parse({ name: 'x'.repeat(LIMITS.name), url: 'https://example.com/' })).name).toHaveLength(LIMITS.name)
  })

  it('ignores __proto__, constructor and prototype keys in props, and null values', () => {
    const e = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: '{"__proto__":{"polluted":"yes"},"constructor":"c","prototype":"p","gone":null,"plan":"pro"}' }))
    expect(Object.keys(e.props)).toEqual(['plan'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const fromObject = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: JSON.parse('{"__proto__":"x","plan":"pro"}') }))
    expect(Object.keys(fromObject.props)).toEqual(['plan'])
  })

  it('keeps at most 30 props, and truncates long keys and values', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, `v${i}`]))
    const e = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: many }))
    expect(Object.keys(e.props)).toEqual(Array.from({ length: LIMITS.props }, (_, i) => `k${i}`))
    const long = expectEvent(parse({ n: 'x', u: 'https://example.com/', p: { ['k'.repeat(100)]: 'v'.repeat(1000) } }))
    const [[key, value]] = Object.entries(long.props)
    expect(key).toHaveLength(LIMITS.propKey)
    expect(value).toHaveLength(LIMITS.propValue)
  })
})

describe('knownSite', () => {
  it('passes a registered site', () => {
    const e = makeEvent()
    expect(knownSite(e, base)).toBe(e)
  })

  it('drops an unregistered site', () => {
    const e = makeEvent({ url: 'https://other.example.net/', domain: 'other.example.net' })
    expect(knownSite(e, base)).toEqual({ drop: 'unknown_site' })
  })

  it('asks the context with the normalised site name', () => {
    const asked: string[] = []
    const ctx = context({ ctx: { isKnownSite: (d) => (asked.push(d), true) } })
    knownSite(makeEvent({ domain: 'WWW.Shop.Example.com' }), ctx)
    expect(asked).toEqual(['shop.example.com'])
  })
})

describe('dropBots', () => {
  it.each([
    ['Googlebot', UA.googlebot],
    ['bingbot', UA.bingbot],
    ['AhrefsBot', UA.ahrefs],
    ['curl', UA.curl],
    ['python-requests', UA.pythonRequests],
    ['HeadlessChrome', UA.headless],
    ['an empty User-Agent', ''],
    ['a too-short User-Agent', 'Mozilla'],
  ])('drops %s', (_label, ua) => {
    expect(dropBots(makeEvent({}, { ua }), base)).toEqual({ drop: 'bot' })
  })

  it.each([
    ['Chrome on Windows', UA.chromeWindows],
    ['Edge on Windows', UA.edgeWindows],
    ['Opera on Windows', UA.operaWindows],
    ['Safari on macOS', UA.safariMac],
    ['Firefox on Linux', UA.firefoxLinux],
    ['Safari on iPhone', UA.iphone],
    ['Safari on iPad', UA.ipad],
    ['Chrome on Android', UA.android],
    ['Samsung Internet', UA.samsung],
    ['Firefox on Android', UA.firefoxAndroid],
  ])('passes %s', (_label, ua) => {
    const e = makeEvent({ referrer: 'https://www.google.com/' }, { ua })
    expect(dropBots(e, base)).toBe(e)
  })

  it('drops a referrer-spam host and its subdomains', () => {
    for (const referrer of ['https://spam-referrer.example/', 'https://www.spam-referrer.example/offer', 'http://a.b.SPAM-REFERRER.example/x']) {
      expect(dropBots(makeEvent({ referrer }), base), referrer).toEqual({ drop: 'referrer_spam' })
    }
    expect(isReferrerSpam('sub.semalt.com')).toBe(true)
  })

  it('takes more spam hosts from REFERRER_SPAM_FILES (Matomo\'s spammers.txt format)', () => {
    const file = path.join(tempDataDir(), 'spammers.txt')
    fs.writeFileSync(file, '# more\nspam-traffic.example.net\n\n  Offers.Example.ORG  \n')
    const list = new ReferrerSpamList([file])
    const ctx = { ...base, referrerSpam: list }
    expect(dropBots(makeEvent({ referrer: 'https://www.spam-traffic.example.net/' }), ctx)).toEqual({ drop: 'referrer_spam' })
    expect(dropBots(makeEvent({ referrer: 'https://offers.example.org/x' }), ctx)).toEqual({ drop: 'referrer_spam' })
    expect(list.has('sub.semalt.com')).toBe(true) // the built-in list too
    expect(list.size).toBe(new ReferrerSpamList().size + 2)
    const e = makeEvent({ referrer: 'https://www.spam-traffic.example.net/' })
    expect(dropBots(e, base)).toBe(e) // not in the built-in list
    expect(loadConfig({ REFERRER_SPAM_FILES: `${file}${path.delimiter}/x/y.txt` }).referrerSpamFiles).toEqual([file, '/x/y.txt'])
  })

  it('does not drop a host that merely ends with a spam host’s name', () => {
    const e = makeEvent({ referrer: 'https://notspam-referrer.example/' })
    expect(dropBots(e, base)).toBe(e)
    expect(isReferrerSpam('example.com')).toBe(false)
  })

  it('leaves an unparseable referrer for classifyReferrer', () => {
    const e = makeEvent({ referrer: 'not a url' })
    expect(dropBots(e, base)).toBe(e)
  })

  it('keeps bots when the policy says bots: keep', () => {
    const policy = policyWith({ bots: 'keep' })
    const e = makeEvent({ referrer: 'https://spam-referrer.example/' }, { ua: UA.googlebot, policy })
    expect(dropBots(e, context({ policy }))).toBe(e)
  })
})

describe('applyConsentSignals', () => {
  const stances = (dnt: string, gpc: string) => policyWith({ consent: { dnt, gpc } })

  describe.each(['dnt', 'gpc'] as const)('%s', (signal) => {
    const other = signal === 'dnt' ? 'gpc' : 'dnt'
    const policyFor = (stance: string) => policyWith({ consent: { [signal]: stance, [other]: 'ignore' } })
    const eventFor = (stance: string, sent = true) => {
      const policy = policyFor(stance)
      return { event: makeEvent({}, { policy, [signal]: sent }), ctx: context({ policy }) }
    }

    it('drop: the event is dropped', () => {
      const { event, ctx } = eventFor('drop')
      expect(applyConsentSignals(event, ctx)).toEqual({ drop: `consent_${signal}` })
    })

    it('count_without_hash: the event passes, marked to get no visitor hash', () => {
      const { event, ctx } = eventFor('count_without_hash')
      expect(applyConsentSignals(event, ctx)).toBe(event)
      expect(event.withoutHash).toBe(true)
    })

    it('ignore: the event passes unchanged', () => {
      const { event, ctx } = eventFor('ignore')
      expect(applyConsentSignals(event, ctx)).toBe(event)
      expect(event.withoutHash).toBe(false)
    })

    it('without the signal, even a drop stance lets the event pass', () => {
      const { event, ctx } = eventFor('drop', false)
      expect(applyConsentSignals(event, ctx)).toBe(event)
      expect(event.withoutHash).toBe(false)
    })
  })

  it('with both signals, either stance can drop', () => {
    let policy = stances('drop', 'ignore')
    expect(applyConsentSignals(makeEvent({}, { policy, dnt: true, gpc: true }), context({ policy }))).toEqual({ drop: 'consent_dnt' })
    policy = stances('ignore', 'drop')
    expect(applyConsentSignals(makeEvent({}, { policy, dnt: true, gpc: true }), context({ policy }))).toEqual({ drop: 'consent_gpc' })
    policy = stances('drop', 'count_without_hash')
    expect(applyConsentSignals(makeEvent({}, { policy, dnt: true, gpc: true }), context({ policy }))).toEqual({ drop: 'consent_dnt' })
  })

  it('the strict policy honours both signals by dropping', () => {
    expect(applyConsentSignals(makeEvent({}, { dnt: true }), base)).toEqual({ drop: 'consent_dnt' })
    expect(applyConsentSignals(makeEvent({}, { gpc: true }), base)).toEqual({ drop: 'consent_gpc' })
  })
})

describe('scrubUrl', () => {
  const scrub = (url: string, body: Record<string, unknown> = {}, r: Request = {}) => through(makeEvent({ url, ...body }, r), context(r), scrubUrl)

  it('lower-cases the host and drops www, keeping the path as sent', () => {
    const e = scrub('https://WWW.Example.COM/Pricing/Plans')
    expect(e.hostname).toBe('example.com')
    expect(e.pathname).toBe('/Pricing/Plans')
    expect(scrub('https://shop.example.com').pathname).toBe('/')
  })

  it('keeps only allowed query parameters, UTM tags in their own fields', () => {
    const e = scrub(
      'https://example.com/a?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_content=hero&utm_term=shoes&q=secret&session=abc&ref=producthunt&fbclid=IwAR123',
    )
    expect(e.utm).toEqual({ utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring', utm_content: 'hero', utm_term: 'shoes' })
    expect(e.query).toBe('ref=producthunt')
  })

  it('reads UTM keys case-insensitively and keeps source in the query', () => {
    const e = scrub('https://example.com/?UTM_Source=News&source=hn&SESSION=x')
    expect(e.utm.utm_source).toBe('News')
    expect(e.query).toBe('source=hn')
  })

  it('scrubs kept values of PII', () => {
    const e = scrub('https://example.com/?utm_content=jane.doe%40example.com&utm_term=call%20%2B1%20202-555-0143&ref=192.0.2.10')
    expect(e.utm.utm_content).toBe('[email]')
    expect(e.utm.utm_term).toBe('call [phone]')
    expect(new URLSearchParams(e.query).get('ref')).toBe('[ip]')
  })

  it('keeps no query parameter when the policy allows none', () => {
    const policy = policyWith({ query_params: [] })
    const e = scrub('https://example.com/?utm_source=x&ref=y', {}, { policy })
    expect(e.query).toBe('')
    expect(e.utm.utm_source).toBe('')
  })

  it('drops the fragment', () => {
    expect(scrub('https://example.com/docs#install').pathname).toBe('/docs')
  })

  it('keeps a hash route for hash-routed sites, without its query, scrubbed', () => {
    expect(scrub('https://example.com/#/settings/profile', { hashMode: true }).pathname).toBe('/#/settings/profile')
    expect(scrub('https://example.com/app#/search?q=secret', { h: 1 }).pathname).toBe('/app#/search')
    expect(scrub('https://example.com/#/users/jane.doe@example.com', { h: 1 }).pathname).toBe('/#/users/[email]')
    expect(scrub('https://example.com/#', { h: 1 }).pathname).toBe('/')
  })

  it('percent-decodes the path, then scrubs it', () => {
    expect(scrub('https://example.com/caf%C3%A9/men%C3%BC').pathname).toBe('/café/menü')
    expect(scrub('https://example.com/users/jane.doe%40example.com/profile').pathname).toBe('/users/[email]/profile')
    expect(scrub('https://example.com/orders/123e4567-e89b-12d3-a456-426614174000').pathname).toBe('/orders/[id]')
    expect(scrub('https://example.com/debug/192.0.2.10').pathname).toBe('/debug/[ip]')
  })

  it('keeps an ordinary dated blog path as it is', () => {
    expect(scrub('https://example.com/blog/2026-01-31/how-to-write-good-tests').pathname).toBe('/blog/2026-01-31/how-to-write-good-tests')
  })

  it('keeps a path that does not decode as it was', () => {
    expect(scrub('https://example.com/bad%E0%A4%A').pathname).toBe('/bad%E0%A4%A')
  })

  it('forgets the full URL afterwards', () => {
    const e = scrub('https://example.com/a?session=abc#frag')
    expect(e.url).toBe('')
    expect(JSON.stringify({ ...e, policy: undefined })).not.toMatch(/session|abc|frag/)
  })
})

describe('applyEventPolicy', () => {
  const check = (body: Record<string, unknown>, policy: Policy) => {
    const ctx = context({ policy })
    return applyEventPolicy(through(makeEvent(body, { policy }), ctx, scrubUrl), ctx)
  }

  it('drops event kinds the policy does not allow', () => {
    const policy = policyWith({ events: { kinds: ['pageview', 'custom'] } })
    expect(check({ name: 'File Download' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(check({ name: 'Outbound Link: Click' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(check({ name: 'engagement' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(isDrop(check({ name: 'pageview' }, policy))).toBe(false)
    expect(isDrop(check({ name: 'Signup' }, policy))).toBe(false)
  })

  it('drops every custom event when custom is not an allowed kind', () => {
    const policy = policyWith({ events: { kinds: ['pageview'] } })
    expect(check({ name: 'Signup' }, policy)).toEqual({ drop: 'kind_not_allowed' })
  })

  it('allows custom names by pattern, case-insensitively', () => {
    const policy = policyWith({ events: { custom_names: ['signup*', 'Purchase'] } })
    expect(isDrop(check({ name: 'signup_complete' }, policy))).toBe(false)
    expect(isDrop(check({ name: 'Signup' }, policy))).toBe(false)
    expect(isDrop(check({ name: 'purchase' }, policy))).toBe(false)
    expect(check({ name: 'newsletter' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    expect(check({ name: 'purchase2' }, policy)).toEqual({ drop: 'kind_not_allowed' })
    // built-in kinds are not subject to custom_names
    expect(isDrop(check({ name: 'pageview' }, policy))).toBe(false)
  })

  it('drops events on excluded paths', () => {
    const policy = policyWith({ exclude_paths: ['/kids/*', '/admin'] })
    expect(check({ url: 'https://example.com/kids/games' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ url: 'https://example.com/kids/games/chess?x=1' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ url: 'https://example.com/kids' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ url: 'https://example.com/admin' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(check({ name: 'Signup', url: 'https://example.com/kids/join' }, policy)).toEqual({ drop: 'excluded_path' })
    expect(isDrop(check({ url: 'https://example.com/kidsafe' }, policy))).toBe(false)
    expect(isDrop(check({ url: 'https://example.com/about/kids' }, policy))).toBe(false)
  })
})

describe('scrubProps', () => {
  const scrub = (body: Record<string, unknown>, policy: Policy = strict) => through(makeEvent(body, { policy }), context({ policy }), scrubProps)

  it('drops keys the policy does not allow', () => {
    const policy = policyWith({ props: ['plan', 'variant_*'] })
    const e = scrub({ name: 'Signup', props: { plan: 'pro', variant_a: 'blue', secret: 'x', other: 'y' } }, policy)
    expect(e.props).toEqual({ plan: 'pro', variant_a: 'blue' })
  })

  it('replaces the values of secret-looking keys by placeholders', () => {
    const e = scrub({ name: 'Signup', props: { email: 'anything', session_token: 'abc', phone: 'x', user_id: '42', password: 'hunter2', plan: 'pro' } })
    expect(e.props).toEqual({ email: '[email]', session_token: '[token]', phone: '[phone]', user_id: '[id]', password: '[token]', plan: 'pro' })
  })

  it('scrubs PII out of other values and out of keys', () => {
    const e = scrub({ name: 'Contact', props: { note: 'write to jane.doe@example.com', 'jane.doe@example.com': 'yes' } })
    expect(e.props).toEqual({ note: 'write to [email]', '[email]': 'yes' })
  })

  it('reduces a url prop to host and path', () => {
    expect(scrub({ name: 'Outbound Link: Click', props: { url: 'https://Shop.Example.com/cart/checkout?session=abc#pay' } }).props).toEqual({ url: 'shop.example.com/cart/checkout' })
    expect(scrub({ name: 'File Download', props: { url: 'https://example.com/files/jane.doe%40example.com/report.pdf?sig=x' } }).props).toEqual({ url: 'example.com/files/[email]/report.pdf' })
    expect(scrub({ name: 'click', props: { url: '/relative/path?x=1#y' } }).props).toEqual({ url: '/relative/path' })
  })

  it('scrubs a custom event name, but not built-in names', () => {
    expect(scrub({ name: 'Invite jane.doe@example.com' }).name).toBe('Invite [email]')
    expect(scrub({ name: 'pageview' }).name).toBe('pageview')
  })
})

describe('classifyReferrer', () => {
  const classify = (url: string, referrer: string) => {
    const e = through(makeEvent({ url, referrer }), base, scrubUrl, classifyReferrer)
    return { source: e.source, channel: e.channel, referrerHost: e.referrerHost, referrerPath: e.referrerPath, referrer: e.referrer }
  }

  it('google is a search engine', () => {
    expect(classify('https://example.com/', 'https://www.google.com/search?q=secret')).toEqual({ source: 'Google', channel: 'search', referrerHost: 'google.com', referrerPath: '/search', referrer: '' })
    expect(classify('https://example.com/', 'https://www.google.co.uk/').source).toBe('Google')
  })

  it('t.co is Twitter, a social network', () => {
    expect(classify('https://example.com/', 'https://t.co/AbCdEf')).toMatchObject({ source: 'Twitter', channel: 'social', referrerHost: 't.co' })
  })

  it('Gmail is e-mail', () => {
    expect(classify('https://example.com/', 'https://mail.google.com/mail/u/0/')).toMatchObject({ source: 'Gmail', channel: 'email' })
  })

  it('a blog is a referral named by its host, its path kept without query and scrubbed', () => {
    expect(classify('https://example.com/', 'https://www.blog.example.org/posts/privacy-first?utm_x=1')).toEqual({
      source: 'blog.example.org',
      channel: 'referral',
      referrerHost: 'blog.example.org',
      referrerPath: '/posts/privacy-first',
      referrer: '',
    })
    expect(classify('https://example.com/', 'https://blog.example.org/users/jane.doe%40example.com').referrerPath).toBe('/users/[email]')
  })

  it('a same-site referrer is ignored', () => {
    expect(classify('https://example.com/pricing', 'https://www.example.com/')).toEqual({ source: '', channel: 'direct', referrerHost: '', referrerPath: '', referrer: '' })
    expect(classify('https://shop.example.com/cart', 'https://shop.example.com/item')).toMatchObject({ source: '', channel: 'direct', referrerHost: '' })
  })

  it('an unparseable or non-http referrer is ignored', () => {
    expect(classify('https://example.com/', 'not a url')).toMatchObject({ source: '', channel: 'direct', referrerHost: '' })
    expect(classify('https://example.com/', 'android-app://com.example.app/')).toMatchObject({ source: '', channel: 'direct', referrerHost: '' })
  })

  it('utm_medium=cpc makes the channel paid', () => {
    expect(classify('https://example.com/?utm_source=google&utm_medium=cpc', 'https://www.google.com/')).toMatchObject({ source: 'Google', channel: 'paid' })
  })

  it('utm_medium=email or newsletter makes the channel email', () => {
    expect(classify('https://example.com/?utm_source=weekly&utm_medium=email', '')).toMatchObject({ source: 'weekly', channel: 'email' })
    expect(classify('https://example.com/?utm_medium=Newsletter', 'https://www.blog.example.org/')).toMatchObject({ source: 'blog.example.org', channel: 'email' })
  })

  it('without a referrer, utm_source, ref or source name the source', () => {
    expect(classify('https://example.com/?utm_source=newsletter', '')).toMatchObject({ source: 'newsletter', channel: 'referral', referrerHost: '' })
    expect(classify('https://example.com/?ref=producthunt', '')).toMatchObject({ source: 'producthunt', channel: 'referral' })
    expect(classify('https://example.com/?source=hn', '')).toMatchObject({ source: 'hn', channel: 'referral' })
  })

  it('no referrer and no tags is direct', () => {
    expect(classify('https://example.com/', '')).toEqual({ source: '', channel: 'direct', referrerHost: '', referrerPath: '', referrer: '' })
  })
})

describe('parseUserAgent', () => {
  const agent = (ua: string) => {
    const e = through(makeEvent({}, { ua }), base, parseUserAgent)
    return { browser: e.browser, browserVersion: e.browserVersion, os: e.os, osVersion: e.osVersion, device: e.device }
  }

  it('Chrome on Windows is a desktop', () => {
    expect(agent(UA.chromeWindows)).toEqual({ browser: 'Chrome', browserVersion: '131', os: 'Windows', osVersion: '10', device: 'Desktop' })
  })

  it('Safari on an iPhone is iOS on a mobile', () => {
    expect(agent(UA.iphone)).toEqual({ browser: 'Mobile Safari', browserVersion: '18', os: 'iOS', osVersion: '18.1', device: 'Mobile' })
  })

  it('Chrome on Android is a mobile', () => {
    expect(agent(UA.android)).toMatchObject({ os: 'Android', osVersion: '14', device: 'Mobile' })
    expect(agent(UA.android).browser).toMatch(/Chrome/)
  })

  it('an iPad is a tablet', () => {
    expect(agent(UA.ipad)).toMatchObject({ os: 'iOS', device: 'Tablet' })
  })

  it('Safari on macOS and Firefox on Linux are desktops', () => {
    expect(agent(UA.safariMac)).toMatchObject({ browser: 'Safari', os: 'macOS', device: 'Desktop' })
    expect(agent(UA.firefoxLinux)).toMatchObject({ browser: 'Firefox', browserVersion: '132', os: 'Linux', device: 'Desktop' })
  })

  it('an unknown agent is Unknown, not empty', () => {
    expect(agent('SomethingElse/1.0 (nothing known)')).toMatchObject({ browser: 'Unknown', os: 'Unknown' })
  })

  it('the cache returns the same object for a repeated User-Agent', () => {
    const parser = new UserAgentParser()
    const first = parser.parse(UA.iphone)
    expect(parser.parse(UA.iphone)).toBe(first)
    expect(parser.parse(UA.android)).not.toBe(first)
  })
})

describe('classifyScreen', () => {
  it.each([
    [0, ''],
    [320, 'Mobile'],
    [575, 'Mobile'],
    [576, 'Tablet'],
    [991, 'Tablet'],
    [992, 'Laptop'],
    [1439, 'Laptop'],
    [1440, 'Desktop'],
    [3840, 'Desktop'],
  ])('width %i is %j', (width, screen) => {
    expect(screenClass(width)).toBe(screen)
    expect(through(makeEvent({ w: width }), base, classifyScreen).screen).toBe(screen)
  })
})

describe('locateIp', () => {
  const locate = (ip: string, policy: Policy = strict, ctx: Partial<PipelineContext> = {}) => {
    const e = through(makeEvent({}, { ip, policy }), context({ policy, ctx }), locateIp)
    return { country: e.country, region: e.region, city: e.city }
  }

  it('8.8.8.8 is in the US', () => {
    expect(locate('8.8.8.8').country).toBe('US')
  })

  it('81.2.69.160 is London, GB', () => {
    expect(locate('81.2.69.160')).toEqual({ country: 'GB', region: 'England', city: 'London' })
  })

  it.each(DOC_IPS)('documentation address %s is nowhere', (ip) => {
    expect(locate(ip)).toEqual({ country: '', region: '', city: '' })
  })

  it('an empty or malformed IP is nowhere', () => {
    expect(locate('')).toEqual({ country: '', region: '', city: '' })
    expect(locate('not-an-ip')).toEqual({ country: '', region: '', city: '' })
  })

  it('precision country blanks region and city; region blanks city; none blanks all', () => {
    expect(locate('81.2.69.160', policyWith({ ip: { geo_precision: 'country' } }))).toEqual({ country: 'GB', region: '', city: '' })
    expect(locate('81.2.69.160', policyWith({ ip: { geo_precision: 'region' } }))).toEqual({ country: 'GB', region: 'England', city: '' })
    expect(locate('81.2.69.160', policyWith({ ip: { geo_precision: 'none' } }))).toEqual({ country: '', region: '', city: '' })
  })

  it('truncate: the lookup sees only the /24 or /48', () => {
    const seen: string[] = []
    const spy = { locate: (ip: string) => (seen.push(ip), geo.locate(ip)) } as unknown as GeoLocator
    const truncating = policyWith({ ip: { truncate: true } })
    expect(locate('81.2.69.160', truncating, { geo: spy }).country).toBe('GB')
    locate('2001:db8:1234:5678::1', truncating, { geo: spy })
    locate('192.0.2.77', strict, { geo: spy })
    expect(seen).toEqual(['81.2.69.0', '2001:db8:1234::', '192.0.2.77'])
  })

  it('truncateIp', () => {
    expect(truncateIp('192.0.2.123')).toBe('192.0.2.0')
    expect(truncateIp('::ffff:198.51.100.9')).toBe('198.51.100.0')
    expect(truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::')
    expect(truncateIp('2001:db8::1')).toBe('2001:db8::')
    expect(truncateIp('garbage')).toBe('garbage')
  })

  it('keeps the IP for hashVisitor', () => {
    const e = through(makeEvent({}, { ip: '8.8.8.8' }), base, locateIp)
    expect(e.ip).toBe('8.8.8.8')
  })
})

describe('hashVisitor', () => {
  const hash = (r: Request & { site?: string }, salts: SaltStore) => {
    const policy = r.policy ?? strict
    const ctx = context({ ...r, ctx: { salts } })
    const site = r.site ?? 'example.com'
    const e = through(makeEvent({ url: `https://${site}/`, domain: site }, r), ctx, applyConsentSignals, hashVisitor)
    expect(e.policy).toBe(policy.forSite(site))
    return e
  }

  it('the same site, IP and User-Agent on the same day give the same visitor id', () => {
    const salts = new SaltStore(() => T0)
    const a = hash({ ts: T0 }, salts)
    const b = hash({ ts: T0 + 5 * HOUR }, salts)
    expect(a.visitorId).toMatch(/^[1-9]\d*$/)
    expect(BigInt(a.visitorId) < 2n ** 64n).toBe(true)
    expect(b.visitorId).toBe(a.visitorId)
  })

  it('a different site, IP or User-Agent gives a different id', () => {
    const salts = new SaltStore(() => T0)
    const id = hash({}, salts).visitorId
    expect(hash({ site: 'shop.example.com' }, salts).visitorId).not.toBe(id)
    expect(hash({ ip: DOC_IPS[1] }, salts).visitorId).not.toBe(id)
    expect(hash({ ua: UA.firefoxLinux }, salts).visitorId).not.toBe(id)
  })

  it('a different salt period gives a different id', () => {
    const salts = new SaltStore(() => T0)
    const today = hash({ ts: T0 }, salts).visitorId
    expect(hash({ ts: T0 + 24 * HOUR }, salts).visitorId).not.toBe(today)
    const hourly = policyWith({ visitor_hash: { salt_period_hours: 1 } })
    const first = hash({ ts: T0, policy: hourly }, salts).visitorId
    expect(hash({ ts: T0 + HOUR, policy: hourly }, salts).visitorId).not.toBe(first)
  })

  it('a new salt store (a restart) gives a different id', () => {
    expect(hash({}, new SaltStore(() => T0)).visitorId).not.toBe(hash({}, new SaltStore(() => T0)).visitorId)
  })

  it('deletes the IP and the User-Agent from the event', () => {
    const e = hash({ ip: '203.0.113.30' }, new SaltStore(() => T0))
    expect('ip' in e).toBe(false)
    expect('userAgent' in e).toBe(false)
    expect(JSON.stringify({ ...e, policy: undefined })).not.toMatch(/203\.0\.113|Mozilla/)
  })

  it('count_without_hash leaves the visitor id 0, and still forgets IP and User-Agent', () => {
    const policy = policyWith({ consent: { dnt: 'count_without_hash' } })
    const e = hash({ policy, dnt: true }, new SaltStore(() => T0))
    expect(e.visitorId).toBe('0')
    expect('ip' in e).toBe(false)
    expect('userAgent' in e).toBe(false)
  })
})

describe('keepAllowedDimensions', () => {
  const full = (policy: Policy) =>
    expectRow(
      runPipeline(
        incoming(
          {
            name: 'pageview',
            url: 'https://example.com/pricing?utm_source=newsletter&utm_medium=email&ref=hn',
            domain: 'example.com',
            referrer: 'https://www.blog.example.org/post',
            screen_width: 1280,
          },
          { ip: '81.2.69.160' },
        ),
        context({ policy }),
      ),
    )

  it('empties the dimensions the policy leaves out (city, browser_version)', () => {
    const dimensions = ['path', 'referrer_host', 'referrer_path', 'source', 'channel', 'utm', 'browser', 'os', 'os_version', 'device', 'screen', 'country', 'region']
    const row = full(policyWith({ dimensions }))
    expect(row.city).toBe('')
    expect(row.browser_version).toBe('')
    expect(row).toMatchObject({ country: 'GB', region: 'England', browser: 'Chrome', os: 'Windows', os_version: '10', device: 'Desktop', screen: 'Laptop', pathname: '/pricing' })
  })

  it('without utm, the UTM fields and the kept query are emptied', () => {
    const row = full(policyWith({ dimensions: ['path', 'source'] }))
    expect([row.utm_source, row.utm_medium, row.utm_campaign, row.utm_content, row.utm_term, row.query]).toEqual(['', '', '', '', '', ''])
    expect(row.source).toBe('blog.example.org')
  })

  it('with no dimensions at all, every dimension column is empty', () => {
    const policy = policyWith({ dimensions: [] })
    const e = through(makeEvent({ url: 'https://example.com/a?utm_source=x&ref=y', referrer: 'https://www.google.com/', w: 400 }, { ip: '81.2.69.160', policy }), context({ policy }), ...STEPS.map(([, step]) => step))
    expect(keepAllowedDimensions(e, context({ policy }))).toBe(e)
    expect({
      pathname: e.pathname, query: e.query, referrerHost: e.referrerHost, referrerPath: e.referrerPath, source: e.source, channel: e.channel, ...e.utm,
      browser: e.browser, browserVersion: e.browserVersion, os: e.os, osVersion: e.osVersion, device: e.device, screen: e.screen, country: e.country, region: e.region, city: e.city,
    }).toEqual(Object.fromEntries(['pathname', 'query', 'referrerHost', 'referrerPath', 'source', 'channel', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'browser', 'browserVersion', 'os', 'osVersion', 'device', 'screen', 'country', 'region', 'city'].map((k) => [k, ''])))
    expect(e.hostname).toBe('example.com')
  })

  it('with every dimension allowed, nothing is emptied', () => {
    const row = full(strict)
    expect(row).toMatchObject({ city: 'London', browser_version: '131', utm_source: 'newsletter', query: 'ref=hn', referrer_host: 'blog.example.org' })
  })
})

/** The `events` table's columns, in order, as the numbered migrations leave it (CREATE TABLE, then ADD COLUMN). */
function eventsColumns(): string[] {
  const dir = new URL('../../../store/migrations/', import.meta.url)
  const files = fs.readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()
  let columns: string[] = []
  for (const file of files) {
    const sql = fs.readFileSync(new URL(file, dir), 'utf8').replace(/--.*$/gm, '')
    const create = /CREATE TABLE(?: IF NOT EXISTS)? events\s*\(([\s\S]*?)\n\)/.exec(sql)
    if (create) {
      columns = create[1]
        .split('\n')
        .map((line) => /^\s*([a-z_][a-z0-9_]*)\s+\S/i.exec(line)?.[1])
        .filter((c): c is string => Boolean(c))
    }
    for (const alter of sql.matchAll(/ALTER TABLE events\s+([\s\S]*?);/g)) {
      for (const add of alter[1].matchAll(/ADD COLUMN (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)[^,]*?(?:\s(AFTER)\s+([a-z_][a-z0-9_]*)|\s(FIRST))?\s*(?:,|$)/gi)) {
        if (columns.includes(add[1])) continue
        if (add[2]) columns.splice(columns.indexOf(add[3]) + 1, 0, add[1])
        else if (add[4]) columns.unshift(add[1])
        else columns.push(add[1])
      }
    }
  }
  return columns
}

describe('runPipeline', () => {
  const columns = eventsColumns()

  it('the columns were read from the migration', () => {
    expect(columns).toContain('visitor_id')
    expect(columns).toContain('props')
    expect(columns.length).toBeGreaterThan(20)
  })

  it('a full row has exactly the events table’s columns, enriched and scrubbed', () => {
    const row = expectRow(
      runPipeline(
        incoming(
          {
            name: 'pageview',
            url: 'https://www.example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring&email=jane.doe@example.com&session=abc#frag',
            domain: 'example.com',
            referrer: 'https://www.google.com/search?q=secret',
            props: { plan: 'pro', contact: 'jane.doe@example.com' },
            screen_width: 1280,
            engagement_time: 1234,
          },
          { ip: '81.2.69.160', ua: UA.chromeWindows },
        ),
        base,
      ),
    )
    expect(Object.keys(row)).toEqual(columns)
    const expected = {
      site: 'example.com',
      ts: T0,
      name: 'pageview',
      visitor_id: expect.stringMatching(/^[1-9]\d*$/),
      hostname: 'example.com',
      pathname: '/pricing',
      query: '',
      referrer_host: 'google.com',
      referrer_path: '/search',
      source: 'Google',
      channel: 'email',
      utm_source: 'newsletter',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_content: '',
      utm_term: '',
      browser: 'Chrome',
      browser_version: '131',
      os: 'Windows',
      os_version: '10',
      device: 'Desktop',
      screen: 'Laptop',
      country: 'GB',
      region: 'England',
      city: 'London',
      engagement_ms: 1234,
      returning: 2, // unknown: the strict policy does not let the tracker keep a last-visit day
      props: { plan: 'pro', contact: '[email]' },
    }
    expect(row).toMatchObject(expected)
    // columns added since (e.g. dimensions off by default) stay empty
    for (const [column, value] of Object.entries(row)) if (!(column in expected)) expect(value, column).toBe('')
    const text = JSON.stringify(row)
    expect(text).not.toContain('81.2.69')
    expect(text).not.toContain('Mozilla')
    expect(text).not.toMatch(/\b\d{1,3}(?:\.\d{1,3}){3}\b/)
    expect(text).not.toMatch(/jane|secret|abc|frag/)
  })

  it('no IPv6 address or User-Agent survives either', () => {
    const row = expectRow(runPipeline(incoming({ n: 'pageview', u: 'https://example.com/', d: 'example.com' }, { ip: '2001:db8:1::2', ua: UA.iphone }), base))
    const text = JSON.stringify(row)
    expect(text).not.toMatch(/2001:db8|Mozilla|iPhone OS|AppleWebKit/)
    expect(Object.keys(row)).toEqual(columns)
  })

  it('stops at the first drop', () => {
    expect(runPipeline(incoming({ name: 'pageview' }), base)).toEqual({ drop: 'invalid', detail: 'url is required' })
    expect(runPipeline(incoming({ n: 'pageview', u: 'https://other.example.net/' }), base)).toEqual({ drop: 'unknown_site' })
    expect(runPipeline(incoming({ n: 'pageview', u: 'https://example.com/' }, { ua: UA.googlebot }), base)).toEqual({ drop: 'bot' })
    expect(runPipeline(incoming({ n: 'pageview', u: 'https://example.com/' }, { dnt: true }), base)).toEqual({ drop: 'consent_dnt' })
  })

  it('the IP and User-Agent are used before hashVisitor forgets them', () => {
    const names = STEPS.map(([name]) => name)
    const at = (name: string) => {
      const i = names.indexOf(name)
      expect(i, name).toBeGreaterThanOrEqual(0)
      return i
    }
    expect(at('dropBots')).toBeLessThan(at('hashVisitor'))
    expect(at('parseUserAgent')).toBeLessThan(at('hashVisitor'))
    expect(at('locateIp')).toBeLessThan(at('hashVisitor'))
    expect(at('applyConsentSignals')).toBeLessThan(at('hashVisitor'))
    expect(at('scrubUrl')).toBeLessThan(at('applyEventPolicy'))
    expect(at('scrubUrl')).toBeLessThan(at('classifyReferrer'))
    expect(at('knownSite')).toBe(0)
    expect(at('keepAllowedDimensions')).toBe(names.length - 1)
  })
})
