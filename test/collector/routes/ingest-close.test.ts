import { describe, expect, it } from 'vitest'
import { flush, rows, tempDataDir, testApp, UA, visitorIp } from '../../helpers/app.ts'

/**
 * The beacon route closed while beacons are being read, waiting for their turn (`beaconsByTurn`
 * in collector/routes/ingest.ts), run or written: a 202 still means the event is on disk, so
 * every beacon answered 202 is stored (once) by the next start, and the others are answered
 * 503 or not at all. The beacons come over fetch's keep-alive connections: the close must not
 * wait for them once they fall idle (server/app.ts closes them as they do; before, the close
 * waited for Fastify's 72 s keep-alive timeout and this test timed out). Its own file: the
 * embedded engine opens one data directory a process.
 */
const SITE = 'closing.example.com'
const page = (path: string) => JSON.stringify({ n: 'pageview', u: `https://${SITE}${path}`, d: SITE })

describe('the beacon route, closed with beacons in flight', () => {
  it('stores every beacon it answered 202, once, and answers the rest with no 202', async () => {
    const dataDir = tempDataDir()
    const closing = await testApp({ ingestRateLimit: 0, dataDir, spoolFsync: true }, [SITE])
    await closing.listen({ host: '127.0.0.1', port: 0 })
    const at = `http://127.0.0.1:${(closing.server.address() as { port: number }).port}/api/event`
    const sent = Array.from({ length: 150 }, (_, i) => ({ path: `/closing/${i}`, ip: visitorIp(i) }))
    const answered = sent.map(async (b) => {
      try {
        const res = await fetch(at, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': UA.chromeWindows, 'x-forwarded-for': b.ip }, body: page(b.path) })
        return res.status
      } catch {
        return 0 // the connection closed before an answer
      }
    })
    // closed once the first answers are in, while the others are being read, run or written
    await Promise.race(answered)
    await closing.close()
    const statuses = await Promise.all(answered)
    const accepted = sent.filter((_, i) => statuses[i] === 202).map((b) => b.path).sort()
    expect(accepted.length).toBeGreaterThan(0)
    for (const s of statuses) expect([0, 202, 503]).toContain(s)

    // what the spool holds is stored at the next start
    const reopened = await testApp({ dataDir }, [])
    try {
      await flush(reopened)
      const stored = await rows<{ pathname: string; n: string }>(
        reopened,
        "SELECT pathname, toString(count()) AS n FROM events WHERE site = {site:String} AND startsWith(pathname, '/closing/') GROUP BY pathname",
        { site: SITE },
      )
      for (const r of stored) expect(r.n, r.pathname).toBe('1')
      const storedPaths = new Set(stored.map((r) => r.pathname))
      expect(accepted.filter((p) => !storedPaths.has(p))).toEqual([])
    } finally {
      await reopened.close()
    }
  })
})
