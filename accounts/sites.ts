import fs from 'node:fs'
import type { ClickHouseClient } from '@clickhouse/client'
import { InputError } from '../http/errors.ts'

export interface Site {
  domain: string
  timezone: string
}

/** A site that cannot be registered or changed as asked: a bad time zone (400), an unknown site (404). */
export class SiteError extends InputError {
  static unknown(): SiteError {
    const err = new SiteError('there is no such site')
    err.statusCode = 404
    return err
  }
}

export const TIMEZONE_ERROR = 'timezone must be an IANA time zone the store knows, such as Europe/Berlin (GET /api/v1/sites/timezones lists them)'

/** The store's own list of time zones (`system.time_zones`), before `Intl` is asked about each. */
async function storeZoneNames(client: ClickHouseClient): Promise<string[]> {
  const rs = await client.query({ query: 'SELECT time_zone FROM system.time_zones ORDER BY time_zone', format: 'JSONEachRow' })
  return (await rs.json<{ time_zone: string }>()).map((r) => r.time_zone)
}

function intlKnows(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
    return true
  } catch {
    return false
  }
}

/** A domain as sites are registered: lower case, no scheme, path or leading `www.`. */
export function normaliseDomain(input: string): string | null {
  const d = input.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/[/?#].*$/, '').replace(/^www\./, '')
  return /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(d) ? d : null
}

/**
 * The registered sites, read from the store and held in memory for the collector's hot path.
 * With a snapshot file (the collector's, in its data directory) the last list read is also kept
 * on disk, so that a collector starting while the store is down still knows which sites to take.
 */
export class Sites {
  private byDomain = new Map<string, Site>()
  private timer: NodeJS.Timeout | null = null
  private saved = ''
  private timezones: Promise<Set<string>> | null = null
  private listed: Promise<Set<string>> | null = null
  /** Writes of the list begun and ended (each moves it), and those running: see `refresh`. */
  private writes = 0
  private writing = 0
  /** Whether a list is known at all (from the store, or from the snapshot). */
  known = false

  constructor(
    private client: ClickHouseClient,
    private snapshotFile?: string,
  ) {}

  async refresh(): Promise<void> {
    const before = this.writes
    const rs = await this.client.query({
      query: 'SELECT domain, timezone FROM sites FINAL WHERE deleted = 0 ORDER BY domain',
      format: 'JSONEachRow',
    })
    const rows = await rs.json<Site>()
    // a write of this process began or ended while the list was read: the list may be older than
    // it (a removed site listed again until the next refresh); the next refresh reads it
    if (this.writes !== before || this.writing > 0) return
    this.replace(rows)
  }

  /** Runs a write of the list, counted (`writes` at its start and its end) so that a refresh read meanwhile is not taken. */
  private async counted<T>(write: () => Promise<T>): Promise<T> {
    this.writes++
    this.writing++
    try {
      return await write()
    } finally {
      this.writing--
      this.writes++
    }
  }

  /** Takes the list kept by an earlier run; false when there is none (or it is unreadable). */
  loadSnapshot(): boolean {
    if (!this.snapshotFile) return false
    try {
      const rows = JSON.parse(fs.readFileSync(this.snapshotFile, 'utf8')) as unknown
      if (!Array.isArray(rows)) return false
      const sites = rows.filter((r): r is Site => typeof r?.domain === 'string' && typeof r?.timezone === 'string')
      this.byDomain = new Map(sites.map((r) => [r.domain, { domain: r.domain, timezone: r.timezone }]))
      this.known = true
      return true
    } catch {
      return false
    }
  }

  private replace(rows: Site[]): void {
    this.byDomain = new Map(rows.map((r) => [r.domain, r]))
    this.known = true
    this.save()
  }

  private save(): void {
    if (!this.snapshotFile) return
    const text = JSON.stringify(this.list())
    if (text === this.saved) return
    const tmp = `${this.snapshotFile}.tmp`
    fs.writeFileSync(tmp, text, { mode: 0o600 })
    fs.renameSync(tmp, this.snapshotFile)
    this.saved = text
  }

  /** Picks up sites added by another collector sharing the store. */
  refreshEvery(ms: number, onError: (err: Error) => void): void {
    this.timer = setInterval(() => this.refresh().catch(onError), ms)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }

  has(domain: string): boolean {
    return this.byDomain.has(domain)
  }

  get(domain: string): Site | undefined {
    return this.byDomain.get(domain)
  }

  list(): Site[] {
    return [...this.byDomain.values()]
  }

  /** The store's zones, read from the store once. */
  private storeZones(): Promise<Set<string>> {
    this.timezones ??= storeZoneNames(this.client).then(
      (zones) => new Set(zones),
      (err: unknown) => {
        this.timezones = null
        throw err
      },
    )
    return this.timezones
  }

  /**
   * The time zones a site may have (the list a user picks from), worked out once, when first
   * asked: those both halves of the statistics understand, the store's own list (local days are
   * computed in SQL) and this runtime's `Intl` (a period's bounds are computed here). A zone only
   * one of them knows (`US/Pacific-New` is in Node's ICU, not in ClickHouse) would make every
   * question about the site fail.
   */
  knownTimezones(): Promise<Set<string>> {
    this.listed ??= this.storeZones().then(
      (zones) => new Set([...zones].filter(intlKnows)),
      (err: unknown) => {
        this.listed = null
        throw err
      },
    )
    return this.listed
  }

  /**
   * Throws a SiteError (400) unless the store and the runtime both know `timezone`. `Intl` is
   * asked about this zone alone: asking it about all ~600 of the store's (as the list does)
   * loads ICU's data for each, 16 MB of memory and 6 MB of Node's own pages that a server
   * registering a site would otherwise keep from then on.
   */
  async checkTimezone(timezone: string): Promise<void> {
    if (!(await this.storeZones()).has(timezone) || !intlKnows(timezone)) throw new SiteError(TIMEZONE_ERROR)
  }

  async add(domain: string, timezone = 'UTC'): Promise<Site> {
    await this.checkTimezone(timezone)
    return this.write({ domain, timezone })
  }

  /** A registered site's new time zone (its daily statistics are then built again: see site-changes.ts). */
  async setTimezone(domain: string, timezone: string): Promise<Site> {
    if (!this.has(domain)) throw SiteError.unknown()
    await this.checkTimezone(timezone)
    return this.write({ domain, timezone })
  }

  /**
   * Unregisters a site: its beacons are dropped from now on, here at once and by other
   * collectors at their next refresh. False when there is no such site.
   */
  async remove(domain: string): Promise<boolean> {
    const site = this.byDomain.get(domain)
    if (!site) return false
    return this.counted(async () => {
      // a later row of the same second replaces an earlier one (ReplacingMergeTree keeps the last inserted)
      await this.client.insert({ table: 'sites', values: [{ ...site, deleted: 1 }], format: 'JSONEachRow' })
      this.byDomain.delete(domain)
      this.save()
      return true
    })
  }

  private write(site: Site): Promise<Site> {
    return this.counted(async () => {
      await this.client.insert({ table: 'sites', values: [{ ...site, deleted: 0 }], format: 'JSONEachRow' })
      this.byDomain.set(site.domain, site)
      this.save()
      return site
    })
  }
}
