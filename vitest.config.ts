import { defineConfig } from 'vitest/config'
import { LongestFirst, RecordDurations } from './test/helpers/longest-first.ts'

export default defineConfig({
  test: {
    // chDB binds one data directory per process: every test file gets its own process.
    pool: 'forks',
    isolate: true,
    fileParallelism: true,
    maxWorkers: 2,
    include: ['test/**/*.test.ts'],
    // one temporary directory for the run, removed at its end; in it, a store migrated once for
    // the run, which tests copy rather than migrate their own (test/helpers/migrated-store.ts)
    globalSetup: ['test/helpers/temp-root.ts', 'test/helpers/migrated-store.ts'],
    // a hang is still caught; the slowest tests (the settled-apart, rollup and "(other)" loops over
    // hundreds of questions) take 30-45 s on this machine while the other worker runs, and one took
    // 60 s beside the dashboard's browser test (December 2026)
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // polls (browser pages, stores settling) wait up to 10 s: two test files share two cores
    expect: { poll: { timeout: 10_000 } },
    // longest files first, from the durations recorded in test/helpers/file-durations.json where
    // Vitest's cache has none (a fresh clone): the two workers then finish together
    sequence: { sequencer: LongestFirst },
    // the JSON summary lets .ci/run print a plain "N passed, N failed" line; RecordDurations
    // writes each file's duration for `npm run test:durations`
    reporters: ['default', 'json', new RecordDurations()],
    outputFile: { json: 'test/artifacts/vitest-results.json' },
  },
})
