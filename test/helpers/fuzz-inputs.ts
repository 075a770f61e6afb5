/**
 * The junk of the bad-input fuzzing (issue 6, point 3), shared by test/fuzz.test.ts (a few
 * seconds in `npm test`) and scripts/fuzz.ts (`npm run fuzz`, minutes against a real server).
 */
import fc from 'fast-check'
import { METRICS } from '../../aggregator/stats/metrics.ts'
import { COMPARISONS, PERIODS } from '../../aggregator/stats/period.ts'
import { PROPERTIES } from '../../aggregator/stats/properties.ts'
import { DOC_IPS, UA } from './app.ts'
import { utcDay } from '../../store/time.ts'

export const SITES = ['example.com', 'other.example']

/** What an attacker would try: SQL, ClickHouse parameter syntax, markup, prototype keys. */
export const HOSTILE = [
  "'; DROP TABLE events; --",
  "') OR 1=1 --",
  '{site:String}',
  '{site:Identifier}',
  "' UNION SELECT * FROM tokens --",
  '\\\'; SELECT 1; --',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg onload=alert(1)>',
  'javascript:alert(1)',
  '__proto__',
  'constructor',
  'prototype',
  '%00',
  '\u0000',
  '\uD800',
  '../../etc/passwd',
  '${7*7}',
  '🙂'.repeat(20),
]
/** Text that must never come back in an error, a page or the store. */
export const MARKERS = ['<script', 'onerror=', 'onload=', 'DROP TABLE', 'OR 1=1', 'UNION SELECT', '{site:']

export const hostile = fc.constantFrom(...HOSTILE)
export const text = fc.oneof(hostile, fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }))

/** encodeURIComponent that does not throw on a lone surrogate (it becomes U+FFFD, as a browser would send it). */
export function enc(s: string): string {
  try {
    return encodeURIComponent(s)
  } catch {
    return [...Buffer.from(s, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('')
  }
}

export const field = (key: string) =>
  fc.oneof(
    { weight: 3, arbitrary: text },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue(), { maxKeys: 3 })) },
    { weight: 2, arbitrary: key === 'u' || key === 'url' ? fc.oneof(fc.webUrl(), text.map((t) => `https://example.com/${t}`)) : key === 'd' || key === 'domain' ? fc.constantFrom(...SITES, 'unknown.example', '') : text },
  )
/** An object shaped like a beacon, with any field of any type. */
export const beaconLike = fc
  .record(
    {
      n: fc.oneof(fc.constantFrom('pageview', 'engagement', 'Signup', 'Outbound Link: Click', 'File Download'), field('n')),
      u: field('u'),
      d: field('d'),
      r: field('r'),
      w: field('w'),
      e: field('e'),
      h: field('h'),
      v: field('v'),
      p: fc.oneof(fc.dictionary(fc.oneof(hostile, fc.string({ maxLength: 10 })), fc.oneof(text, fc.integer(), fc.boolean(), fc.jsonValue())), field('p'), text.map((t) => JSON.stringify({ k: t }))),
      name: field('name'),
      url: field('url'),
      domain: field('domain'),
      props: field('props'),
      screen_width: field('screen_width'),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o))
/** `{"__proto__": ...}` and friends, written as JSON text so the keys really reach the parser. */
export const protoKeys = fc
  .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.constantFrom('', ',"props"', ',"p"'), fc.jsonValue())
  .map(([k, where, v]) =>
    where
      ? `{"n":"Signup","u":"https://example.com/x","d":"example.com"${where}:{"${k}":${JSON.stringify(v)},"${k}":{"polluted":"yes"}}}`
      : `{"${k}":{"polluted":"yes","n":"pageview"},"n":"pageview","u":"https://example.com/x","d":"example.com"}`,
  )
export const deep = fc.integer({ min: 50, max: 5000 }).map((depth) => '{"n":"pageview","p":' + '['.repeat(depth) + ']'.repeat(depth) + '}')
export const deepObject = fc.integer({ min: 50, max: 1000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth))
export const huge = fc.integer({ min: 8193, max: 200_000 }).map((n) => JSON.stringify({ n: 'pageview', u: 'https://example.com/' + 'a'.repeat(n), d: 'example.com' }))
export const malformed = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '}', '[', 'null', 'true', '1', '"x"', '{"n":', '{"n":"pageview",}', "{'n':'pageview'}", '{"n":NaN}', '\ufeff{}', '{"u":"\\ud800"}'),
  fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))),
)
export const anything = fc.anything().map((v) => {
  try {
    return JSON.stringify(v) ?? 'undefined'
  } catch {
    return String(v)
  }
})
export const body = fc.oneof(
  { weight: 4, arbitrary: beaconLike },
  { weight: 2, arbitrary: fc.json() },
  { weight: 1, arbitrary: anything },
  { weight: 2, arbitrary: malformed },
  { weight: 1, arbitrary: protoKeys },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: deepObject },
  { weight: 1, arbitrary: huge },
)
/** Bytes that are not UTF-8: lone continuation bytes, overlongs, surrogates, truncated sequences. */
export const badUtf8 = fc
  .tuple(
    fc.constantFrom('{"n":"pageview","u":"https://example.com/', '{"n":"', '{"d":"example.com","n":"x","u":"https://example.com/a","p":{"k":"', ''),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from([0xc0, 0x80, 0xed, 0xa0, 0x80, 0xff, ...a])),
    fc.constantFrom('"}', '","d":"example.com"}', '"}}', ''),
  )
  .map(([a, b, c]) => Buffer.concat([Buffer.from(a), b, Buffer.from(c)]))
export const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('application/json', 'text/plain', 'text/plain;charset=UTF-8', 'application/json; charset=latin1') },
  { weight: 1, arbitrary: fc.constantFrom('application/x-www-form-urlencoded', 'multipart/form-data', 'image/gif', 'text/html', 'application/json-seq', 'text/plain; boundary=<script>') },
)
/** Client addresses and User-Agents as a proxy or a liar may send them. */
export const clientIp = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...DOC_IPS) }, fc.constantFrom('999.999.999.999', '::::', '1.2.3.4, , ,', '', 'unknown', '<script>', '2001:db8::1%eth0', '[2001:db8::1]:80'), fc.stringMatching(/^[ -~]{0,40}$/))
export const userAgent = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...Object.values(UA)) }, fc.stringMatching(/^[ -~]{0,300}$/), fc.constantFrom('', '<script>alert(1)</script>', "'; DROP TABLE events; --"), fc.integer({ min: 1000, max: 16000 }).map((n) => 'Mozilla/5.0 '.padEnd(n, 'x')))

export const GIF_MAGIC = 'GIF8'
export const rawQueryChunk = fc.oneof(
  fc.constantFrom('%', '%%', '%E0%A4%A', '%ff%fe', '%ED%A0%80', '%C0%80', '%00', '&&', '==', '=', '&=&', '+', '%2', 'd[]=x', 'd[a]=1', '__proto__[x]=1', 'constructor[prototype][x]=1'),
  fc.stringMatching(/^[!-~]{0,30}$/).map((s) => s.replace(/#/g, '%23')),
)
export const gifQuery = fc.oneof(
  fc
    .dictionary(fc.oneof(fc.constantFrom('d', 'u', 'r', 'w', 'n'), fc.constantFrom('__proto__', 'constructor', 'x'), fc.string({ maxLength: 5 })), fc.oneof(text, fc.constantFrom(...SITES), fc.webUrl(), fc.constant('/path')), { maxKeys: 6 })
    .map((o) => Object.entries(o).map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')),
  fc.array(rawQueryChunk, { maxLength: 6 }).map((a) => a.join('&')),
  fc.tuple(fc.constantFrom(...SITES), text).map(([d, u]) => `d=${d}&u=${enc('/' + u)}`),
)


export const date = fc.oneof(
  fc.constantFrom('9999-99-99', '0000-00-00', '2026-02-30', '2026-13-01', '2026-00-10', '1970-01-01', '9999-12-31', '0001-01-01', '2026-11-29', '-001-01-01', '2026-1-1', '20261129', '', ' ', 'today', 'NaN', '1e10', '2026-11-29T', "'--"),
  fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }).map((d) => utcDay(d)),
  fc.tuple(fc.integer({ min: -1, max: 99999 }), fc.integer({ min: -1, max: 99 }), fc.integer({ min: -1, max: 99 })).map(([y, m, d]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`),
  text,
)
export const propertyName = fc.oneof(fc.constantFrom(...Object.keys(PROPERTIES)), text.map((t) => `prop:${t}`), fc.constantFrom('prop:', 'prop:plan', 'PAGE', 'page ', 'event:page', 'visit:source'), text)
export const operator = fc.constantFrom('==', '!=', '~', '=', '<', '>', '<=', '!~', '|', ';', '===', '', '==|', '!')
export const filterValue = fc.oneof(text, fc.constantFrom('DE', '/pricing', 'Google', 'DE|AT', '|', '||', ';', '%', '_', '\\', "'", '"', '`'))
export const filters = fc.oneof(
  fc.array(fc.tuple(propertyName, operator, filterValue).map(([p, o, v]) => `${p}${o}${v}`), { maxLength: 5 }).map((a) => a.join(';')),
  fc
    .tuple(fc.array(fc.tuple(propertyName, operator, fc.array(filterValue, { minLength: 1, maxLength: 4 })).map(([p, o, v]) => `${p}${o}${v.join('|')}`), { maxLength: 3 }), fc.constantFrom(';', ';;', ' ; ', '|'))
    .map(([a, sep]) => a.join(sep)),
  fc.string({ maxLength: 2100 }),
  text,
)
export const step = fc.oneof(
  fc.record({ page: fc.oneof(text, fc.constantFrom('/', '/pricing', '/*', '*', '')) }, { requiredKeys: [] }),
  fc.record({ event: fc.oneof(text, fc.constantFrom('Signup')), prop: fc.oneof(fc.record({ key: text, value: text }, { requiredKeys: [] }), fc.jsonValue()) }, { requiredKeys: [] }),
  fc.jsonValue(),
)
export const steps = fc.oneof(
  fc.array(step, { maxLength: 10 }).map((a) => JSON.stringify(a)),
  fc.json(),
  malformed,
  fc.integer({ min: 1, max: 2000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
  fc.constantFrom('[{"page":"/"},{"page":"/pricing"}]', '[{"page":"/"}]', '[{"__proto__":{"page":"/"}},{"page":"/"}]', '[{"page":"/","constructor":{"prototype":1}},{"event":"Signup"}]'),
)
export const limit = fc.oneof(fc.constantFrom('-1', '0', '1', '100', '1000', '1001', '1e9', '1.5', 'NaN', 'Infinity', '', 'abc', '0x10', '99999999999999999999'), fc.integer().map(String), text)

/** Mostly a good value, sometimes junk: a question with one bad parameter among good ones reaches deeper. */
export const mostly = (good: fc.Arbitrary<string>, bad: fc.Arbitrary<string>) => fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: bad })
export const recentDate = fc.integer({ min: -400, max: 5 }).map((d) => utcDay(Date.now() + d * 86_400_000))
/** Plausible values and junk for each query parameter, by name; anything else gets junk. */
export const VALUES: Record<string, fc.Arbitrary<string>> = {
  site: fc.oneof({ weight: 12, arbitrary: fc.constant('example.com') }, fc.constantFrom('other.example', 'EXAMPLE.COM', 'unknown.example', ''), text),
  period: mostly(fc.constantFrom(...PERIODS), fc.oneof(fc.constantFrom('forever', '7D', '30d;', '1y', '', 'all', 'custom ', '-7d'), text)),
  date: mostly(recentDate, date),
  from: mostly(recentDate, date),
  to: mostly(recentDate, date),
  // conversion_rate needs a goal filter: without one it is a 400, so it is mostly left out
  metrics: mostly(fc.subarray(METRICS.filter((m) => m !== 'conversion_rate'), { minLength: 1 }).map((m) => m.join(',')), fc.oneof(fc.array(fc.oneof(fc.constantFrom(...METRICS), text), { maxLength: 5 }).map((a) => a.join(',')), text)),
  property: mostly(fc.constantFrom(...Object.keys(PROPERTIES), 'prop:plan'), propertyName),
  filters: mostly(fc.array(fc.tuple(fc.constantFrom(...Object.keys(PROPERTIES), 'prop:plan'), fc.constantFrom('==', '!=', '~'), fc.array(filterValue, { minLength: 1, maxLength: 3 })).map(([p, o, v]) => `${p}${o}${v.join('|')}`), { maxLength: 3 }).map((a) => a.join(';')), filters),
  limit: mostly(fc.integer({ min: 1, max: 100 }).map(String), limit),
  interval: mostly(fc.constantFrom('minute', 'hour', 'day', 'week', 'month'), fc.oneof(fc.constantFrom('year', 'second', ''), text)),
  format: mostly(fc.constantFrom('csv', 'json', 'parquet', 'zip'), fc.oneof(fc.constantFrom('xlsx', 'CSV', ''), text)),
  steps: mostly(fc.array(fc.oneof(fc.record({ page: fc.oneof(fc.constantFrom('/', '/pricing', '/blog*'), text.map((t) => `/${t}`)) }), fc.record({ event: fc.oneof(fc.constant('Signup'), text) })), { minLength: 2, maxLength: 8 }).map((a) => JSON.stringify(a)), steps),
  goals: fc.oneof(fc.array(fc.oneof(fc.stringMatching(/^[0-9a-f]{12}$/), text), { maxLength: 9 }).map((a) => a.join(',')), text),
  comparison: mostly(fc.constantFrom(...COMPARISONS), fc.oneof(fc.constantFrom('previous', 'yoy', ''), text)),
  compare: mostly(fc.constantFrom(...COMPARISONS), fc.oneof(fc.constantFrom('previous', 'yoy', ''), text)),
  compare_from: mostly(recentDate, date),
  compare_to: mostly(recentDate, date),
  page: mostly(fc.oneof(fc.constantFrom('/', '/pricing', '/blog'), text.map((t) => `/${t}`)), fc.oneof(fc.constantFrom('/*', 'pricing', ''), text)),
}
export const junk = fc.oneof(text, fc.string({ maxLength: 300 }))

export function queryFor(params: string[]) {
  // each parameter present or not; with a small chance of one it does not know and of a repeated one
  return fc
    .tuple(
      fc.tuple(...params.map((p) => fc.option(VALUES[p] ?? junk, { nil: undefined, freq: p === 'site' ? 20 : p === 'steps' || p === 'page' || p === 'property' ? 10 : 2 }))),
      fc.option(fc.tuple(fc.constantFrom('x', '__proto__', 'constructor', 'site', 'filters', 'period'), junk), { nil: undefined, freq: 4 }),
    )
    .map(([values, extra]) => {
      const pairs = params.flatMap((p, i) => (values[i] === undefined ? [] : [[p, values[i]] as [string, string]]))
      if (extra) pairs.push(extra)
      return pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')
    })
}

export const markup = fc.oneof(
  fc.constantFrom('<script>alert(1)</script>', '"><script>alert(1)</script>', "'><img src=x onerror=alert(1)>", '<svg/onload=alert(1)>', '</title><script>alert(1)</script>', '<!--<script>-->', 'example.com<script>alert(1)</script>', 'javascript:alert(1)'),
  fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom('<script>alert(1)</script>', '<img src=x onerror=alert(1)>')).map(([a, b]) => a + b),
)

