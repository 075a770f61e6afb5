import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // chDB binds one data directory per process: every test file gets its own process.
    pool: 'forks',
    isolate: true,
    fileParallelism: true,
    maxWorkers: 2,
    include: ['test/**/*.test.ts'],
    // one temporary directory for the run, removed at its end
    globalSetup: ['test/helpers/temp-root.ts'],
    // a hang is still caught; the slowest tests take 10–16 s quiet and twice that on a busy machine
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // polls (browser pages, stores settling) wait up to 10 s: two test files share two cores
    expect: { poll: { timeout: 10_000 } },
    // the JSON summary lets .ci/run print a plain "N passed, N failed" line
    reporters: ['default', 'json'],
    outputFile: { json: 'test/artifacts/vitest-results.json' },
  },
})
