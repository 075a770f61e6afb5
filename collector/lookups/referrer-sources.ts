/** Channel of a source, Plausible-style, reduced to the six the dashboards group by. */
export type Channel = 'direct' | 'search' | 'social' | 'email' | 'paid' | 'referral'

/** Well-known referrer hosts (registrable domain, or a host prefix) → source name and its kind. */
const KNOWN: Record<string, [string, 'search' | 'social' | 'email']> = {
  'google': ['Google', 'search'],
  'bing.com': ['Bing', 'search'],
  'duckduckgo.com': ['DuckDuckGo', 'search'],
  'yahoo.com': ['Yahoo!', 'search'],
  'yandex': ['Yandex', 'search'],
  'baidu.com': ['Baidu', 'search'],
  'ecosia.org': ['Ecosia', 'search'],
  'qwant.com': ['Qwant', 'search'],
  'startpage.com': ['Startpage', 'search'],
  'search.brave.com': ['Brave Search', 'search'],
  'kagi.com': ['Kagi', 'search'],
  'naver.com': ['Naver', 'search'],
  'seznam.cz': ['Seznam', 'search'],
  'perplexity.ai': ['Perplexity', 'search'],
  'chatgpt.com': ['ChatGPT', 'search'],
  'facebook.com': ['Facebook', 'social'],
  'fb.com': ['Facebook', 'social'],
  'instagram.com': ['Instagram', 'social'],
  'twitter.com': ['Twitter', 'social'],
  't.co': ['Twitter', 'social'],
  'x.com': ['Twitter', 'social'],
  'linkedin.com': ['LinkedIn', 'social'],
  'lnkd.in': ['LinkedIn', 'social'],
  'reddit.com': ['Reddit', 'social'],
  'youtube.com': ['YouTube', 'social'],
  'pinterest.com': ['Pinterest', 'social'],
  'tiktok.com': ['TikTok', 'social'],
  'news.ycombinator.com': ['Hacker News', 'social'],
  'mastodon.social': ['Mastodon', 'social'],
  'bsky.app': ['Bluesky', 'social'],
  'threads.net': ['Threads', 'social'],
  'vk.com': ['VKontakte', 'social'],
  'weibo.com': ['Weibo', 'social'],
  'github.com': ['GitHub', 'social'],
  'stackoverflow.com': ['Stack Overflow', 'social'],
  'mail.google.com': ['Gmail', 'email'],
  'outlook.live.com': ['Outlook.com', 'email'],
  'mail.yahoo.com': ['Yahoo! Mail', 'email'],
  'mail.proton.me': ['Proton Mail', 'email'],
}

export function knownSource(host: string, registrable: string): [string, 'search' | 'social' | 'email'] | undefined {
  return KNOWN[host] ?? KNOWN[registrable] ?? KNOWN[registrable.split('.')[0]]
}

const PAID_MEDIUM = /^(?:cpc|ppc|paid|paidsearch|paid_search|paid-social|paidsocial|cpm|display|banner|retargeting)$/i
const EMAIL_MEDIUM = /^(?:e-?mail|newsletter)$/i
const SOCIAL_MEDIUM = /^(?:social|social-network|social-media|sm|social network|social media)$/i

/** The channel from what the referrer says and what the UTM tags say, UTM medium first. */
export function channelOf(kind: 'search' | 'social' | 'email' | 'referral' | 'direct', utmMedium: string): Channel {
  if (PAID_MEDIUM.test(utmMedium)) return 'paid'
  if (EMAIL_MEDIUM.test(utmMedium)) return 'email'
  if (SOCIAL_MEDIUM.test(utmMedium)) return 'social'
  return kind
}
