import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.ts'
import { loadConfig, type Config } from '../../server/config.ts'
import { migratedDataDir } from './migrated-store.ts'

export const ADMIN_TOKEN = 'test-admin-token'

export const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  headless: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
}

/** Documentation-range addresses: never a real visitor. */
/**
 * Documentation addresses, each in a network of its own (the three IPv4 /24s, then IPv6 /48s):
 * the aggregator counts distinct networks beside distinct visitors, so test visitors who should
 * count as several people come from several networks.
 */
export const DOC_IPS = ['192.0.2.10', '198.51.100.20', '203.0.113.30', '2001:db8:1::1', '2001:db8:2::1', '2001:db8:3::1', '2001:db8:4::1', '2001:db8:5::1']

/** The address of test visitor `i` (0 to 65534): one IPv6 /48 each, within 2001:db8::/32. */
export const visitorIp = (i: number) => `2001:db8:${(i + 1).toString(16)}::1`

export function tempDataDir(prefix = 'analytics-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** A config for tests: its own data directory (the store in it migrated), a known admin token, quick batches. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig(
    {},
    {
      dataDir: overrides.dataDir ?? migratedDataDir(),
      adminToken: ADMIN_TOKEN,
      trustProxy: 1, // one proxy in front: X-Forwarded-For carries the client's address
      batchMs: 50,
      spoolFsync: false,
      logLevel: 'silent',
      rollupIntervalMs: 0, // tests build rollups when they need them: see settle()
      // tests ask as fast as the store answers (the k promise's oracles, hundreds of questions through
      // one shared link); the limit's own tests set it (test/http/stats-limits.test.ts)
      statsRateLimit: 0,
      ...overrides,
    },
  )
}

/** The whole app on the embedded store, with `sites` registered. Close it at the end of the file. */
export async function testApp(overrides: Partial<Config> = {}, sites: string[] = ['example.com']): Promise<FastifyInstance> {
  const app = await buildApp(testConfig(overrides), { logger: false })
  for (const s of sites) await app.runtime.sites.add(s)
  return app
}

/** Sends everything spooled to the store, so a query sees it. */
export async function flush(app: FastifyInstance): Promise<void> {
  const ok = await app.runtime.writer.flush(10_000)
  if (!ok) throw new Error('spool did not drain')
}

/** Sends everything spooled to the store and builds visits and rollups from it, as the server does every minute. */
export async function settle(app: FastifyInstance): Promise<void> {
  await flush(app)
  // a site left out of a build is reported, not thrown, by the job: a test must not miss it
  const { failed } = await app.runtime.rollups.run()
  if (failed.length > 0) throw failed[0].error
}

/** Rows of a query on the app's store (tests only: the app itself never returns rows). */
export async function rows<T = Record<string, unknown>>(app: FastifyInstance, query: string, query_params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await app.runtime.store.client.query({ query, query_params, format: 'JSONEachRow' })
  return rs.json<T>()
}

export function beacon(app: FastifyInstance, body: unknown, opts: { ip?: string; ua?: string; headers?: Record<string, string>; contentType?: string } = {}) {
  return app.inject({
    method: 'POST',
    url: '/api/event',
    headers: {
      'content-type': opts.contentType ?? 'text/plain',
      'user-agent': opts.ua ?? UA.chromeWindows,
      'x-forwarded-for': opts.ip ?? DOC_IPS[0],
      ...opts.headers,
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** Every line the app logs from now on (at any level it is set to emit), as JSON, for a test to search. */
export function captureLogs(app: FastifyInstance): string[] {
  const lines: string[] = []
  const log = app.log as unknown as Record<string, (...a: unknown[]) => void>
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
    const original = log[level].bind(log)
    log[level] = (...a: unknown[]) => {
      lines.push(JSON.stringify(a))
      original(...a)
    }
  }
  return lines
}
