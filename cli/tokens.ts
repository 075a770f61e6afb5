import { sharePath } from '../accounts/routes/tokens.ts'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Command } from 'commander'
import { loadConfig, type Config } from '../server/config.ts'
import { runningServer } from '../server/listen.ts'
import type { TokenInfo } from '../accounts/tokens.ts'
import { printable, readPassword, warnPasswordInArguments } from './terminal.ts'

type ServerApi = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>

/** How index.ts reaches the store: the running server's admin API, or the data directory itself. */
export interface StoreAccess {
  serverApi(config: Config): ServerApi | null
  withStore<T>(config: Config, fn: (client: ClickHouseClient) => Promise<T>): Promise<T>
}

interface NewTokenInput {
  site: string
  scopes: string[]
  name?: string
  password?: string
  expires_at?: string
}

type Created = TokenInfo & { token: string }

async function createToken(config: Config, io: StoreAccess, input: NewTokenInput): Promise<Created> {
  const api = io.serverApi(config)
  if (api) return (await api('POST', '/api/v1/tokens', input)) as unknown as Created
  const { Sites } = await import('../accounts/sites.ts')
  const { TokenStore, validateNewToken } = await import('../accounts/tokens.ts')
  return io.withStore(config, async (client) => {
    const sites = new Sites(client)
    await sites.refresh()
    const checked = validateNewToken(input, (d) => sites.has(d))
    if (!checked.ok) throw new Error(checked.error)
    const { token, info } = await new TokenStore(client).create(checked.token)
    return { ...info, token }
  })
}

function origin(config: Config): string {
  return runningServer(config.dataDir)?.url ?? `http://${config.host}:${config.port}`
}

function describe(t: TokenInfo): string {
  const extras = [t.expires_at ? `expires ${t.expires_at}` : 'does not expire', ...(t.has_password ? ['password required'] : [])]
  return printable(`${t.site}, ${t.scopes.join(', ')}, ${extras.join(', ')}`)
}

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean)

/** `analytics token create|list|revoke` and `analytics share create`. */
export function addTokenCommands(program: Command, io: StoreAccess): void {
  const token = program.command('token').description('per-site tokens for the stats and export API')
  token
    .command('create')
    .description('make a token for one site; it is printed once and only its hash is stored')
    .requiredOption('--site <domain>', 'the site the token is for')
    .option('--scopes <list>', 'comma-separated: stats, export', 'stats')
    .option('--name <label>', 'what the token is for')
    .option('--expires <date>', 'ISO date or date-time after which it stops working')
    .action(async (opts: { site: string; scopes: string; name?: string; expires?: string }) => {
      const config = loadConfig()
      const t = await createToken(config, io, { site: opts.site, scopes: list(opts.scopes), name: opts.name, expires_at: opts.expires })
      console.log(`token ${t.id} "${printable(t.name)}" (${describe(t)}). Shown only now, keep it:\n  ${t.token}`)
      console.log(`send it as \`Authorization: Bearer <token>\`, e.g. to ${origin(config)}/api/v1/stats/aggregate?site=${t.site}&period=30d`)
    })
  token
    .command('list')
    .description('tokens and shared links that are not revoked (never their secrets)')
    .option('--site <domain>', 'only this site')
    .action(async (opts: { site?: string }) => {
      const config = loadConfig()
      const api = io.serverApi(config)
      const site = opts.site?.toLowerCase()
      const tokens = api
        ? ((await api('GET', `/api/v1/tokens${site ? `?site=${encodeURIComponent(site)}` : ''}`)).tokens as TokenInfo[])
        : await (async () => {
            const { TokenStore } = await import('../accounts/tokens.ts')
            return io.withStore(config, (client) => new TokenStore(client).list(site))
          })()
      for (const t of tokens) console.log([t.id, t.kind, t.site, t.scopes.join(','), t.name, t.expires_at ?? '-', t.has_password ? 'password' : '-'].map(printable).join('\t'))
    })
  token
    .command('revoke <id>')
    .description('stop a token or shared link from working (other collectors follow within 10 s)')
    .action(async (id: string) => {
      const config = loadConfig()
      const api = io.serverApi(config)
      if (api) await api('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`)
      else {
        const { TokenStore } = await import('../accounts/tokens.ts')
        if (!(await io.withStore(config, (client) => new TokenStore(client).revoke(id)))) throw new Error(`no such token: ${id}`)
      }
      console.log(`revoked ${printable(id)}`)
    })

  const share = program.command('share').description('shared dashboard links (read-only statistics for one site)')
  share
    .command('create')
    .description('make a shared link; its token is printed once and only its hash is stored')
    .requiredOption('--site <domain>', 'the site the link shows')
    .option('--password [password]', 'viewers must also give a password (at least 8 characters): asked for without echo, or read from standard input')
    .option('--expires <date>', 'ISO date or date-time after which the link stops working')
    .option('--name <label>', 'who the link is for')
    .action(async (opts: { site: string; password?: string | true; expires?: string; name?: string }) => {
      const config = loadConfig()
      if (typeof opts.password === 'string') warnPasswordInArguments('--password')
      const password = opts.password === true ? await readPassword('password for the shared link: ') : opts.password
      const t = await createToken(config, io, { site: opts.site, scopes: ['shared'], name: opts.name, password, expires_at: opts.expires })
      console.log(`shared link ${t.id} "${printable(t.name)}" (${describe(t)}). Shown only now, keep it:\n  ${origin(config)}${sharePath(t.token)}`)
    })
}
