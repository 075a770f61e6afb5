import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { LRUCache } from 'lru-cache'
import { hashPassphrase, passphraseMatches } from './password-hash.ts'
import { normaliseDomain } from './sites.ts'
import { chTime } from '../store/time.ts'

/** What a per-site token may be granted; `shared` alone makes a shared dashboard link. */
export const SCOPES = ['stats', 'export', 'shared'] as const
export type TokenScope = (typeof SCOPES)[number]
/**
 * `pat`: a per-site API token; `shr`: a shared dashboard link (stats only, `shared` audience);
 * `ses`: a signed-in user's session (the user's roles until it expires or the user signs out).
 */
export type TokenKind = 'pat' | 'shr' | 'ses'
/** The stored scope that marks a session (never granted through the token API). */
const SESSION_SCOPE = 'session' as TokenScope
/** How long a session lasts after sign-in. */
export const SESSION_TTL_MS = 12 * 3600_000

/** A token as the admin API and the CLI list it: never its secret, never a hash. */
export interface TokenInfo {
  id: string
  kind: TokenKind
  site: string
  scopes: TokenScope[]
  name: string
  created_at: string
  expires_at: string | null
  has_password: boolean
  /** The user who made it (signed in); null when the admin token or the CLI did. */
  created_by: string | null
}

/** A signed-in user's session as the sessions API lists it: never its secret. */
export interface SessionInfo {
  id: string
  user: string
  created_at: string
  expires_at: string
}

/** Who makes a token: a signed-in user, through one of their sessions. */
export interface Creator {
  user: string
  session: string
}

/** What a presented token proves. */
export interface VerifiedToken {
  id: string
  kind: TokenKind
  site: string
  scopes: TokenScope[]
  hasPassword: boolean
  /** A session's user; null for other tokens. */
  user: string | null
}

export type TokenCheck = { ok: true; token: VerifiedToken } | { ok: false; reason: 'invalid token' | 'token revoked' | 'token expired' }

/** A caller's count of password guesses (its rate limit), told of each new scrypt check. */
export interface PasswordAttempts {
  /** A password is about to be checked: false refuses the check. */
  begin(): boolean
  /** It was no wrong guess: the password was right, or never checked (the queue of checks was full). */
  right(): void
}

export interface NewToken {
  site: string
  scopes: TokenScope[]
  name: string
  /** Shared links only: a passphrase the viewer must send as `x-share-password`. */
  password?: string
  expiresAt?: Date
  /** Absent when the admin token or the CLI makes it: it then belongs to no user. */
  creator?: Creator
}

interface TokenRow {
  id: string
  site: string
  scopes: TokenScope[]
  name: string
  secret_hash: string
  passphrase_hash: string
  created_ms: number
  expires_ms: number | null
  revoked: number
  /** The user who made it ('' for the admin token); a session's own user. */
  created_by: string
  /** The session that made it ('' when none did): ending that session revokes it. */
  created_by_session: string
}

/**
 * A token's public id: 12 hex characters, never all digits. Twelve digits can pass for a card
 * number (Luhn), and the privacy audit then flags the tokens table (a fresh clone's CI hit it:
 * about one id in 280 is all digits, and one in ten of those passes Luhn).
 */
function publicId(): string {
  for (;;) {
    const id = crypto.randomBytes(6).toString('hex')
    if (!/^\d+$/.test(id)) return id
  }
}

/** `pat_`, `shr_` or `ses_`, 12 hex characters of public id, `_`, a base64url secret (which may itself hold `_`). */
const TOKEN_FORMAT = /^(pat|shr|ses)_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})$/
const ID_FORMAT = /^[0-9a-f]{12}$/

// base64url, not hex: a hash is not personal data, and the privacy audit flags long hex runs.
const sha256 = (s: string) => crypto.hash('sha256', s, 'buffer')
const b64 = (b: Buffer) => b.toString('base64url')

export function kindOf(scopes: readonly string[]): TokenKind {
  if (scopes.includes(SESSION_SCOPE)) return 'ses'
  return scopes.includes('shared') ? 'shr' : 'pat'
}

/**
 * Checks an admin's request for a new token, for the HTTP API and the CLI alike; the site
 * must be registered. Returns the token to create or the reason it cannot be.
 */
export function validateNewToken(
  input: { site: string; scopes: readonly string[]; name?: string; password?: string; expires_at?: string },
  isKnownSite: (domain: string) => boolean,
  now = Date.now(),
): { ok: true; token: NewToken } | { ok: false; error: string } {
  const site = normaliseDomain(input.site)
  if (!site) return { ok: false, error: 'site must be a host name such as example.com' }
  if (!isKnownSite(site)) return { ok: false, error: `unknown site ${site}: register it first (analytics site add ${site})` }
  const scopes = [...new Set(input.scopes)]
  if (scopes.length === 0 || scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) {
    return { ok: false, error: `scopes must be one or more of ${SCOPES.join(', ')}` }
  }
  if (scopes.includes('shared') && scopes.length > 1) return { ok: false, error: 'a shared link has the scope shared and no other' }
  if (input.password !== undefined && !scopes.includes('shared')) return { ok: false, error: 'a password is for shared links only' }
  if (input.password !== undefined && (input.password.length < 8 || input.password.length > 200)) return { ok: false, error: 'a password must have 8 to 200 characters' }
  let expiresAt: Date | undefined
  if (input.expires_at !== undefined) {
    // A bare date means its first instant, UTC.
    const ms = /^\d{4}-\d{2}-\d{2}$/.test(input.expires_at) ? Date.parse(`${input.expires_at}T00:00:00Z`) : Date.parse(input.expires_at)
    if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(input.expires_at)) {
      return { ok: false, error: 'expires_at must be an ISO date or date-time such as 2027-01-01' }
    }
    if (ms <= now) return { ok: false, error: 'expires_at must be in the future' }
    expiresAt = new Date(ms)
  }
  const name = input.name?.trim() || (scopes.includes('shared') ? 'shared link' : 'api token')
  return { ok: true, token: { site, scopes: scopes as TokenScope[], name, password: input.password, expiresAt } }
}

const MISSING = { missing: true } as const
type Cached = TokenRow | typeof MISSING

const ROW_COLUMNS = `id, site, scopes, name, secret_hash, passphrase_hash, revoked, created_by, created_by_session,
  toUnixTimestamp64Milli(created_at) AS created_ms,
  if(isNull(expires_at), NULL, toUnixTimestamp64Milli(assumeNotNull(expires_at))) AS expires_ms`

/**
 * Per-site API tokens and shared links. The store keeps only hashes; rows are cached in
 * memory for `refreshMs` (10 s), so a revocation made by another collector applies within it,
 * and one made here at once.
 */
export class TokenStore {
  private rows: LRUCache<string, Cached>
  /** Passphrases already checked (keyed by a hash of them): scrypt is slow on purpose. */
  private passed = new LRUCache<string, true>({ max: 10_000, ttl: 5 * 60_000 })
  /** Passphrase checks under way, by the same key. */
  private checking = new Map<string, Promise<boolean>>()

  constructor(
    private client: ClickHouseClient,
    private opts: { refreshMs?: number; now?: () => number } = {},
  ) {
    this.rows = new LRUCache<string, Cached>({
      max: 10_000,
      ttl: opts.refreshMs ?? 10_000,
      fetchMethod: async (id) => (await this.load(id)) ?? MISSING,
    })
  }

  private now(): number {
    return (this.opts.now ?? Date.now)()
  }

  /** Forgets the cached tokens of a removed site (their rows are gone from the store): they stop working at once. */
  forgetSite(site: string): void {
    for (const [id, row] of this.rows.entries()) if (!('missing' in row) && row.site === site) this.rows.delete(id)
  }

  private async load(id: string): Promise<TokenRow | null> {
    const rs = await this.client.query({
      query: `SELECT ${ROW_COLUMNS} FROM tokens FINAL WHERE id = {id:String} LIMIT 1`,
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<TokenRow>()
    return row ?? null
  }

  /** Writes rows whole (a revocation writes the row again, revoked, with a newer updated_at). */
  private async write(rows: TokenRow[]): Promise<void> {
    const updatedAt = chTime(this.now())
    await this.client.insert({
      table: 'tokens',
      format: 'JSONEachRow',
      values: rows.map((row) => ({
        id: row.id,
        site: row.site,
        scopes: row.scopes,
        name: row.name,
        secret_hash: row.secret_hash,
        passphrase_hash: row.passphrase_hash,
        expires_at: row.expires_ms === null ? null : chTime(row.expires_ms),
        created_at: chTime(row.created_ms),
        updated_at: updatedAt,
        revoked: row.revoked,
        created_by: row.created_by,
        created_by_session: row.created_by_session,
      })),
    })
    for (const row of rows) this.rows.set(row.id, row)
  }

  /** Revokes every token not revoked yet that `where` selects (fixed SQL, values in `params`); the rows revoked. */
  private async revokeWhere(where: string, params: Record<string, unknown>): Promise<TokenRow[]> {
    const rs = await this.client.query({
      query: `SELECT ${ROW_COLUMNS} FROM tokens FINAL WHERE revoked = 0 AND (${where})`,
      query_params: params,
      format: 'JSONEachRow',
    })
    const rows = (await rs.json<TokenRow>()).map((row) => ({ ...row, revoked: 1 }))
    if (rows.length) await this.write(rows)
    return rows
  }

  /** Makes a token; the returned string is the only time its secret exists outside the caller. */
  async create(input: NewToken): Promise<{ token: string; info: TokenInfo }> {
    const id = publicId()
    const secret = crypto.randomBytes(24).toString('base64url')
    const kind = kindOf(input.scopes)
    const row: TokenRow = {
      id,
      site: input.site,
      scopes: input.scopes,
      name: input.name,
      secret_hash: b64(sha256(secret)),
      passphrase_hash: input.password ? await hashPassphrase(input.password) : '',
      created_ms: this.now(),
      expires_ms: input.expiresAt ? input.expiresAt.getTime() : null,
      revoked: 0,
      created_by: input.creator?.user ?? '',
      created_by_session: input.creator?.session ?? '',
    }
    await this.write([row])
    return { token: `${kind}_${id}_${secret}`, info: toInfo(row) }
  }

  /**
   * Starts a session for a signed-in user: a `ses_` token with admin rights, for
   * `SESSION_TTL_MS`; the store keeps its hash, the user's name and the expiry only.
   */
  async createSession(user: string, ttlMs = SESSION_TTL_MS): Promise<{ token: string; id: string; expires_at: string }> {
    const id = publicId()
    const secret = crypto.randomBytes(24).toString('base64url')
    const now = this.now()
    await this.write([{
      id, site: '', scopes: [SESSION_SCOPE], name: user, secret_hash: b64(sha256(secret)), passphrase_hash: '',
      created_ms: now, expires_ms: now + ttlMs, revoked: 0, created_by: user, created_by_session: '',
    }])
    return { token: `ses_${id}_${secret}`, id, expires_at: new Date(now + ttlMs).toISOString() }
  }

  /** Open sessions (not ended, not expired), newest first; `user` narrows to one user's. */
  async listSessions(user?: string): Promise<SessionInfo[]> {
    const rs = await this.client.query({
      query: `SELECT ${ROW_COLUMNS} FROM tokens FINAL
              WHERE revoked = 0 AND has(scopes, {session:String}) AND ({user:String} = '' OR name = {user:String})
                AND expires_at > fromUnixTimestamp64Milli({now:Int64})
              ORDER BY created_at DESC, id`,
      query_params: { session: SESSION_SCOPE, user: user ?? '', now: this.now() },
      format: 'JSONEachRow',
    })
    return (await rs.json<TokenRow>()).map((row) => ({
      id: row.id,
      user: row.name,
      created_at: new Date(row.created_ms).toISOString(),
      expires_at: new Date(row.expires_ms!).toISOString(),
    }))
  }

  /**
   * Ends every open session of one user (a new password, an admin's request), and revokes the
   * tokens those sessions made, as signing out does; how many sessions were open.
   */
  async revokeSessions(user: string): Promise<number> {
    const sessions = await this.revokeWhere(
      'has(scopes, {session:String}) AND name = {user:String} AND expires_at > fromUnixTimestamp64Milli({now:Int64})',
      { session: SESSION_SCOPE, user, now: this.now() },
    )
    if (sessions.length) await this.revokeWhere('created_by_session IN {ids:Array(String)}', { ids: sessions.map((s) => s.id) })
    return sessions.length
  }

  /** Revokes everything a user made, sessions included (the user is removed). */
  async revokeCreatedBy(user: string): Promise<void> {
    // sessions from before tokens recorded their creator carry the user in `name` only
    await this.revokeWhere('created_by = {user:String} OR (has(scopes, {session:String}) AND name = {user:String})', { user, session: SESSION_SCOPE })
  }

  /** Tokens not revoked, newest first; `site` narrows to one site. Sessions are not listed. */
  async list(site?: string): Promise<TokenInfo[]> {
    const rs = await this.client.query({
      query: `SELECT ${ROW_COLUMNS} FROM tokens FINAL
              WHERE revoked = 0 AND NOT has(scopes, {session:String}) AND ({site:String} = '' OR site = {site:String})
              ORDER BY created_at DESC, id`,
      query_params: { site: site ?? '', session: SESSION_SCOPE },
      format: 'JSONEachRow',
    })
    return (await rs.json<TokenRow>()).map(toInfo)
  }

  /**
   * Revokes a token for good; false when there is no such token. Revoking a session ends it as
   * signing out does: the tokens it made are revoked with it.
   */
  async revoke(id: string): Promise<boolean> {
    if (!ID_FORMAT.test(id)) return false
    const row = await this.load(id)
    if (!row) return false
    if (!row.revoked) await this.write([{ ...row, revoked: 1 }])
    else this.rows.set(id, row)
    if (kindOf(row.scopes) === 'ses') await this.revokeWhere('created_by_session = {id:String}', { id })
    return true
  }

  /** Ends one open session as signing out does (the tokens made through it too); false when `id` is no open session. */
  async endSession(id: string): Promise<boolean> {
    if (!ID_FORMAT.test(id)) return false
    const row = await this.load(id)
    if (!row || row.revoked || kindOf(row.scopes) !== 'ses' || (row.expires_ms ?? 0) <= this.now()) return false
    return this.revoke(id)
  }

  /** The site of a per-site token or shared link `id`; undefined for a session or no such token (an admin of a site may revoke that site's tokens). */
  async siteOf(id: string): Promise<string | undefined> {
    if (!ID_FORMAT.test(id)) return undefined
    const row = await this.load(id)
    return row && row.site !== '' ? row.site : undefined
  }

  /** What a token string proves, or why it proves nothing. */
  async check(presented: string): Promise<TokenCheck> {
    const m = TOKEN_FORMAT.exec(presented)
    if (!m) return { ok: false, reason: 'invalid token' }
    const [, kind, id, secret] = m
    const row = await this.rows.fetch(id)
    if (!row || 'missing' in row) return { ok: false, reason: 'invalid token' }
    const expected = Buffer.from(row.secret_hash, 'base64url')
    const actual = sha256(secret)
    if (expected.length !== actual.length || !crypto.timingSafeEqual(actual, expected) || kindOf(row.scopes) !== kind) {
      return { ok: false, reason: 'invalid token' }
    }
    if (row.revoked) return { ok: false, reason: 'token revoked' }
    if (row.expires_ms !== null && row.expires_ms <= this.now()) return { ok: false, reason: 'token expired' }
    return {
      ok: true,
      token: { id, kind: kind as TokenKind, site: row.site, scopes: row.scopes, hasPassword: row.passphrase_hash !== '', user: kind === 'ses' ? row.name : null },
    }
  }

  async verify(presented: string): Promise<VerifiedToken | null> {
    const r = await this.check(presented)
    return r.ok ? r.token : null
  }

  /**
   * Whether `password` opens the shared link `id`; a link without a passphrase needs none.
   * A password found right in the last minutes is answered from memory, and requests checking
   * the same password at once share one scrypt (a dashboard asks a dozen questions at once).
   * `attempts` hears of every other check before it starts, and may refuse it: the answer is
   * then `'refused'` and no scrypt runs.
   */
  async verifySharedPassword(id: string, password: string | undefined, attempts?: PasswordAttempts): Promise<boolean | 'refused'> {
    const row = await this.rows.fetch(id)
    if (!row || 'missing' in row) return false
    if (row.passphrase_hash === '') return true
    if (!password) return false
    const key = `${id}:${b64(sha256(`${row.passphrase_hash}\0${password}`))}`
    if (this.passed.has(key)) return true
    let check = this.checking.get(key)
    if (!check) {
      if (attempts && !attempts.begin()) return 'refused'
      check = passphraseMatches(password, row.passphrase_hash)
        .then((ok) => (ok && this.passed.set(key, true), ok))
        .finally(() => this.checking.delete(key))
      this.checking.set(key, check)
      const ok = await check.catch((err: unknown) => {
        attempts?.right()
        throw err
      })
      if (ok) attempts?.right()
      return ok
    }
    return check
  }
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    kind: kindOf(row.scopes),
    site: row.site,
    scopes: row.scopes,
    name: row.name,
    created_at: new Date(row.created_ms).toISOString(),
    expires_at: row.expires_ms === null ? null : new Date(row.expires_ms).toISOString(),
    has_password: row.passphrase_hash !== '',
    created_by: row.created_by || null,
  }
}
