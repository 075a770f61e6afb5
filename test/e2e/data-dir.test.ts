import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, DOC_IPS, tempDataDir, UA } from '../helpers/app.ts'
import { freePort, runCli, startServer } from '../helpers/process.ts'

/**
 * The data directory of a real server started under umask 022 (what most systems use): nothing
 * in it is readable by another account, a directory left open by an earlier version is closed
 * at start, and a removed user's password hash is in no file once the removal is answered.
 */
const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }
const umask = process.umask(0o022)
afterAll(() => {
  process.umask(umask)
})

/**
 * Every file and directory under `dir` (symbolic links, whose own mode means nothing, left out).
 * The store works meanwhile: what vanishes during the walk (a part merged away) is skipped.
 */
function entries(dir: string, sub = ''): { file: string; mode: number; isDir: boolean }[] {
  const out: { file: string; mode: number; isDir: boolean }[] = []
  let names: string[]
  try {
    names = fs.readdirSync(path.join(dir, sub))
  } catch {
    return out
  }
  for (const name of names) {
    const file = path.join(sub, name)
    let stat: fs.Stats
    try {
      stat = fs.lstatSync(path.join(dir, file))
    } catch {
      continue
    }
    if (stat.isSymbolicLink()) continue
    out.push({ file, mode: stat.mode & 0o777, isDir: stat.isDirectory() })
    if (stat.isDirectory()) out.push(...entries(dir, file))
  }
  return out
}

/** The bytes of a file, or nothing if it went meanwhile. */
const bytes = (file: string) => {
  try {
    return fs.readFileSync(file)
  } catch {
    return Buffer.alloc(0)
  }
}

/** The files under `dir` whose bytes contain `text`. */
function filesContaining(dir: string, text: string): string[] {
  const needle = Buffer.from(text)
  return entries(dir).filter((e) => !e.isDir && bytes(path.join(dir, e.file)).includes(needle)).map((e) => e.file)
}

/**
 * The password hashes (of scrypt$N$r$p$salt$hash) in the store's files. Parts are compressed
 * (LZ4), but random bytes stay literal; only a run's last bytes may be coded as a match, so a
 * hash is known by its first 24 characters.
 */
function storedHashes(dir: string): string[] {
  const found = new Set<string>()
  for (const e of entries(dir)) {
    if (e.isDir) continue
    for (const m of bytes(path.join(dir, e.file)).toString('latin1').matchAll(/scrypt\$\d+\$\d+\$\d+\$[\w-]{16,}\$([\w-]{32,})/g)) found.add(m[1].slice(0, 24))
  }
  return [...found]
}

describe('the data directory', () => {
  it('is 0700 with every file 0600 whatever the umask; a removed user\'s password hash leaves the disk', async () => {
    const dataDir = tempDataDir()
    // as an earlier version left it: open to every account
    fs.chmodSync(dataDir, 0o755)
    fs.writeFileSync(path.join(dataDir, 'sites.json'), '[]', { mode: 0o644 })
    const policyFile = path.join(dataDir, 'policy.yaml')
    fs.writeFileSync(policyFile, 'version: 1\ndefaults:\n  visitor_hash:\n    persist_salt: true\n', { mode: 0o644 })
    const port = await freePort()
    // segments stay in the spool while the test looks at them
    const server = await startServer(dataDir, port, { POLICY_FILE: policyFile, BATCH_MS: '600000', BATCH_ROWS: '100000' })
    try {
      expect(await runCli(['site', 'add', 'example.com'], dataDir, port)).toMatch(/added example\.com/)
      // from a shell whose PORT is not the server's: the tag names the running server
      const tag = await runCli(['site', 'add', 'www2.example.com'], dataDir, 1)
      expect(tag).toContain(`src="${server.base}/t.js"`)
      expect(await runCli(['site', 'remove', 'www2.example.com', '--yes'], dataDir, port)).toMatch(/removed www2\.example\.com/)
      for (const [i, ip] of DOC_IPS.slice(0, 3).entries()) {
        const res = await fetch(`${server.base}/api/event`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', 'user-agent': UA.firefoxLinux, 'x-forwarded-for': ip },
          body: JSON.stringify({ n: 'pageview', u: `https://example.com/${i}`, d: 'example.com' }),
        })
        expect(res.status).toBe(202)
      }
      const addUser = async (name: string) => {
        const res = await fetch(`${server.base}/api/v1/users`, { method: 'POST', headers: auth, body: JSON.stringify({ name, password: `the password of ${name}` }) })
        expect(res.status).toBe(201)
      }
      await addUser('anna')
      const [anna] = storedHashes(dataDir)
      expect(anna).toBeTruthy()
      await addUser('ben')
      const ben = storedHashes(dataDir).find((h) => h !== anna)
      expect(ben).toBeTruthy()

      const modes = entries(dataDir)
      expect(modes.some((e) => e.file.startsWith('spool/') && e.file.endsWith('.ndjson'))).toBe(true)
      expect(modes.some((e) => e.file.startsWith('clickhouse/store/'))).toBe(true)
      const open = modes.filter((e) => e.mode !== (e.isDir ? 0o700 : 0o600)).map((e) => `${e.file} ${e.mode.toString(8)}`)
      expect(open).toEqual([])
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700)

      const removed = await fetch(`${server.base}/api/v1/users/anna`, { method: 'DELETE', headers: { authorization: auth.authorization } })
      expect(removed.status).toBe(200)
      // answered once her hash is gone: no waiting for a merge
      expect(filesContaining(dataDir, anna)).toEqual([])
      // while ben's is still found, so the search does find a hash (a part being rewritten is looked at again)
      await expect.poll(() => filesContaining(dataDir, ben!).length, { timeout: 10_000 }).toBeGreaterThan(0)
      expect(filesContaining(dataDir, anna)).toEqual([])

      // the site commands go through the running server
      expect(await runCli(['site', 'timezone', 'example.com', 'Europe/Berlin'], dataDir, port)).toMatch(/Europe\/Berlin/)
      expect(await runCli(['site', 'remove', 'example.com', '--yes'], dataDir, port)).toMatch(/removed example\.com/)
      expect(await runCli(['site', 'list'], dataDir, port)).toBe('')
    } finally {
      server.child.kill('SIGKILL')
    }
  }, 180_000)
})
