import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, DOC_IPS, UA, tempDataDir } from '../helpers/app.ts'
import { freePort, runCli, startServer } from '../helpers/process.ts'

const send = (base: string, p: string) =>
  fetch(`${base}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': UA.safariMac, 'x-forwarded-for': DOC_IPS[1] },
    body: JSON.stringify({ n: 'pageview', u: `https://example.com${p}`, d: 'example.com' }),
  })

/**
 * The pages of the last five minutes, as the admin sees them. The collector answers a dropped
 * beacon like a stored one, so what the policy let through is read back here; the policies
 * below publish single visitors (k = 1) for that.
 */
const livePages = async (base: string): Promise<string[]> => {
  const res = await fetch(`${base}/api/v1/stats/realtime?site=example.com`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  return ((await res.json()) as { pages?: { page: string }[] }).pages?.map((p) => p.page) ?? []
}
const SMALL_K = '  min_visitors: { dashboard: 1, shared: 1, export: 1 }\n'

async function waitFor(check: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('SIGHUP', () => {
  it('reloads the policy without a restart; a broken file keeps the running policy', async () => {
    const dataDir = tempDataDir()
    const policyFile = path.join(dataDir, 'policy.yaml')
    fs.writeFileSync(policyFile, `version: 1\nname: before\ndefaults:\n${SMALL_K}`)
    const port = await freePort()
    await runCli(['site', 'add', 'example.com'], dataDir, port)
    const server = await startServer(dataDir, port, { POLICY_FILE: policyFile })
    try {
      expect((await send(server.base, '/kids/games')).status).toBe(202)
      await waitFor(async () => (await livePages(server.base)).includes('/kids/games'), 'the page before the reload')

      fs.writeFileSync(policyFile, `version: 1\nname: after\ndefaults:\n${SMALL_K}  exclude_paths: ["/kids/*"]\n`)
      server.child.kill('SIGHUP')
      await waitFor(() => /policy \\?"after\\?" now active/.test(server.log()), 'the reload')
      expect((await send(server.base, '/kids/puzzles')).status).toBe(202)
      expect((await send(server.base, '/grown-ups')).status).toBe(202)
      // sent after the excluded page: once it is stored, the excluded one would be too
      await waitFor(async () => (await livePages(server.base)).includes('/grown-ups'), 'the page after the reload')
      expect(await livePages(server.base)).not.toContain('/kids/puzzles')

      fs.writeFileSync(policyFile, 'version: 1\ndefaults:\n  min_visitors:\n    dashboard: 0\n')
      server.child.kill('SIGHUP')
      await waitFor(() => server.log().includes('policy not reloaded'), 'the refusal')
      expect(server.log()).toMatch(/defaults\.min_visitors\.dashboard/)
      expect((await send(server.base, '/kids/toys')).status).toBe(202)
      expect((await send(server.base, '/still-grown-ups')).status).toBe(202)
      await waitFor(async () => (await livePages(server.base)).includes('/still-grown-ups'), 'the page after the refusal')
      expect(await livePages(server.base)).not.toContain('/kids/toys')
    } finally {
      server.child.kill('SIGTERM')
      await new Promise((r) => server.child.once('exit', r))
    }
  })
})
