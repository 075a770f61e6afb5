import { describe, expect, it } from 'vitest'
import { NetworkLocator } from '../../../collector/lookups/asn.ts'

describe('NetworkLocator', () => {
  const networks = NetworkLocator.open()

  it('names the organisation of an address, IPv4 and IPv6, quoted names unquoted', () => {
    expect(networks.locate('8.8.8.0')).toBe('Google LLC')
    expect(networks.locate('2001:4860:4860::')).toBe('Google LLC')
    // a name with a comma is quoted in the file
    expect(networks.locate('1.1.1.0')).toBe('Cloudflare, Inc.')
    // and one with quotes has them doubled: 35309568 is 2.26.200.0
    expect(networks.locate('2.26.200.0')).toBe('LLC "SPUTNIK"')
    expect(networks.locate('::ffff:8.8.8.0')).toBe('Google LLC')
  })

  it('knows no organisation for documentation addresses or what is not an address', () => {
    for (const ip of ['192.0.2.1', '198.51.100.7', '203.0.113.9', '2001:db8::1', 'not an address', '']) expect(networks.locate(ip)).toBe('')
  })
})
