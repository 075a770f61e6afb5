import { describe, expect, it } from 'vitest'
import { classifyReferrer } from '../../../collector/pipeline/classify-referrer.ts'
import { scrubUrl } from '../../../collector/pipeline/scrub-url.ts'
import { base, makeEvent, through } from './context.ts'

describe('classifyReferrer', () => {
  const classify = (url: string, referrer: string) => {
    const e = through(makeEvent({ url, referrer }), base, scrubUrl, classifyReferrer)
    return { source: e.source, channel: e.channel, referrerHost: e.referrerHost, referrerPath: e.referrerPath, referrer: e.referrer }
  }

  it('google is a search engine', () => {
    expect(classify('https://example.com/', 'https://www.google.com/search?q=secret')).toEqual({ source: 'Google', channel: 'search', referrerHost: 'google.com', referrerPath: '/search', referrer: '' })
    expect(classify('https://example.com/', 'https://www.google.co.uk/').source).toBe('Google')
  })

  it('t.co is Twitter, a social network', () => {
    expect(classify('https://example.com/', 'https://t.co/AbCdEf')).toMatchObject({ source: 'Twitter', channel: 'social', referrerHost: 't.co' })
  })

  it('Gmail is e-mail', () => {
    expect(classify('https://example.com/', 'https://mail.google.com/mail/u/0/')).toMatchObject({ source: 'Gmail', channel: 'email' })
  })

  it('a blog is a referral named by its host, its path kept without query and scrubbed', () => {
    expect(classify('https://example.com/', 'https://www.blog.example.org/posts/privacy-first?utm_x=1')).toEqual({
      source: 'blog.example.org',
      channel: 'referral',
      referrerHost: 'blog.example.org',
      referrerPath: '/posts/privacy-first',
      referrer: '',
    })
    expect(classify('https://example.com/', 'https://blog.example.org/users/jane.doe%40example.com').referrerPath).toBe('/users/[email]')
  })

  it('a same-site referrer is ignored', () => {
    expect(classify('https://example.com/pricing', 'https://www.example.com/')).toEqual({ source: '', channel: 'direct', referrerHost: '', referrerPath: '', referrer: '' })
    expect(classify('https://shop.example.com/cart', 'https://shop.example.com/item')).toMatchObject({ source: '', channel: 'direct', referrerHost: '' })
  })

  it('an unparseable or non-http referrer is ignored', () => {
    expect(classify('https://example.com/', 'not a url')).toMatchObject({ source: '', channel: 'direct', referrerHost: '' })
    expect(classify('https://example.com/', 'android-app://com.example.app/')).toMatchObject({ source: '', channel: 'direct', referrerHost: '' })
  })

  it('utm_medium=cpc makes the channel paid', () => {
    expect(classify('https://example.com/?utm_source=google&utm_medium=cpc', 'https://www.google.com/')).toMatchObject({ source: 'Google', channel: 'paid' })
  })

  it('utm_medium=email or newsletter makes the channel email', () => {
    expect(classify('https://example.com/?utm_source=weekly&utm_medium=email', '')).toMatchObject({ source: 'weekly', channel: 'email' })
    expect(classify('https://example.com/?utm_medium=Newsletter', 'https://www.blog.example.org/')).toMatchObject({ source: 'blog.example.org', channel: 'email' })
  })

  it('without a referrer, utm_source, ref or source name the source', () => {
    expect(classify('https://example.com/?utm_source=newsletter', '')).toMatchObject({ source: 'newsletter', channel: 'referral', referrerHost: '' })
    expect(classify('https://example.com/?ref=producthunt', '')).toMatchObject({ source: 'producthunt', channel: 'referral' })
    expect(classify('https://example.com/?source=hn', '')).toMatchObject({ source: 'hn', channel: 'referral' })
  })

  it('no referrer and no tags is direct', () => {
    expect(classify('https://example.com/', '')).toEqual({ source: '', channel: 'direct', referrerHost: '', referrerPath: '', referrer: '' })
  })
})
