import fs from 'node:fs'
import path from 'node:path'
import { buildApp } from './app.ts'
import { warmUp } from '../aggregator/stats/warm-up.ts'
import type { Config } from './config.ts'
import { PolicyError } from '../policy/policy.ts'
import type { Role } from './roles.ts'

/** Where a running server says it listens, so the CLI talks to it instead of opening the store. */
export function serverFile(dataDir: string): string {
  return path.join(dataDir, 'server.json')
}

export function runningServer(dataDir: string): { url: string; pid: number; role?: Role } | null {
  try {
    const info = JSON.parse(fs.readFileSync(serverFile(dataDir), 'utf8')) as { url: string; pid: number; role?: Role }
    process.kill(info.pid, 0)
    return info
  } catch {
    return null
  }
}

export async function serve(config: Config, role: Role = 'all'): Promise<void> {
  const other = runningServer(config.dataDir)
  if (other && other.pid !== process.pid) {
    throw new Error(`another server (pid ${other.pid}) already owns ${config.dataDir}; stop it or set ANALYTICS_DATA_DIR`)
  }
  let app
  try {
    app = await buildApp(config, { role })
  } catch (err) {
    if (err instanceof PolicyError) {
      console.error(err.message)
      process.exit(2)
    }
    throw err
  }
  const address = await app.listen({ host: config.host, port: config.port })
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${(app.server.address() as { port: number }).port}`
  fs.writeFileSync(serverFile(config.dataDir), JSON.stringify({ url, pid: process.pid, role }))
  app.log.info(`listening on ${address} as ${role === 'all' ? 'collector and aggregator' : role}; policy "${app.runtime.policy.name}"; store ${app.runtime.store.embedded ? 'embedded at ' + path.join(config.dataDir, 'clickhouse') : 'ClickHouse server'}`)
  if (!config.adminToken) app.log.info(`admin token in ${path.join(config.dataDir, 'admin-token')}`)
  // the statistics code compiled before the first question (see warmUp)
  if (role !== 'collector') void warmUp(app.runtime.store.client)

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info(`${signal}: flushing the spool and stopping`)
    try {
      await app.close()
    } finally {
      fs.rmSync(serverFile(config.dataDir), { force: true })
      process.exit(0)
    }
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGHUP', () => {
    void app.runtime.reloadPolicy().then((r) =>
      r.ok ? app.log.info(`SIGHUP: policy "${r.name}" now active`) : app.log.error(`SIGHUP: policy not reloaded, the previous one stays active: ${r.error}`),
    )
  })
}
