/**
 * Vitest's global setup: one store migrated at the start of the run, which tests copy rather than
 * migrate their own (`migratedDataDir` below, where `testConfig` in app.ts and `openFixture` take
 * their data directory). In a whole run, test files applied the migrations to a new store 91
 * times, 1.7 s each on average while the other worker ran (1.1-1.2 s on a quiet machine); on a
 * copy, `migrate` finds nothing to apply (0.5 s, most of it the engine's first statements), and
 * the copy takes 0.2-0.4 s. The store is made by the program's own `migrate`, in a process of its
 * own, so it is the schema a new installation gets (a migration that fails stops the run at its
 * start). A first start on an empty data directory is still tested on empty ones
 * (test/store/serve.test.ts, test/e2e/data-dir.test.ts, the servers the e2e tests start), and a
 * migration on a store made before it by its own tests (headcount, page-days, events-by-name).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where the migrated store's `clickhouse` directory is, for the test files (their processes inherit it). */
const MIGRATED_STORE_ENV = 'ANALYTICS_TEST_MIGRATED_STORE'

/**
 * A new data directory holding a copy of the store migrated for the run: the program finds every
 * migration applied. Outside a Vitest run (no global setup), an empty one, migrated at open.
 */
export function migratedDataDir(prefix = 'analytics-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const template = process.env[MIGRATED_STORE_ENV]
  // the store's own links are relative (data/ and metadata/ into store/): copied as they are
  if (template) fs.cpSync(template, path.join(dir, 'clickhouse'), { recursive: true, verbatimSymlinks: true })
  return dir
}

export default function setup(): void {
  // under the run's temporary directory (temp-root.ts, set up first), removed with it
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrated-store-'))
  const script = fileURLToPath(new URL('./migrate-store.ts', import.meta.url))
  execFileSync(process.execPath, ['--import', 'tsx', script, dataDir], { stdio: 'inherit' })
  process.env[MIGRATED_STORE_ENV] = path.join(dataDir, 'clickhouse')
}
