/**
 * Vitest's global setup: every temporary directory a test makes (data directories, exports,
 * uploads, Chromium's profile) goes under one directory of this run, removed when the run ends,
 * so repeated runs do not fill the machine's /tmp. `KEEP_TEST_TMP=1` keeps it to look into.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-vitest-'))
  // test files run in forked processes, which inherit this environment
  process.env.TMPDIR = root
  return () => {
    if (process.env.KEEP_TEST_TMP) console.log(`test temporary files kept in ${root}`)
    else fs.rmSync(root, { recursive: true, force: true })
  }
}
