import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser } from 'playwright-core'
import { UA } from './app.ts'

/** Debian's Chromium, installed by .ci/run; never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium'
/** Browser tests skip only on a machine without Chromium outside CI; in CI a missing browser fails the launch. */
export const browserRuns = fs.existsSync(CHROMIUM) || !!process.env.CI

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
