import fs from 'node:fs'
import type { Step } from './types.ts'

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
export const dropBots: Step = (event, ctx) => {
  if (!event.policy.dropBots) return event
  if (ctx.userAgents.parse(event.userAgent ?? '').bot) return { drop: 'bot' }
  if (event.referrer) {
    try {
      if (isReferrerSpam(new URL(event.referrer).hostname)) return { drop: 'referrer_spam' }
    } catch {
      // an unparseable referrer is handled (ignored) by classifyReferrer
    }
  }
  return event
}
