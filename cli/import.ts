import fs from 'node:fs'
import path from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Command } from 'commander'
import { zipSync } from 'fflate'
import { resolveAdminToken } from '../accounts/auth.ts'
import type { Sites } from '../accounts/sites.ts'
import { addUpload } from '../aggregator/imports/archive.ts'
import type { ImportInfo } from '../aggregator/imports/store.ts'
import { scrubIdentifiers } from '../identifiers/catalogue.ts'
import { loadPolicy, type Policy } from '../policy/policy.ts'
import { loadConfig, type Config } from '../server/config.ts'
import { runningServer } from '../server/listen.ts'
import { printable } from './terminal.ts'
import type { StoreAccess } from './tokens.ts'

/** The files named on the command line: a zip unpacked, a directory's CSV files, CSV files. */
export function readImportPaths(paths: string[]): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>()
  for (const p of paths) {
    const stat = fs.statSync(p, { throwIfNoEntry: false })
    if (!stat) throw new Error(`${p}: no such file or directory`)
    const names = stat.isDirectory() ? fs.readdirSync(p).filter((n) => n.endsWith('.csv')).sort().map((n) => path.join(p, n)) : [p]
    if (names.length === 0) throw new Error(`${p}: no CSV files in this directory`)
    for (const n of names) addUpload(files, n, fs.readFileSync(n))
  }
  return files
}

/**
 * Imports the files into `domain` with the store opened here (no server running): what
 * `analytics import` does then. Values are scrubbed under `policy` as the server scrubs them.
 */
export async function importHere(client: ClickHouseClient, sites: Sites, policy: Policy, domain: string, files: ReadonlyMap<string, Uint8Array>): Promise<{ info: ImportInfo; replaced: boolean }> {
  const { readPlausibleExport } = await import('../aggregator/imports/plausible-csv.ts')
  const { ImportStore } = await import('../aggregator/imports/store.ts')
  const site = sites.get(domain.toLowerCase())
  if (!site) throw new Error(`${domain} is not a registered site (analytics site add ${domain})`)
  const scrub = (v: string) => scrubIdentifiers(v, policy.forSite(site.domain).scrub)
  return new ImportStore(client).import(site.domain, readPlausibleExport(files, scrub), files)
}

/** Sends the files, zipped, to the running server's import route (the server owns the store). */
async function importThroughServer(config: Config, domain: string, files: ReadonlyMap<string, Uint8Array>): Promise<{ import: ImportInfo; replaced: boolean }> {
  const server = runningServer(config.dataDir)!
  const { token } = resolveAdminToken(config.adminToken, config.dataDir)
  const zip = zipSync(Object.fromEntries(files))
  const res = await fetch(`${server.url}/api/v1/imports?site=${encodeURIComponent(domain)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/zip' },
    body: zip,
  })
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>
  if (!res.ok) throw new Error(String(json.error ?? `server answered ${res.status}`))
  return json as unknown as { import: ImportInfo; replaced: boolean }
}

const describe = (i: ImportInfo) => `${i.id}\t${i.source}\t${i.from} to ${i.to}\t${i.state}\t${i.files.length} files`

/** `analytics import` and `analytics imports list|delete` (see README, Importing from Plausible). */
export function addImportCommands(program: Command, io: StoreAccess): void {
  program
    .command('import <paths...>')
    .description("import Plausible's CSV export into a site: the zip, its folder, or its CSV files; shown beside collected statistics")
    .requiredOption('--site <domain>', 'the site')
    .action(async (paths: string[], opts: { site: string }) => {
      const config = loadConfig()
      const files = readImportPaths(paths)
      const domain = opts.site.toLowerCase()
      const done = io.serverApi(config)
        ? await importThroughServer(config, domain, files).then((r) => ({ info: r.import, replaced: r.replaced }))
        : await withSites(config, io, (sites, client) => importHere(client, sites, loadPolicy(config.policyFile), domain, files))
      console.log(`${done.replaced ? 'replaced' : 'imported'} ${printable(describe(done.info))}`)
    })
  const imports = program.command('imports').description('the imports of a site')
  imports
    .command('list')
    .requiredOption('--site <domain>', 'the site')
    .action(async (opts: { site: string }) => {
      const config = loadConfig()
      const query = `?site=${encodeURIComponent(opts.site.toLowerCase())}`
      const api = io.serverApi(config)
      const list = api
        ? ((await api('GET', `/api/v1/imports${query}`)).imports as ImportInfo[])
        : await withSites(config, io, async (_sites, client) => new (await import('../aggregator/imports/store.ts')).ImportStore(client).list(opts.site.toLowerCase()))
      for (const i of list) console.log(printable(describe(i)))
    })
  imports
    .command('delete <id>')
    .description('delete an import and its rows')
    .requiredOption('--site <domain>', 'the site')
    .action(async (id: string, opts: { site: string }) => {
      const config = loadConfig()
      const site = opts.site.toLowerCase()
      const api = io.serverApi(config)
      const deleted = api
        ? Boolean((await api('DELETE', `/api/v1/imports/${encodeURIComponent(id)}?site=${encodeURIComponent(site)}`)).deleted)
        : await withSites(config, io, async (_sites, client) => new (await import('../aggregator/imports/store.ts')).ImportStore(client).delete(site, id))
      if (!deleted) throw new Error('this site has no such import')
      console.log(`deleted import ${printable(id)}`)
    })
}

async function withSites<T>(config: Config, io: StoreAccess, fn: (sites: Sites, client: ClickHouseClient) => Promise<T>): Promise<T> {
  const { Sites } = await import('../accounts/sites.ts')
  return io.withStore(config, async (client) => {
    const sites = new Sites(client)
    await sites.refresh()
    return fn(sites, client)
  })
}
