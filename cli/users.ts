import type { Command } from 'commander'
import { loadConfig } from '../server/config.ts'
import type { UserInfo } from '../accounts/users.ts'
import { printable, readPassword, warnPasswordInArguments } from './terminal.ts'
import type { StoreAccess } from './tokens.ts'

/** `analytics user add|list|remove`: people who sign in to the dashboards with a password. */
export function addUserCommands(program: Command, io: StoreAccess): void {
  const user = program.command('user').description('dashboard users who sign in with a name and a password')
  user
    .command('add <name>')
    .description('add a user (or set a new password); only the password\'s scrypt hash is stored')
    .option('--password <password>', 'the password (at least 8 characters); asked for without echo, or read from standard input, when left out')
    .action(async (name: string, opts: { password?: string }) => {
      const config = loadConfig()
      if (opts.password !== undefined) warnPasswordInArguments('--password')
      const password = opts.password ?? (await readPassword(`password for ${printable(name)}: `))
      const { validateNewUser } = await import('../accounts/users.ts')
      const error = validateNewUser(name, password)
      if (error) throw new Error(error)
      const api = io.serverApi(config)
      if (api) await api('POST', '/api/v1/users', { name, password })
      else {
        const { Users } = await import('../accounts/users.ts')
        await io.withStore(config, (client) => new Users(client).create(name, password))
      }
      console.log(`user ${printable(name)} can sign in to the dashboards`)
    })
  user
    .command('list')
    .description('dashboard users (never their passwords)')
    .action(async () => {
      const config = loadConfig()
      const api = io.serverApi(config)
      const users = api
        ? ((await api('GET', '/api/v1/users')).users as UserInfo[])
        : await (async () => {
            const { Users } = await import('../accounts/users.ts')
            return io.withStore(config, (client) => new Users(client).list())
          })()
      for (const u of users) console.log(`${printable(u.name)}\t${u.created_at}`)
    })
  user
    .command('remove <name>')
    .description('remove a user; their sessions end at once')
    .action(async (name: string) => {
      const config = loadConfig()
      const api = io.serverApi(config)
      if (api) await api('DELETE', `/api/v1/users/${encodeURIComponent(name)}`)
      else {
        const { Users } = await import('../accounts/users.ts')
        const { TokenStore } = await import('../accounts/tokens.ts')
        const removed = await io.withStore(config, async (client) => {
          const ok = await new Users(client).remove(name)
          if (ok) await new TokenStore(client).revokeSessions(name)
          return ok
        })
        if (!removed) throw new Error(`no such user: ${name}`)
      }
      console.log(`removed ${printable(name)}`)
    })
}
