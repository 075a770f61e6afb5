/**
 * The order test files start in: longest first, so that the two workers finish together.
 *
 * Vitest orders by the durations of the last run on this machine (its cache under
 * node_modules/.vite), and with none, as on a fresh clone in CI, by file size. Size says little
 * here: `settled-apart.test.ts` is four lines and a minute and a half of work (its cases live in
 * another file), so on a fresh clone it started last and ran alone at the end of the run.
 *
 * `LongestFirst` (the config's sequencer) takes a file's duration from Vitest's cache, and where
 * the cache has none from `file-durations.json` beside this file; a file in neither starts first,
 * as Vitest does with a file it has not seen, and a file that failed last time before the rest.
 * `RecordDurations` (a reporter of `npm test`) writes each file's duration in the run, import and
 * hooks included, to test/artifacts/file-durations.json; `npm run test:durations` merges that
 * into `file-durations.json` (commit it when files were added or grew).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BaseSequencer, type Reporter, type TestModule, type TestSpecification } from 'vitest/node'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** Seconds per test file, committed: the order on a machine with no Vitest cache. */
export const DURATIONS_FILE = path.join(ROOT, 'test', 'helpers', 'file-durations.json')
/** Seconds per test file of the last run. */
export const LAST_RUN_FILE = path.join(ROOT, 'test', 'artifacts', 'file-durations.json')

export function readDurations(file: string): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>
  } catch {
    return {}
  }
}

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const recorded = readDurations(DURATIONS_FILE)
    const weights = new Map(
      files.map((spec) => {
        const file = path.relative(ROOT, spec.moduleId)
        const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${file}`)
        const ms = cached?.duration ?? (file in recorded ? recorded[file] * 1000 : Infinity)
        return [spec, { failed: cached?.failed ?? false, ms }]
      }),
    )
    return [...files].sort((a, b) => {
      const wa = weights.get(a)!
      const wb = weights.get(b)!
      if (wa.failed !== wb.failed) return wa.failed ? -1 : 1
      return wa.ms === wb.ms ? 0 : wb.ms - wa.ms
    })
  }
}

export class RecordDurations implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const seconds = (m: TestModule) => {
      const d = m.diagnostic()
      return Math.round((d.prepareDuration + d.setupDuration + d.collectDuration + d.duration) / 100) / 10
    }
    const durations = Object.fromEntries(modules.map((m) => [path.relative(ROOT, m.moduleId), seconds(m)]))
    fs.mkdirSync(path.dirname(LAST_RUN_FILE), { recursive: true })
    fs.writeFileSync(LAST_RUN_FILE, `${JSON.stringify(durations, null, 1)}\n`)
  }
}

/** `npm run test:durations`: the last run's durations merged into the committed ones (files gone from test/ dropped). */
export function mergeDurations(): string {
  const merged = { ...readDurations(DURATIONS_FILE), ...readDurations(LAST_RUN_FILE) }
  const kept = Object.entries(merged)
    .filter(([file]) => fs.existsSync(path.join(ROOT, file)))
    .sort(([a], [b]) => (a < b ? -1 : 1))
  fs.writeFileSync(DURATIONS_FILE, `${JSON.stringify(Object.fromEntries(kept), null, 1)}\n`)
  return `${kept.length} files in ${path.relative(ROOT, DURATIONS_FILE)}`
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) console.log(mergeDurations())
