import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'
import { ADMIN_TOKEN } from './app.ts'

/** A beacon as it would have arrived at `ts`: body, and the request facts the collector hashes and forgets. */
export interface PastBeacon {
  body: Record<string, unknown>
  ip: string
  ua: string
  ts: number
}

/**
 * Sends beacons through the collector's pipeline (the seed route `POST /api/v1/admin/events`),
 * each with its own time, in ONE batch: the route's salts live for one batch, so a visitor split
 * over two batches would count as two. Every beacon must be taken (no drop).
 */
export async function seedPast(app: FastifyInstance, beacons: PastBeacon[]): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/admin/events',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { events: beacons.map((b) => ({ body: b.body, ip: b.ip, userAgent: b.ua, receivedAt: b.ts })) },
  })
  expect(res.statusCode, res.body).toBe(202)
  expect(res.json(), 'every beacon taken').toEqual({ accepted: beacons.length, drops: {} })
}
