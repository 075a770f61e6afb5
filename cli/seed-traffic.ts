import crypto from 'node:crypto'

/** One synthetic beacon plus the request facts it stands for; never a real visitor. */
export interface SyntheticEvent {
  body: Record<string, unknown>
  ip: string
  userAgent: string
  receivedAt: number
}

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
]

const PAGES = ['/', '/', '/', '/pricing', '/features', '/blog', '/blog/launch', '/blog/privacy-by-design', '/blog/release-notes', '/docs', '/docs/install', '/docs/api', '/about', '/contact', '/signup']

const REFERRERS = [
  '', '', '', '',
  'https://www.google.com/', 'https://www.google.com/', 'https://www.google.de/', 'https://www.bing.com/search',
  'https://duckduckgo.com/', 'https://t.co/abc', 'https://news.ycombinator.com/item', 'https://www.reddit.com/r/webdev/',
  'https://www.linkedin.com/feed/', 'https://github.com/example/repo', 'https://blog.example.org/a-review', 'https://partner.example.net/links',
]

const CAMPAIGNS = ['', '', '', '', '', '?utm_source=newsletter&utm_medium=email&utm_campaign=november', '?utm_source=google&utm_medium=cpc&utm_campaign=brand', '?utm_source=mastodon&utm_medium=social']

/** Allocated public /8 blocks across the five registries, so geography spreads over the world. */
const PUBLIC_FIRST_OCTETS = [
  2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217,
  3, 4, 8, 12, 24, 50, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 104, 107, 108, 173, 174, 184, 199, 204, 205, 206, 207, 208, 209,
  1, 14, 27, 36, 39, 42, 49, 58, 59, 60, 61, 101, 103, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 175, 180, 182, 183, 202, 203, 210, 211, 218, 219, 220, 221, 222,
  177, 179, 181, 186, 187, 189, 190, 191, 200, 201,
  41, 102, 105, 154, 196, 197,
]
const DOC_RANGES = ['192.0.2.', '198.51.100.', '203.0.113.']

/** A small deterministic generator, so a seed is repeatable with the same --random-seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 4294967296
  }
}

const pickFrom = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]

function syntheticIp(r: () => number): string {
  if (r() < 0.1) return pickFrom(r, DOC_RANGES) + (1 + Math.floor(r() * 254))
  return `${pickFrom(r, PUBLIC_FIRST_OCTETS)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`
}

export interface SeedOptions {
  site: string
  events: number
  days: number
  now?: number
  randomSeed?: number
}

/**
 * Visits of synthetic visitors spread over the last `days` days: pageviews with time
 * between them, engagement (with scroll depth), some outbound clicks, downloads and custom events
 * (signups, with revenue for paid plans).
 * Yields batches of events until `events` have been made.
 */
export function* syntheticTraffic(opts: SeedOptions, batchSize = 5000): Generator<SyntheticEvent[]> {
  const r = rng(opts.randomSeed ?? crypto.randomInt(1, 2 ** 31))
  const now = opts.now ?? Date.now()
  const span = opts.days * 86_400_000
  // Visitors repeat across visits: a pool about a third the size of the visit count.
  const visitorPool = Math.max(10, Math.round(opts.events / 12))
  const visitors: { ip: string; ua: string; width: number }[] = []
  for (let i = 0; i < Math.min(visitorPool, 200_000); i++) {
    const ua = pickFrom(r, AGENTS)
    visitors.push({ ip: syntheticIp(r), ua, width: /Mobile|iPhone|Android 1\d; Pixel/.test(ua) ? 390 : /iPad|SM-X/.test(ua) ? 820 : pickFrom(r, [1280, 1440, 1920]) })
  }
  const origin = `https://${opts.site}`
  let made = 0
  let batch: SyntheticEvent[] = []
  const push = (e: SyntheticEvent) => {
    batch.push(e)
    made++
  }
  while (made < opts.events) {
    const v = pickFrom(r, visitors)
    // more traffic on recent days and in daytime hours
    let t = now - Math.floor(Math.pow(r(), 1.3) * span)
    const referrer = pickFrom(r, REFERRERS)
    const campaign = referrer ? '' : pickFrom(r, CAMPAIGNS)
    const views = r() < 0.45 ? 1 : 2 + Math.floor(r() * 5)
    let page = r() < 0.5 ? '/' : pickFrom(r, PAGES)
    for (let i = 0; i < views && made < opts.events; i++) {
      const base = { d: opts.site, w: v.width }
      const ev = (body: Record<string, unknown>, at: number) => push({ body: { ...base, ...body }, ip: v.ip, userAgent: v.ua, receivedAt: Math.min(Math.round(at), now) })
      const url = origin + page + (i === 0 ? campaign : '')
      ev({ n: 'pageview', u: url, r: i === 0 ? referrer : origin + '/' }, t)
      const dwell = 5_000 + Math.floor(r() * 120_000)
      // the longer the stay, the deeper the scroll (no draw of its own: the same seed makes the same visits)
      if (made < opts.events && r() < 0.7) ev({ n: 'engagement', u: origin + page, e: dwell, sd: Math.min(100, 20 + Math.round(dwell / 1500)) }, t + dwell)
      if (made < opts.events && r() < 0.05) ev({ n: 'Outbound Link: Click', u: origin + page, p: { url: pickFrom(r, ['https://github.com/example/repo', 'https://docs.example.org/guide']) } }, t + dwell / 2)
      if (made < opts.events && page.startsWith('/docs') && r() < 0.1) ev({ n: 'File Download', u: origin + page, p: { url: origin + '/files/guide.pdf' } }, t + dwell / 2)
      if (made < opts.events && page === '/signup' && r() < 0.4) {
        const plan = pickFrom(r, ['free', 'pro', 'team'])
        // a paid plan's first payment, for a revenue goal on Signup in EUR
        ev({ n: 'Signup', u: origin + page, p: { plan }, ...(plan === 'free' ? {} : { $: { amount: plan === 'pro' ? 19 : 49, currency: 'EUR' } }) }, t + dwell / 2)
      }
      t += dwell + 1000
      page = pickFrom(r, PAGES)
      if (batch.length >= batchSize) {
        yield batch
        batch = []
      }
    }
  }
  if (batch.length) yield batch
}
