import type { ClickHouseClient } from '@clickhouse/client'
import { eraseSiteData } from '../retention/erase.ts'
import { SiteError, type Site, type Sites } from './sites.ts'

/**
 * What changing or removing a site must be coordinated with. The composition root (or the CLI,
 * with the store opened by itself) passes the daily rollup job and the spool writer.
 */
export interface SiteChangeDeps {
  sites: Sites
  client: ClickHouseClient
  rollups: {
    /** Runs `fn` while no daily build runs: a build must not put back rows `fn` deletes, nor use a zone being changed. */
    whileIdle<T>(fn: () => Promise<T>): Promise<T>
    /** Has the site's days built again (those whose events are still kept), here in its new time zone. */
    rebuildSite(site: string): Promise<void>
    /** Makes every process forget the rollup rows it read (their builds get new ids): after rows were erased. */
    renewBuilds(): Promise<void>
  }
  /** Sends what the collector already accepted to the store, so that nothing of the site arrives after its data are deleted. */
  drainSpool(): Promise<unknown>
}

/** A site's new time zone: its local days change, so its daily statistics are built again. */
export async function changeTimezone(deps: SiteChangeDeps, domain: string, timezone: string): Promise<Site> {
  return deps.rollups.whileIdle(async () => {
    const site = await deps.sites.setTimezone(domain, timezone)
    await deps.rollups.rebuildSite(domain)
    return site
  })
}

/**
 * Removes a site with everything stored about it: it is unregistered first (its beacons are
 * dropped from then on), what was accepted before reaches the store, then every per-site table
 * loses the site's rows. Answers the tables that held some.
 */
export async function removeSite(deps: SiteChangeDeps, domain: string): Promise<string[]> {
  if (!(await deps.sites.remove(domain))) throw SiteError.unknown()
  await deps.drainSpool()
  return deps.rollups.whileIdle(async () => {
    const tables = await eraseSiteData(deps.client, domain)
    await deps.rollups.renewBuilds()
    return tables
  })
}
