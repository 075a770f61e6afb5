import type { Command } from 'commander'
import { loadConfig } from '../server/config.ts'
import type { UserInfo } from '../accounts/users.ts'
import { printable, readPassword, warnPasswordInArguments } from './terminal.ts'
import type { StoreAccess } from './tokens.ts'

/** `analytics user add|invite|list|remove`: people who sign in to the dashboards with a password. */
export function addUserCommands(program: Command, io: StoreAccess): void {
  const user = program.command('user').description('dashboard users who sign in with a name and a password')
  user
    .command('add <name>')
    .description('add a user (or set a new password); only the password\'s scrypt hash is stored')
    .option('--password <password>', 'the password (at least 8 characters); asked for without echo, or read from standard input, when left out')
    .option('--role <role>', 'viewer, admin or owner (a new user only; default owner)')
    .option('--site <domain>', 'the site of the role, or * for every site (default *)')
    .action(async (name: string, opts: { password?: string; role?: string; site?: string }) => {
      const config = loadConfig()
      if (opts.password !== undefined) warnPasswordInArguments('--password')
      const password = opts.password ?? (await readPassword(`password for ${printable(name)}: `))
      const { validateNewUser } = await import('../accounts/users.ts')
      const error = validateNewUser(name, password)
      if (error) throw new Error(error)
      const api = io.serverApi(config)
      if (api) await api('POST', '/api/v1/users', { name, password, ...(opts.role ? { role: opts.role } : {}), ...(opts.site ? { site: opts.site } : {}) })
      else {
        const { Users, FIRST_ROLE } = await import('../accounts/users.ts')
        const { isRole } = await import('../accounts/roles.ts')
        if (opts.role !== undefined && !isRole(opts.role)) throw new Error('--role must be viewer, admin or owner')
        const role = { site: opts.site?.toLowerCase() ?? FIRST_ROLE.site, role: (opts.role as 'viewer' | undefined) ?? FIRST_ROLE.role }
        await io.withStore(config, (client) => new Users(client).create(name, password, role))
      }
      console.log(`user ${printable(name)} can sign in to the dashboards`)
    })
  user
    .command('invite <name>')
    .description('invite a person by the name they will sign in with: prints a link, good once for 7 days, that sets their password')
    .requiredOption('--role <role>', 'viewer, admin or owner')
    .requiredOption('--site <domain>', 'the site, or * for every site')
    .option('--email <address>', 'also e-mail the link (with the server running and SMTP configured)')
    .action(async (name: string, opts: { role: string; site: string; email?: string }) => {
      const config = loadConfig()
      const api = io.serverApi(config)
      const body = { name, role: opts.role, site: opts.site, ...(opts.email ? { email: opts.email } : {}) }
      const made = api
        ? ((await api('POST', '/api/v1/invitations', body)) as { accept_path: string; emailed: boolean })
        : await (async () => {
            const { isRole } = await import('../accounts/roles.ts')
            const { Invitations, acceptPath } = await import('../accounts/invitations.ts')
            const { Users, USER_NAME } = await import('../accounts/users.ts')
            if (!isRole(opts.role)) throw new Error('--role must be viewer, admin or owner')
            if (!USER_NAME.test(name)) throw new Error('a user name has 1 to 64 letters, digits, ".", "_", "-" or "@"')
            return io.withStore(config, async (client) => {
              if (await new Users(client).exists(name)) throw new Error(`a user named ${name} exists`)
              const { token } = await new Invitations(client).create({ name, site: opts.site === '*' ? '*' : opts.site.toLowerCase(), role: opts.role as 'viewer', invitedBy: null })
              return { accept_path: acceptPath(token), emailed: false }
            })
          })()
      console.log(`open this link in the dashboards (prefix it with their address): ${made.accept_path}${made.emailed ? ' (e-mailed)' : ''}`)
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
