import fs from 'node:fs'
import { isbot } from 'isbot'
import type { Step } from './types.ts'

const HEADLESS = /headless|phantomjs|electron|puppeteer|playwright|selenium|webdriver|lighthouse|chrome-lighthouse/i

/** Hosts known for referrer spam; one host per line, `#` comments. */
const spamHosts: ReadonlySet<string> = new Set(
  fs
    .readFileSync(new URL('./referrer-spam.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim().toLowerCase())
    .filter(Boolean),
)

export function isReferrerSpam(host: string): boolean {
  for (let h = host.toLowerCase(); h.includes('.'); h = h.slice(h.indexOf('.') + 1)) if (spamHosts.has(h)) return true
  return false
}

/** Crawlers, headless browsers, empty User-Agents and referrer spam never count as visitors. */
export const dropBots: Step = (event) => {
  if (!event.policy.dropBots) return event
  const ua = event.userAgent ?? ''
  if (ua.length < 10 || isbot(ua) || HEADLESS.test(ua)) return { drop: 'bot' }
  if (event.referrer) {
    try {
      if (isReferrerSpam(new URL(event.referrer).hostname)) return { drop: 'referrer_spam' }
    } catch {
      // an unparseable referrer is handled (ignored) by classifyReferrer
    }
  }
  return event
}
