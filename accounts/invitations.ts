import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { isRole, type Role } from './roles.ts'
import { chTime } from '../store/time.ts'

/** How long an invitation link stays good. */
export const INVITATION_TTL_MS = 7 * 24 * 3600_000

/** An invitation as the API lists one: never its secret, never a hash. */
export interface InvitationInfo {
  id: string
  /** The user name the invitee will sign in with. */
  name: string
  /** A domain, or `*` for every site. */
  site: string
  role: Role
  /** The signed-in user who invited; null for the admin token and the CLI. */
  invited_by: string | null
  created_at: string
  expires_at: string
}

interface Row {
  id: string
  secret_hash: string
  name: string
  site: string
  role: string
  invited_by: string
  created_ms: number
  expires_ms: number
  used: number
}

/** `inv_`, 12 hex characters of public id, `_`, a base64url secret. */
const INVITATION_FORMAT = /^inv_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})$/
const ID_FORMAT = /^[0-9a-f]{12}$/
const COLUMNS = `id, secret_hash, name, site, role, invited_by, used,
  toUnixTimestamp64Milli(created_at) AS created_ms, toUnixTimestamp64Milli(expires_at) AS expires_ms`

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest()

/** Where an invitation is opened in the dashboards: the token in the fragment, which no request carries. */
export const acceptPath = (token: string) => `/accept#${token}`

/**
 * Invitations to join with a role: a link, good once and for `INVITATION_TTL_MS`, that lets the
 * invitee set their own password. The store keeps a SHA-256 of its secret only, as for tokens.
 */
export class Invitations {
  /** Invitations being accepted in this process: a link used twice at once is used once. */
  private accepting = new Set<string>()

  constructor(
    private client: ClickHouseClient,
    private opts: { now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)()
  }

  private async load(id: string): Promise<Row | null> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS} FROM invitations FINAL WHERE id = {id:String} LIMIT 1`,
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<Row>()
    return row ? { ...row, created_ms: Number(row.created_ms), expires_ms: Number(row.expires_ms) } : null
  }

  private async write(row: Row): Promise<void> {
    await this.client.insert({
      table: 'invitations',
      format: 'JSONEachRow',
      values: [{
        id: row.id, secret_hash: row.secret_hash, name: row.name, site: row.site, role: row.role, invited_by: row.invited_by,
        created_at: chTime(row.created_ms), expires_at: chTime(row.expires_ms), updated_at: chTime(this.now()), used: row.used,
      }],
    })
  }

  /** Makes an invitation; the returned token is the only time its secret exists outside the caller. */
  async create(input: { name: string; site: string; role: Role; invitedBy: string | null }): Promise<{ token: string; info: InvitationInfo }> {
    const id = crypto.randomBytes(6).toString('hex')
    const secret = crypto.randomBytes(24).toString('base64url')
    const now = this.now()
    const row: Row = {
      id, secret_hash: sha256(secret).toString('base64url'), name: input.name, site: input.site, role: input.role,
      invited_by: input.invitedBy ?? '', created_ms: now, expires_ms: now + INVITATION_TTL_MS, used: 0,
    }
    await this.write(row)
    return { token: `inv_${id}_${secret}`, info: toInfo(row) }
  }

  /** Invitations not used, revoked nor expired, newest first. */
  async list(): Promise<InvitationInfo[]> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS} FROM invitations FINAL WHERE used = 0 AND expires_at > fromUnixTimestamp64Milli({now:Int64}) ORDER BY created_at DESC, id`,
      query_params: { now: this.now() },
      format: 'JSONEachRow',
    })
    return (await rs.json<Row>()).map((r) => toInfo({ ...r, created_ms: Number(r.created_ms), expires_ms: Number(r.expires_ms) }))
  }

  /** The site (or `*`) an invitation is for; undefined when there is no such invitation. */
  async siteOf(id: string): Promise<string | undefined> {
    return ID_FORMAT.test(id) ? (await this.load(id))?.site : undefined
  }

  /** Withdraws an invitation not used yet; false when there is none. */
  async revoke(id: string): Promise<boolean> {
    const row = ID_FORMAT.test(id) ? await this.load(id) : null
    if (!row || row.used) return false
    await this.write({ ...row, used: 1 })
    return true
  }

  /**
   * Uses an invitation once: `join` makes the user (and their role) from what it holds, and the
   * invitation is spent only when it made something. When `join` answers null (nothing made: the
   * name was taken meanwhile) the link stays good, so that it still works once the name is free
   * or until an admin withdraws it. An error message when the link is unknown, used or expired.
   */
  async accept<T>(token: string, join: (invited: { name: string; site: string; role: Role }) => Promise<T | null>): Promise<{ ok: true; value: T | null } | { ok: false; error: string }> {
    const m = INVITATION_FORMAT.exec(token)
    const invalid = { ok: false as const, error: 'this invitation link is not valid' }
    if (!m) return invalid
    const [, id, secret] = m
    if (this.accepting.has(id)) return { ok: false, error: 'this invitation is already being accepted' }
    this.accepting.add(id)
    try {
      const row = await this.load(id)
      if (!row || !isRole(row.role)) return invalid
      const expected = Buffer.from(row.secret_hash, 'base64url')
      const actual = sha256(secret)
      if (expected.length !== actual.length || !crypto.timingSafeEqual(actual, expected)) return invalid
      if (row.used) return { ok: false, error: 'this invitation was used or withdrawn' }
      if (row.expires_ms <= this.now()) return { ok: false, error: 'this invitation has expired: ask for a new one' }
      const value = await join({ name: row.name, site: row.site, role: row.role })
      if (value !== null) await this.write({ ...row, used: 1 })
      return { ok: true, value }
    } finally {
      this.accepting.delete(id)
    }
  }
}

function toInfo(row: Row): InvitationInfo {
  return {
    id: row.id,
    name: row.name,
    site: row.site,
    role: row.role as Role,
    invited_by: row.invited_by || null,
    created_at: new Date(row.created_ms).toISOString(),
    expires_at: new Date(row.expires_ms).toISOString(),
  }
}
