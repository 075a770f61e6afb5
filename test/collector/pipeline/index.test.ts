import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runPipeline, STEPS } from '../../../collector/pipeline/index.ts'
import { base, expectRow, incoming, T0, UA } from './context.ts'

/** The `events` table's columns, in order, as the numbered migrations leave it (CREATE TABLE, then ADD COLUMN). */
function eventsColumns(): string[] {
  const dir = new URL('../../../store/migrations/', import.meta.url)
  const files = fs.readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()
  let columns: string[] = []
  for (const file of files) {
    const sql = fs.readFileSync(new URL(file, dir), 'utf8').replace(/--.*$/gm, '')
    const create = /CREATE TABLE(?: IF NOT EXISTS)? events\s*\(([\s\S]*?)\n\)/.exec(sql)
    if (create) {
      columns = create[1]
        .split('\n')
        .map((line) => /^\s*([a-z_][a-z0-9_]*)\s+\S/i.exec(line)?.[1])
        .filter((c): c is string => Boolean(c))
    }
    for (const alter of sql.matchAll(/ALTER TABLE events\s+([\s\S]*?);/g)) {
      for (const add of alter[1].matchAll(/ADD COLUMN (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)[^,]*?(?:\s(AFTER)\s+([a-z_][a-z0-9_]*)|\s(FIRST))?\s*(?:,|$)/gi)) {
        if (columns.includes(add[1])) continue
        if (add[2]) columns.splice(columns.indexOf(add[3]) + 1, 0, add[1])
        else if (add[4]) columns.unshift(add[1])
        else columns.push(add[1])
      }
    }
  }
  return columns
}

describe('runPipeline', () => {
  const columns = eventsColumns()

  it('the columns were read from the migration', () => {
    expect(columns).toContain('visitor_id')
    expect(columns).toContain('props')
    expect(columns.length).toBeGreaterThan(20)
  })

  it('a full row has exactly the events table’s columns, enriched and scrubbed', () => {
    const row = expectRow(
      runPipeline(
        incoming(
          {
            name: 'pageview',
            url: 'https://www.example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring&email=jane.doe@example.com&session=abc#frag',
            domain: 'example.com',
            referrer: 'https://www.google.com/search?q=secret',
            props: { plan: 'pro', contact: 'jane.doe@example.com' },
            screen_width: 1280,
            engagement_time: 1234,
          },
          { ip: '81.2.69.160', ua: UA.chromeWindows },
        ),
        base,
      ),
    )
    expect(Object.keys(row)).toEqual(columns)
    const expected = {
      site: 'example.com',
      ts: T0,
      name: 'pageview',
      visitor_id: expect.stringMatching(/^[1-9]\d*$/),
      network_id: expect.stringMatching(/^[1-9]\d*$/),
      visit_id: expect.stringMatching(/^[1-9]\d*$/),
      visit_flags: 3, // the visit's first event and first pageview
      hostname: 'example.com',
      pathname: '/pricing',
      query: '',
      referrer_host: 'google.com',
      referrer_path: '/search',
      source: 'Google',
      channel: 'email',
      utm_source: 'newsletter',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_content: '',
      utm_term: '',
      browser: 'Chrome',
      browser_version: '131',
      os: 'Windows',
      os_version: '10',
      device: 'Desktop',
      screen: 'Laptop',
      country: 'GB',
      region: 'England',
      city: 'London',
      engagement_ms: 1234,
      returning: 2, // unknown: the strict policy does not let the tracker keep a last-visit day
      props: { plan: 'pro', contact: '[email]' },
      revenue_amount: '0', // none carried (a pageview never does)
      scroll_depth: 255, // none reported (only engagement pings report one)
    }
    expect(row).toMatchObject(expected)
    // columns added since (e.g. dimensions off by default) stay empty
    for (const [column, value] of Object.entries(row)) if (!(column in expected)) expect(value, column).toBe('')
    const text = JSON.stringify(row)
    expect(text).not.toContain('81.2.69')
    expect(text).not.toContain('Mozilla')
    expect(text).not.toMatch(/\b\d{1,3}(?:\.\d{1,3}){3}\b/)
    expect(text).not.toMatch(/jane|secret|abc|frag/)
  })

  it('no IPv6 address or User-Agent survives either', () => {
    const row = expectRow(runPipeline(incoming({ n: 'pageview', u: 'https://example.com/', d: 'example.com' }, { ip: '2001:db8:1::2', ua: UA.iphone }), base))
    const text = JSON.stringify(row)
    expect(text).not.toMatch(/2001:db8|Mozilla|iPhone OS|AppleWebKit/)
    expect(Object.keys(row)).toEqual(columns)
  })

  it('stops at the first drop', () => {
    expect(runPipeline(incoming({ name: 'pageview' }), base)).toEqual({ drop: 'invalid', detail: 'url is required' })
    expect(runPipeline(incoming({ n: 'pageview', u: 'https://other.example.net/' }), base)).toEqual({ drop: 'unknown_site' })
    expect(runPipeline(incoming({ n: 'pageview', u: 'https://example.com/' }, { ua: UA.googlebot }), base)).toEqual({ drop: 'bot' })
    expect(runPipeline(incoming({ n: 'pageview', u: 'https://example.com/' }, { dnt: true }), base)).toEqual({ drop: 'consent_dnt' })
  })

  it('the IP and User-Agent are used before hashVisitor forgets them', () => {
    const names = STEPS.map(([name]) => name)
    const at = (name: string) => {
      const i = names.indexOf(name)
      expect(i, name).toBeGreaterThanOrEqual(0)
      return i
    }
    expect(at('dropBots')).toBeLessThan(at('hashVisitor'))
    expect(at('parseUserAgent')).toBeLessThan(at('hashVisitor'))
    expect(at('locateIp')).toBeLessThan(at('hashVisitor'))
    expect(at('applyConsentSignals')).toBeLessThan(at('hashVisitor'))
    expect(at('scrubUrl')).toBeLessThan(at('applyEventPolicy'))
    expect(at('scrubUrl')).toBeLessThan(at('classifyReferrer'))
    expect(at('knownSite')).toBe(0)
    expect(at('keepAllowedDimensions')).toBe(names.length - 1)
  })
})
