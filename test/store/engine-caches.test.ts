import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { rows, testApp } from '../helpers/app.ts'

let app: FastifyInstance
beforeAll(async () => {
  app = await testApp()
})
afterAll(async () => {
  await app?.close()
})

it('the embedded engine starts with caches sized for a small machine, not ClickHouse\'s gigabytes', async () => {
  const settings = await rows<{ name: string; value: string }>(
    app,
    `SELECT name, value FROM system.server_settings
     WHERE name IN ('mark_cache_size', 'primary_index_cache_size', 'index_mark_cache_size', 'compiled_expression_cache_size', 'query_condition_cache_size')`,
  )
  expect(Object.fromEntries(settings.map((s) => [s.name, Number(s.value)]))).toEqual({
    mark_cache_size: 64 * 1024 ** 2,
    primary_index_cache_size: 32 * 1024 ** 2,
    index_mark_cache_size: 16 * 1024 ** 2,
    compiled_expression_cache_size: 16 * 1024 ** 2,
    query_condition_cache_size: 16 * 1024 ** 2,
  })
})
