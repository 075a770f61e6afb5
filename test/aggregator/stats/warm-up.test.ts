import { expect, it } from 'vitest'
import { warmUp } from '../../../aggregator/stats/warm-up.ts'
import { beacon, settle, testApp, UA, visitorIp } from '../../helpers/app.ts'

it('asks each kind of question once, of a site no one can register: none fails beside a site with data', async () => {
  const app = await testApp()
  try {
    for (let i = 0; i < 3; i++) await beacon(app, { name: 'pageview', url: `https://example.com/p${i}`, domain: 'example.com' }, { ip: visitorIp(i), ua: UA.chromeWindows })
    await settle(app)
    expect(await warmUp(app.runtime.store.client)).toEqual([])
  } finally {
    await app.close()
  }
})

it('returns the errors of a store that cannot answer, one per question, instead of throwing', async () => {
  const app = await testApp()
  const client = app.runtime.store.client
  await app.close()
  const errors = await warmUp(client)
  expect(errors).toHaveLength(6)
  expect(errors.every((e) => e instanceof Error)).toBe(true)
})
