import { describe, expect, it } from 'vitest'
import { runPipeline, STEPS } from '../../../collector/pipeline/index.ts'
import { keepAllowedDimensions } from '../../../collector/pipeline/keep-allowed-dimensions.ts'
import type { Policy } from '../../../policy/policy.ts'
import { context, expectRow, incoming, makeEvent, policyWith, strict, through } from './context.ts'

describe('keepAllowedDimensions', () => {
  const full = (policy: Policy) =>
    expectRow(
      runPipeline(
        incoming(
          {
            name: 'pageview',
            url: 'https://example.com/pricing?utm_source=newsletter&utm_medium=email&ref=hn',
            domain: 'example.com',
            referrer: 'https://www.blog.example.org/post',
            screen_width: 1280,
          },
          { ip: '81.2.69.160' },
        ),
        context({ policy }),
      ),
    )

  it('empties the dimensions the policy leaves out (city, browser_version)', () => {
    const dimensions = ['path', 'referrer_host', 'referrer_path', 'source', 'channel', 'utm', 'browser', 'os', 'os_version', 'device', 'screen', 'country', 'region']
    const row = full(policyWith({ dimensions }))
    expect(row.city).toBe('')
    expect(row.browser_version).toBe('')
    expect(row).toMatchObject({ country: 'GB', region: 'England', browser: 'Chrome', os: 'Windows', os_version: '10', device: 'Desktop', screen: 'Laptop', pathname: '/pricing' })
  })

  it('without utm, the UTM fields and the kept query are emptied', () => {
    const row = full(policyWith({ dimensions: ['path', 'source'] }))
    expect([row.utm_source, row.utm_medium, row.utm_campaign, row.utm_content, row.utm_term, row.query]).toEqual(['', '', '', '', '', ''])
    expect(row.source).toBe('blog.example.org')
  })

  it('with no dimensions at all, every dimension column is empty', () => {
    const policy = policyWith({ dimensions: [] })
    const e = through(makeEvent({ url: 'https://example.com/a?utm_source=x&ref=y', referrer: 'https://www.google.com/', w: 400 }, { ip: '81.2.69.160', policy }), context({ policy }), ...STEPS.map(([, step]) => step))
    expect(keepAllowedDimensions(e, context({ policy }))).toBe(e)
    expect({
      pathname: e.pathname, query: e.query, referrerHost: e.referrerHost, referrerPath: e.referrerPath, source: e.source, channel: e.channel, ...e.utm,
      browser: e.browser, browserVersion: e.browserVersion, os: e.os, osVersion: e.osVersion, device: e.device, screen: e.screen, country: e.country, region: e.region, city: e.city,
    }).toEqual(Object.fromEntries(['pathname', 'query', 'referrerHost', 'referrerPath', 'source', 'channel', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'browser', 'browserVersion', 'os', 'osVersion', 'device', 'screen', 'country', 'region', 'city'].map((k) => [k, ''])))
    expect(e.hostname).toBe('example.com')
  })

  it('with every dimension allowed, nothing is emptied', () => {
    const row = full(strict)
    expect(row).toMatchObject({ city: 'London', browser_version: '131', utm_source: 'newsletter', query: 'ref=hn', referrer_host: 'blog.example.org' })
  })
})
