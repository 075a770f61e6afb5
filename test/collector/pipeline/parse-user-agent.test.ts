import { describe, expect, it } from 'vitest'
import { parseUserAgent } from '../../../collector/pipeline/parse-user-agent.ts'
import { base, makeEvent, through, UA } from './context.ts'

describe('parseUserAgent', () => {
  const agent = (ua: string) => {
    const e = through(makeEvent({}, { ua }), base, parseUserAgent)
    return { browser: e.browser, browserVersion: e.browserVersion, os: e.os, osVersion: e.osVersion, device: e.device }
  }

  it('Chrome on Windows is a desktop', () => {
    expect(agent(UA.chromeWindows)).toEqual({ browser: 'Chrome', browserVersion: '131', os: 'Windows', osVersion: '10', device: 'Desktop' })
  })

  it('Safari on an iPhone is iOS on a mobile', () => {
    expect(agent(UA.iphone)).toEqual({ browser: 'Mobile Safari', browserVersion: '18', os: 'iOS', osVersion: '18.1', device: 'Mobile' })
  })

  it('Chrome on Android is a mobile', () => {
    expect(agent(UA.android)).toMatchObject({ os: 'Android', osVersion: '14', device: 'Mobile' })
    expect(agent(UA.android).browser).toMatch(/Chrome/)
  })

  it('an iPad is a tablet', () => {
    expect(agent(UA.ipad)).toMatchObject({ os: 'iOS', device: 'Tablet' })
  })

  it('Safari on macOS and Firefox on Linux are desktops', () => {
    expect(agent(UA.safariMac)).toMatchObject({ browser: 'Safari', os: 'macOS', device: 'Desktop' })
    expect(agent(UA.firefoxLinux)).toMatchObject({ browser: 'Firefox', browserVersion: '132', os: 'Linux', device: 'Desktop' })
  })

  it('an unknown agent is Unknown, not empty', () => {
    expect(agent('SomethingElse/1.0 (nothing known)')).toMatchObject({ browser: 'Unknown', os: 'Unknown' })
  })
})
