import { describe, expect, it } from 'vitest'
import { networkHash, networkPrefix } from '../../collector/network-hash.ts'

describe('the network a visitor writes from', () => {
  it('is the IPv4 /24 or the IPv6 /48, however the address is written', () => {
    expect(networkPrefix('192.0.2.10')).toBe('4:192.0.2')
    expect(networkPrefix('192.0.2.250')).toBe(networkPrefix('192.0.2.10'))
    expect(networkPrefix('::ffff:192.0.2.77')).toBe('4:192.0.2')
    expect(networkPrefix('2001:db8:1::1')).toBe(networkPrefix('2001:0db8:0001:ffff::9'))
    expect(networkPrefix('2001:db8:1::1')).not.toBe(networkPrefix('2001:db8:2::1'))
    expect(networkPrefix('not an address')).toBe('')
  })

  it('is stored as a keyed hash that changes with the salt and the site, never as the prefix', () => {
    const salt = Buffer.alloc(32, 1)
    const id = networkHash(salt, 'example.com', '198.51.100.20')
    expect(id).toMatch(/^[1-9]\d*$/)
    expect(networkHash(salt, 'example.com', '198.51.100.99')).toBe(id)
    expect(networkHash(Buffer.alloc(32, 2), 'example.com', '198.51.100.20')).not.toBe(id)
    expect(networkHash(salt, 'example.org', '198.51.100.20')).not.toBe(id)
    expect(networkHash(salt, 'example.com', '')).toBe('0')
  })
})
