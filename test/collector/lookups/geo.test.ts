import { describe, expect, it } from 'vitest'
import { truncateIp } from '../../../collector/lookups/geo.ts'

describe('truncateIp', () => {
  it('truncateIp', () => {
    expect(truncateIp('192.0.2.123')).toBe('192.0.2.0')
    expect(truncateIp('::ffff:198.51.100.9')).toBe('198.51.100.0')
    expect(truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::')
    expect(truncateIp('2001:db8::1')).toBe('2001:db8::')
    expect(truncateIp('garbage')).toBe('garbage')
  })
})
