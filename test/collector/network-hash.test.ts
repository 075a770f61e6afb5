import { isIPv4 } from 'node:net'
import ipaddr from 'ipaddr.js'
import { describe, expect, it } from 'vitest'
import { networkHash, networkPrefix } from '../../collector/network-hash.ts'

/** The prefix as ipaddr.js works it out for any address (what networkPrefix did for every IPv6 one). */
function viaIpaddr(ip: string): string {
  if (isIPv4(ip)) return `4:${ip.slice(0, ip.lastIndexOf('.'))}`
  if (!ipaddr.isValid(ip)) return ''
  const addr = ipaddr.process(ip)
  const bytes = addr.toByteArray()
  return addr.kind() === 'ipv4' ? `4:${bytes.slice(0, 3).join('.')}` : `6:${Buffer.from(bytes.slice(0, 6)).toString('hex')}`
}

/** Every way to write eight groups: full, zero-padded, upper case, and each run of zero groups as `::`. */
function writings(groups: number[]): string[] {
  const hex = groups.map((g) => g.toString(16))
  const out = [hex.join(':'), groups.map((g) => g.toString(16).padStart(4, '0')).join(':'), hex.join(':').toUpperCase()]
  for (let i = 0; i < 8; i++) {
    for (let j = i + 1; j <= 8 && groups[j - 1] === 0; j++) out.push(`${hex.slice(0, i).join(':')}::${hex.slice(j).join(':')}`)
  }
  return out
}

describe('the network a visitor writes from', () => {
  it('is the IPv4 /24 or the IPv6 /48, however the address is written', () => {
    expect(networkPrefix('192.0.2.10')).toBe('4:192.0.2')
    expect(networkPrefix('192.0.2.250')).toBe(networkPrefix('192.0.2.10'))
    expect(networkPrefix('::ffff:192.0.2.77')).toBe('4:192.0.2')
    expect(networkPrefix('2001:db8:1::1')).toBe(networkPrefix('2001:0db8:0001:ffff::9'))
    expect(networkPrefix('2001:db8:1::1')).not.toBe(networkPrefix('2001:db8:2::1'))
    expect(networkPrefix('not an address')).toBe('')
  })

  it('reads an IPv6 address in hex groups as ipaddr.js does, however it is written (property)', () => {
    let seed = 7
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
    const odd = ['::', '::1', '1::', 'fe80::1', '::ffff:c000:20a', '::ffff:0:0', '0:0:0:0:0:ffff:c633:6414', '2001:db8::1%eth0', '::ffff:192.0.2.1', '::192.0.2.1', '1:2:3:4:5:6:7:8:9', '2001:db8:::1', '12345::1', 'g::1']
    const cases = [...odd]
    for (let k = 0; k < 3000; k++) {
      // zero groups often (so that `::` has runs to stand for), IPv4-mapped ones and zero /48s too
      const groups = Array.from({ length: 8 }, () => (random(3) === 0 ? 0 : random(3) === 0 ? random(16) : random(65536)))
      if (k % 7 === 0) groups.splice(0, 6, 0, 0, 0, 0, 0, 0xffff)
      if (k % 11 === 0) groups.fill(0, 0, 3)
      cases.push(...writings(groups))
    }
    for (const ip of cases) expect(networkPrefix(ip), ip).toBe(viaIpaddr(ip))
    expect(cases.length).toBeGreaterThan(20_000)
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
