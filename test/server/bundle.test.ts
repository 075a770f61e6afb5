import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
// @ts-expect-error: bin/build.js is plain JavaScript (it runs before any TypeScript can)
import { BUNDLE, buildBundle, bundleIsFresh } from '../../bin/build.js'

/**
 * What `npm start` runs: the CLI bundled by bin/build.js. The server started from it is tested
 * by every test that spawns `bin/analytics.js` (test/helpers/process.ts); here, when it is built.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const inputs = () => JSON.parse(fs.readFileSync(path.join(ROOT, '.build', 'analytics.inputs.json'), 'utf8')) as string[]

it('is built from every file the CLI imports, listed from the root, and fresh once built', async () => {
  await buildBundle()
  expect(fs.existsSync(BUNDLE)).toBe(true)
  const files = inputs()
  // the server's own folders, the dashboards' server side among them, and nothing from elsewhere
  expect(files).toEqual(expect.arrayContaining(['cli/index.ts', 'store/migrate.ts', 'collector/routes/tracker.ts', 'dashboards/serve.ts']))
  for (const f of files) expect(fs.existsSync(path.join(ROOT, f)), f).toBe(true)
  expect(bundleIsFresh()).toBe(true)
})

it('is stale once any file it was built from is newer, and fresh while none is', async () => {
  await buildBundle()
  const file = path.join(ROOT, 'dashboards', 'serve.ts')
  const { atime, mtime } = fs.statSync(file)
  try {
    const later = new Date(fs.statSync(BUNDLE).mtimeMs + 60_000)
    fs.utimesSync(file, later, later)
    expect(bundleIsFresh()).toBe(false)
  } finally {
    fs.utimesSync(file, atime, mtime)
  }
  expect(bundleIsFresh()).toBe(true)
})

it('keeps each module\'s own location: a module finds the files beside its source', () => {
  const code = fs.readFileSync(BUNDLE, 'utf8')
  expect(code).not.toContain('import.meta.url')
  expect(code).toContain(JSON.stringify(new URL('../../store/migrate.ts', import.meta.url).href))
})
