import { LRUCache } from 'lru-cache'
import { isbot } from 'isbot'
import { UAParser } from 'ua-parser-js'

export interface ParsedAgent {
  browser: string
  browserVersion: string
  os: string
  osVersion: string
  device: string
  /** A crawler, a headless browser, or too short to be a browser. */
  bot: boolean
}

const HEADLESS = /headless|phantomjs|electron|puppeteer|playwright|selenium|webdriver|lighthouse/i

/** ua-parser-js and isbot behind an LRU cache: User-Agent strings repeat, parsing them does not need to. */
export class UserAgentParser {
  private cache: LRUCache<string, ParsedAgent>
  constructor(max = 10_000) {
    this.cache = new LRUCache({ max })
  }

  parse(ua: string): ParsedAgent {
    let hit = this.cache.get(ua)
    if (!hit) {
      const r = UAParser(ua)
      const osVersion = (r.os.version ?? '').split('.').slice(0, 2).join('.')
      hit = {
        browser: r.browser.name ?? 'Unknown',
        browserVersion: r.browser.major ?? '',
        os: r.os.name ?? 'Unknown',
        osVersion,
        // ua-parser-js leaves `type` empty for desktops
        device: r.device.type === 'mobile' ? 'Mobile' : r.device.type === 'tablet' ? 'Tablet' : r.device.type ? capitalise(r.device.type) : 'Desktop',
        bot: ua.length < 10 || isbot(ua) || HEADLESS.test(ua),
      }
      this.cache.set(ua, hit)
    }
    return hit
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}
