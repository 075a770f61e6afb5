import fs from 'node:fs'
import type { ClickHouseClient } from '@clickhouse/client'

export interface Site {
  domain: string
  timezone: string
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
  /** Whether a list is known at all (from the store, or from the snapshot). */
  known = false

  constructor(
    private client: ClickHouseClient,
    private snapshotFile?: string,
  ) {}

  async refresh(): Promise<void> {
    const rs = await this.client.query({
      query: 'SELECT domain, timezone FROM sites FINAL WHERE deleted = 0 ORDER BY domain',
      format: 'JSONEachRow',
    })
    this.replace(await rs.json<Site>())
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
    fs.writeFileSync(tmp, text)
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

  async add(domain: string, timezone = 'UTC'): Promise<Site> {
    const site = { domain, timezone }
    await this.client.insert({ table: 'sites', values: [{ ...site, deleted: 0 }], format: 'JSONEachRow' })
    this.byDomain.set(domain, site)
    this.save()
    return site
  }
}
