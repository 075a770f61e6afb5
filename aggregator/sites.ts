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

/** The registered sites, read from the store and held in memory for the collector's hot path. */
export class Sites {
  private byDomain = new Map<string, Site>()
  private timer: NodeJS.Timeout | null = null

  constructor(private client: ClickHouseClient) {}

  async refresh(): Promise<void> {
    const rs = await this.client.query({
      query: 'SELECT domain, timezone FROM sites FINAL WHERE deleted = 0 ORDER BY domain',
      format: 'JSONEachRow',
    })
    const rows = await rs.json<Site>()
    this.byDomain = new Map(rows.map((r) => [r.domain, r]))
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
    return site
  }
}
