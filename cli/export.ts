import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ClickHouseClient } from '@clickhouse/client'
import { InvalidArgumentError, type Command } from 'commander'
import { progressBars } from './terminal.ts'
import { loadConfig, type Config } from '../server/config.ts'
import { runningServer } from '../server/listen.ts'
import { resolveAdminToken } from '../accounts/auth.ts'
import { EXPORT_FORMATS, type ExportQuery } from '../aggregator/export/export.ts'

/** How index.ts opens the store when no server runs. */
export interface ExportStoreAccess {
  withStore<T>(config: Config, fn: (client: ClickHouseClient) => Promise<T>): Promise<T>
}

interface ExportOptions {
  site: string
  period?: string
  date?: string
  from?: string
  to?: string
  property?: string
  filters?: string
  interval?: string
  format: string
  output?: string
}

function destination(output: string | undefined, filename: string): { file: string | null; stream: NodeJS.WritableStream } {
  if (output === '-') return { file: null, stream: process.stdout }
  const file = output ?? path.resolve(filename)
  return { file, stream: fs.createWriteStream(file) }
}

/** Through the running server's API: the bar follows the bytes as they arrive. */
async function viaServer(config: Config, url: string, q: ExportQuery, output: string | undefined): Promise<string | null> {
  const { token } = resolveAdminToken(config.adminToken, config.dataDir)
  const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined) as [string, string][])
  const res = await fetch(`${url}/api/v1/export?${params}`, { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok || !res.body) {
    const json = (await res.json().catch(() => ({}))) as { error?: string }
    throw new Error(`server answered ${res.status}: ${json.error ?? ''}`)
  }
  const filename = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `export.${q.format}`
  const size = Number(res.headers.get('content-length') ?? 0)
  const bar = output === '-' ? null : (await progressBars())(`exporting {bar} {percentage}% | {value}/{total} bytes`)
  bar?.start(size || 1, 0)
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)
  body.on('data', (chunk: Buffer) => {
    if (!size) bar?.setTotal((bar.getTotal() ?? 0) + chunk.length)
    bar?.increment(chunk.length)
  })
  const { file, stream } = destination(output, filename)
  try {
    await pipeline(body, stream)
  } finally {
    bar?.stop()
  }
  return file
}

/** With no server: the data directory opened here, rollups brought up to date, the same export code run in-process. */
async function inProcess(config: Config, io: ExportStoreAccess, q: ExportQuery, output: string | undefined): Promise<string | null> {
  const { loadPolicy } = await import('../policy/policy.ts')
  const { Sites } = await import('../accounts/sites.ts')
  const { RollupJob } = await import('../aggregator/rollup/job.ts')
  const { ExportNoiseStore } = await import('../aggregator/export/budget.ts')
  const { planExport, runExport } = await import('../aggregator/export/export.ts')
  const policy = loadPolicy(config.policyFile)
  return io.withStore(config, async (client) => {
    const sites = new Sites(client)
    await sites.refresh()
    const ctx = { client, site: (d: string) => sites.get(d), policy, noise: new ExportNoiseStore(client) }
    const plan = planExport(ctx, q)
    const bar = output === '-' ? null : (await progressBars())('exporting {bar} {value}/{total} steps | {label}')
    bar?.start(plan.tables.length * 2 + 1, 0, { label: 'building rollups' })
    try {
      await new RollupJob(client, sites).run()
      const result = await runExport(ctx, plan, (p) => bar?.update(p.done + 1, { label: p.label }))
      const { file, stream } = destination(output, plan.filename)
      await pipeline(Buffer.isBuffer(result.body) ? Readable.from([result.body]) : result.body, stream)
      if (result.withheld) console.error(`withheld: ${result.withheld}`)
      return file
    } finally {
      bar?.stop()
    }
  })
}

export function addExportCommand(program: Command, io: ExportStoreAccess): void {
  program
    .command('export')
    .description("aggregate statistics as a file (CSV, JSON lines, Parquet, or a zip of CSVs), with the policy's export k and noise")
    .requiredOption('--site <domain>', 'the site')
    .option('--period <period>', 'day, 7d, 30d, month, 6mo, 12mo or custom (default 30d)')
    .option('--date <date>', 'the day `day`, `month`... are counted from (YYYY-MM-DD)')
    .option('--from <date>', 'first day of a custom period (YYYY-MM-DD)')
    .option('--to <date>', 'last day of a custom period (YYYY-MM-DD)')
    .option('--property <name>', 'a breakdown (country, page, source, ...) instead of the daily time series')
    .option('--filters <filters>', 'e.g. "country==DE;page~/blog"')
    .option('--interval <interval>', 'day, week or month, for the time series')
    .option('--format <format>', EXPORT_FORMATS.join(', '), 'csv')
    .option('--output <file>', "where to write it: default the server's file name in the current directory; - for standard output")
    .action(async (opts: ExportOptions) => {
      if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format)) throw new InvalidArgumentError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`)
      const config = loadConfig()
      const q: ExportQuery = {
        site: opts.site,
        period: opts.period,
        date: opts.date,
        from: opts.from,
        to: opts.to,
        property: opts.property,
        filters: opts.filters,
        interval: opts.interval,
        format: opts.format,
      }
      const server = runningServer(config.dataDir)
      const file = server ? await viaServer(config, server.url, q, opts.output) : await inProcess(config, io, q, opts.output)
      if (file) console.error(`wrote ${file}`)
    })
}
