import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser } from 'playwright-core'
import { buildDashboards, DIST, isStale } from '../../dashboards/build/build.ts'
import { UA } from './app.ts'

/** Debian's Chromium, installed by .ci/run; never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium'
/** Browser tests skip only on a machine without Chromium outside CI; in CI a missing browser fails the launch. */
export const browserRuns = fs.existsSync(CHROMIUM) || !!process.env.CI
/** Where browser tests save screenshots for review. */
export const ARTIFACTS = path.join(import.meta.dirname, '..', 'artifacts')

/**
 * Headless Chromium as a desktop Chrome (the collector drops "HeadlessChrome" as a bot),
 * resolving documentation host names to this machine.
 */
export function launchChromium(hosts: string[] = ['www.example.com', 'docs.example.org', 'collector.example.net']): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      // for the whole browser: the context's override does not reach beacons sent while a page unloads
      `--user-agent=${UA.chromeWindows}`,
      `--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`,
    ],
  })
}

/** A tiny page server on 127.0.0.1: `pages` maps a path to its HTML. */
export async function servePages(pages: Map<string, string>): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    res.end(pages.get(path) ?? '<!doctype html><title>empty</title>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

/** Listens on a free port of 127.0.0.1; the app's origin, `http://127.0.0.1:<port>`. */
export async function listenLocally(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/**
 * The dashboards of a test app (server/app.ts serves them) on 127.0.0.1, and a Chromium to open
 * them. npm install builds the dashboards; a source changed since then is built again here, so a
 * test never clicks through a stale app. Makes the screenshot folder, ARTIFACTS.
 */
export async function serveDashboards(app: FastifyInstance): Promise<{ origin: string; browser: Browser }> {
  if (isStale()) await buildDashboards(DIST, { replace: true })
  const origin = await listenLocally(app)
  const browser = await launchChromium()
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  return { origin, browser }
}

/**
 * Closes a browser test's browser, then its servers in the order given (page servers before the
 * app); any of them may be missing when the set-up failed part way.
 */
export async function closeAll(browser: Browser | undefined, ...servers: (http.Server | FastifyInstance | undefined)[]): Promise<void> {
  await browser?.close()
  for (const server of servers) {
    if (server instanceof http.Server) await new Promise((resolve) => server.close(resolve))
    else await server?.close()
  }
}
