import type { Command } from 'commander'
import { loadConfig } from '../server/config.ts'
import type { UserInfo } from '../accounts/users.ts'
import type { StoreAccess } from './tokens.ts'

/** Reads a password: without echo from a terminal, else the first line of standard input. */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin
  if (stdin.isTTY) {
    process.stderr.write(prompt)
    stdin.setRawMode(true)
    stdin.resume()
    stdin.setEncoding('utf8')
    try {
      return await new Promise<string>((resolve, reject) => {
        let typed = ''
        stdin.on('data', (chunk: string) => {
          for (const ch of chunk) {
            if (ch === '\r' || ch === '\n' || ch === '\u0004') return resolve(typed)
            if (ch === '\u0003') return reject(new Error('cancelled'))
            if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1)
            else typed += ch
          }
        })
      })
    } finally {
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
    }
  }
  let text = ''
  stdin.setEncoding('utf8')
  for await (const chunk of stdin) {
    text += chunk
    if (text.includes('\n')) break
  }
  return text.split(/\r?\n/)[0]
}

/** `analytics user add|list|remove`: people who sign in to the dashboards with a password. */
export function addUserCommands(program: Command, io: StoreAccess): void {
  const user = program.command('user').description('dashboard users who sign in with a name and a password')
  user
    .command('add <name>')
    .description('add a user (or set a new password); only the password\'s scrypt hash is stored')
    .option('--password <password>', 'the password (at least 8 characters); asked for without echo, or read from standard input, when left out')
    .action(async (name: string, opts: { password?: string }) => {
      const config = loadConfig()
      const password = opts.password ?? (await readPassword(`password for ${name}: `))
      const { validateNewUser } = await import('../accounts/users.ts')
      const error = validateNewUser(name, password)
      if (error) throw new Error(error)
      const api = io.serverApi(config)
      if (api) await api('POST', '/api/v1/users', { name, password })
      else {
        const { Users } = await import('../accounts/users.ts')
        await io.withStore(config, (client) => new Users(client).create(name, password))
      }
      console.log(`user ${name} can sign in to the dashboards`)
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
      for (const u of users) console.log(`${u.name}\t${u.created_at}`)
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
      console.log(`removed ${name}`)
    })
}
