import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { FastifyReply, FastifyRequest } from 'fastify'

const digest = (s: string) => crypto.hash('sha256', s, 'buffer')

/** The expected token's hash, worked out once: every request with a bearer token is compared with it. */
let expectedDigest: { of: string; digest: Buffer } | null = null

/** Compares a presented token with the expected one in constant time (over their hashes). */
export function tokenMatches(presented: string, expected: string): boolean {
  if (expectedDigest?.of !== expected) expectedDigest = { of: expected, digest: digest(expected) }
  return crypto.timingSafeEqual(digest(presented), expectedDigest.digest)
}

export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization
  if (!h || !h.startsWith('Bearer ')) return null
  return h.slice(7).trim() || null
}

/**
 * The admin token: ANALYTICS_ADMIN_TOKEN, or one generated on first start and kept in
 * `$ANALYTICS_DATA_DIR/admin-token` (readable by the owner only) for the CLI and the user.
 */
export function resolveAdminToken(configured: string | undefined, dataDir: string): { token: string; generated: boolean; file: string } {
  const file = path.join(dataDir, 'admin-token')
  if (configured) return { token: configured, generated: false, file }
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, 'utf8').trim(), generated: false, file }
  fs.mkdirSync(dataDir, { recursive: true })
  const token = crypto.randomBytes(24).toString('base64url')
  fs.writeFileSync(file, token + '\n', { mode: 0o600 })
  return { token, generated: true, file }
}

/** A preHandler that answers 401 unless the request carries the admin token. */
export function requireAdmin(adminToken: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const presented = bearer(req)
    if (!presented) return reply.code(401).send({ error: 'missing bearer token' })
    if (!tokenMatches(presented, adminToken)) return reply.code(401).send({ error: 'invalid token' })
  }
}
