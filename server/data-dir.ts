import fs from 'node:fs'
import path from 'node:path'

/**
 * What the data directory holds (events, the admin token, password hashes, salts) is for this
 * account alone, whatever the umask: files made from now on are 0600 and directories 0700, and
 * a directory left more open by an earlier version is closed, with everything in it, once.
 * Answers why it could not be closed (a read-only or foreign directory), for the caller to say.
 */
export function keepDataDirPrivate(dataDir: string): Error | null {
  process.umask(0o077)
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  if ((fs.statSync(dataDir).mode & 0o077) === 0) return null
  try {
    for (const entry of fs.readdirSync(dataDir, { recursive: true, withFileTypes: true })) {
      if (entry.isSymbolicLink()) continue
      fs.chmodSync(path.join(entry.parentPath, entry.name), entry.isDirectory() ? 0o700 : 0o600)
    }
    fs.chmodSync(dataDir, 0o700)
    return null
  } catch (err) {
    return err as Error
  }
}
