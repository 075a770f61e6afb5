import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DOC_IPS, UA, tempDataDir } from '../helpers/app.ts'
import { freePort, runCli, startServer } from '../helpers/process.ts'

const send = (base: string, p: string) =>
  fetch(`${base}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': UA.safariMac, 'x-forwarded-for': DOC_IPS[1] },
    body: JSON.stringify({ n: 'pageview', u: `https://example.com${p}`, d: 'example.com' }),
  })

async function waitFor(check: () => boolean, what: string) {
  for (let i = 0; i < 100; i++) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('SIGHUP', () => {
  it('reloads the policy without a restart; a broken file keeps the running policy', async () => {
    const dataDir = tempDataDir()
    const policyFile = path.join(dataDir, 'policy.yaml')
    fs.writeFileSync(policyFile, 'version: 1\nname: before\n')
    const port = await freePort()
    await runCli(['site', 'add', 'example.com'], dataDir, port)
    const server = await startServer(dataDir, port, { POLICY_FILE: policyFile })
    try {
      expect((await send(server.base, '/kids/games')).headers.get('x-analytics-dropped')).toBeNull()

      fs.writeFileSync(policyFile, 'version: 1\nname: after\ndefaults:\n  exclude_paths: ["/kids/*"]\n')
      server.child.kill('SIGHUP')
      await waitFor(() => /policy \\?"after\\?" now active/.test(server.log()), 'the reload')
      expect((await send(server.base, '/kids/games')).headers.get('x-analytics-dropped')).toBe('excluded_path')
      expect((await send(server.base, '/grown-ups')).status).toBe(202)

      fs.writeFileSync(policyFile, 'version: 1\ndefaults:\n  min_visitors:\n    dashboard: 0\n')
      server.child.kill('SIGHUP')
      await waitFor(() => server.log().includes('policy not reloaded'), 'the refusal')
      expect(server.log()).toMatch(/defaults\.min_visitors\.dashboard/)
      expect((await send(server.base, '/kids/games')).headers.get('x-analytics-dropped')).toBe('excluded_path')
    } finally {
      server.child.kill('SIGTERM')
      await new Promise((r) => server.child.once('exit', r))
    }
  })
})
