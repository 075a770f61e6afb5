import { fileURLToPath } from 'node:url'
import { beforeAll } from 'vitest'
import { GeoLocator } from '../../../collector/lookups/geo.ts'
import { UserAgentParser } from '../../../collector/lookups/user-agents.ts'
import { parseBeacon } from '../../../collector/pipeline/parse-beacon.ts'
import { isDrop, type Drop, type EventRow, type Incoming, type PipelineContext, type PipelineEvent, type Step } from '../../../collector/pipeline/types.ts'
import { SaltStore } from '../../../collector/salts.ts'
import { VisitTracker } from '../../../collector/visits.ts'
import { buildPolicy, loadPolicy, type Policy } from '../../../policy/policy.ts'

/**
 * Shared fixtures for the tests of the pipeline's steps and lookups: User-Agents, IPs, the
 * strict policy, a pipeline context (`base`) and builders for beacons and events.
 */

export const UA = {
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

export const DOC_IPS = ['192.0.2.10', '198.51.100.20', '203.0.113.30', '2001:db8::1', '2001:db8:1::2']
/** 2026-01-15 10:00 UTC */
export const T0 = Date.UTC(2026, 0, 15, 10)
export const HOUR = 3_600_000

export const strict = loadPolicy(fileURLToPath(new URL('../../../policies/strict.yaml', import.meta.url)))
export const policyWith = (defaults: Record<string, unknown>): Policy => buildPolicy({ version: 1, defaults })

/**
 * The geo database and the context every test starts from: the strict policy, example.com
 * and shop.example.com as the known sites. Set by a `beforeAll` hook that importing this
 * module registers in the importing test file, so use them inside tests and hooks only.
 */
export let geo: GeoLocator
export let base: PipelineContext
beforeAll(async () => {
  geo = await GeoLocator.open()
  base = {
    policy: strict,
    isKnownSite: (domain) => domain === 'example.com' || domain === 'shop.example.com',
    geo,
    salts: new SaltStore(() => T0),
    visits: new VisitTracker(),
    userAgents: new UserAgentParser(),
  }
})

export interface Request {
  policy?: Policy
  ip?: string
  ua?: string
  dnt?: boolean
  gpc?: boolean
  ts?: number
  ctx?: Partial<PipelineContext>
}

export function incoming(body: unknown, r: Request = {}): Incoming {
  return { body, ip: r.ip ?? DOC_IPS[0], userAgent: r.ua ?? UA.chromeWindows, dnt: r.dnt ?? false, gpc: r.gpc ?? false, receivedAt: r.ts ?? T0 }
}

export function context(r: Request = {}): PipelineContext {
  return { ...base, ...(r.policy ? { policy: r.policy } : {}), ...r.ctx }
}

export function expectEvent(result: PipelineEvent | Drop): PipelineEvent {
  if (isDrop(result)) throw new Error(`expected an event, got ${JSON.stringify(result)}`)
  return result
}

export function expectRow(result: EventRow | Drop): EventRow {
  if (isDrop(result)) throw new Error(`expected a row, got ${JSON.stringify(result)}`)
  return result
}

/** A parsed pageview for example.com, `body` overriding the defaults. */
export function makeEvent(body: Record<string, unknown> = {}, r: Request = {}): PipelineEvent {
  return expectEvent(parseBeacon(incoming({ name: 'pageview', url: 'https://example.com/', domain: 'example.com', ...body }, r), context(r)))
}

/** Runs `steps` in order over `event`, each expected to pass the event on. */
export function through(event: PipelineEvent, ctx: PipelineContext, ...steps: Step[]): PipelineEvent {
  for (const step of steps) event = expectEvent(step(event, ctx))
  return event
}
