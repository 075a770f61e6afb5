/**
 * A stop while questions run (issue 13, point 2, found by the stats-flood scenario of
 * `npm run test:load`): the embedded engine closed under a running question crashed the process
 * with SIGSEGV. Closing now waits for what runs and refuses new work as a store that cannot be
 * reached (503). Its own file: chDB binds one data directory per process.
 */
import { expect, it } from 'vitest'
import { openStore, questionClient } from '../../store/client.ts'
import { isStoreUnavailable } from '../../store/errors.ts'
import { tempDataDir } from '../helpers/app.ts'

it('lets a question that runs when the store closes end first, and refuses new ones as unavailable', async () => {
  const store = await openStore({ dataDir: tempDataDir(), clickhouseDatabase: 'analytics' })
  let answered = false
  const running = questionClient(store).query({ query: 'SELECT count() AS n FROM numbers(300000000) WHERE number % 7 = 3', format: 'JSONEachRow' })
  void running.then(() => (answered = true))
  await new Promise((r) => setTimeout(r, 50))
  const closing = store.close()
  const late = await store.client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).catch((e: unknown) => e)
  expect(isStoreUnavailable(late)).toBe(true)
  await closing
  // closed only once the engine had answered the question
  expect(answered).toBe(true)
  expect(await (await running).json()).toEqual([{ n: 42857143 }])
}, 60_000)
