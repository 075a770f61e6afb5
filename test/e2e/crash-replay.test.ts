import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, DOC_IPS, UA, tempDataDir } from '../helpers/app.ts'
import { freePort, runCli, startServer } from '../helpers/process.ts'
import { utcDay } from '../helpers/fixtures.ts'


/** Events stored from the day `since` (when the beacons were sent) to today: a run across midnight UTC has them on the day before. */
async function storedEvents(base: string, since: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/stats/aggregate?site=example.com&period=custom&from=${since}&to=${utcDay()}&metrics=events,visitors`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const body = (await res.json()) as { results: { events: { value: number | null } } }
  return body.results.events.value ?? -1
}

describe('kill -9 after 202', () => {
  it('loses nothing: the spool is replayed once on restart, without duplicates', async () => {
    const dataDir = tempDataDir()
    const port = await freePort()
    await runCli(['site', 'add', 'example.com'], dataDir, port)
    // batches are held for a minute, so nothing reaches the store before the kill
    const first = await startServer(dataDir, port, { BATCH_MS: '60000', BATCH_ROWS: '100000' })
    const uas = Object.values(UA).slice(0, 5)
    const sentOn = utcDay()
    const sent = 60
    for (let i = 0; i < sent; i++) {
      const res = await fetch(`${first.base}/api/event`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': uas[i % uas.length], 'x-forwarded-for': DOC_IPS[i % DOC_IPS.length] },
        body: JSON.stringify({ n: 'pageview', u: `https://example.com/crash/${i}`, d: 'example.com' }),
      })
      expect(res.status).toBe(202)
    }
    first.child.kill('SIGKILL')
    await new Promise((r) => first.child.once('exit', r))
    const spoolDir = path.join(dataDir, 'spool')
    expect(fs.readdirSync(spoolDir).length).toBeGreaterThan(0)

    const second = await startServer(dataDir, port, { ROLLUP_INTERVAL_MS: '200' })
    for (let i = 0; i < 100 && fs.readdirSync(spoolDir).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    expect(fs.readdirSync(spoolDir)).toEqual([])
    // the stats read rollups, built from the replayed events within a moment
    let stored = -1
    for (let i = 0; i < 100 && stored !== sent; i++) {
      stored = await storedEvents(second.base, sentOn)
      if (stored !== sent) await new Promise((r) => setTimeout(r, 100))
    }
    expect(stored).toBe(sent)
    // the server log says nothing about the visitors
    expect(second.log() + first.log()).not.toMatch(/192\.0\.2|198\.51\.100|203\.0\.113|2001:db8|Mozilla|\/crash\//)
    second.child.kill('SIGTERM')
    await new Promise((r) => second.child.once('exit', r))
  })
})
