import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { hashPassphrase, passphraseMatches } from './password-hash.ts'
import { ALL_SITES, Memberships, type Membership } from './roles.ts'
import { TokenStore } from './tokens.ts'
import { chTime } from '../store/time.ts'
import { eraseFromDisk } from '../retention/erase.ts'

/** A user as the admin API and the CLI list one: never a hash. */
export interface UserInfo {
  name: string
  created_at: string
}

/** What a new user may do when nothing else is said: everything, as every user could before roles. */
export const FIRST_ROLE: Membership = { site: ALL_SITES, role: 'owner' }

/** Names people type: letters, digits, `.`, `_`, `-` and `@`, 1 to 64 characters. */
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/

/** Checks a new user's name and password, for the HTTP API and the CLI alike. */
export function validateNewUser(name: string, password: string): string | null {
  if (!USER_NAME.test(name)) return 'a user name has 1 to 64 letters, digits, ".", "_", "-" or "@", and starts with a letter or digit'
  if (password.length < 8 || password.length > 200) return 'a password must have 8 to 200 characters'
  return null
}

// Checked against when the user does not exist, so an unknown name costs the same scrypt as a known one.
let decoy: Promise<string> | null = null

/**
 * Users who sign in to the dashboards with a password. The store keeps the password's scrypt
 * hash only (random 16-byte salt, base64url); a check compares with crypto.timingSafeEqual.
 * A user's sessions and tokens go with them: a new password ends their sessions, removing the
 * user revokes everything they made and takes their roles away.
 */
export class Users {
  private tokens: TokenStore
  private memberships: Memberships

  /** `tokens`, `memberships`: the server's, so that changes apply at once to their caches. */
  constructor(
    private client: ClickHouseClient,
    private opts: { now?: () => number; tokens?: TokenStore; memberships?: Memberships } = {},
  ) {
    this.tokens = opts.tokens ?? new TokenStore(client)
    this.memberships = opts.memberships ?? new Memberships(client)
  }

  private now(): number {
    return (this.opts.now ?? Date.now)()
  }

  private async row(name: string): Promise<{ passphrase_hash: string; created_ms: number } | null> {
    const rs = await this.client.query({
      query: `SELECT passphrase_hash, toUnixTimestamp64Milli(created_at) AS created_ms FROM users FINAL
              WHERE name = {name:String} AND deleted = 0 LIMIT 1`,
      query_params: { name },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<{ passphrase_hash: string; created_ms: number }>()
    return row ? { ...row, created_ms: Number(row.created_ms) } : null
  }

  private async write(name: string, hash: string, createdMs: number, deleted: 0 | 1): Promise<void> {
    await this.client.insert({
      table: 'users',
      format: 'JSONEachRow',
      values: [{ name, passphrase_hash: hash, created_at: chTime(createdMs), updated_at: chTime(this.now()), deleted }],
    })
  }

  /** Whether a user of this name exists. */
  async exists(name: string): Promise<boolean> {
    return USER_NAME.test(name) && (await this.row(name)) !== null
  }

  /**
   * Adds a user with the role `role` (owner of every site unless said), or sets a new password
   * for one that exists (their roles stay) and ends that user's sessions (and the tokens they
   * made), so that whoever knew the old password is signed out.
   */
  async create(name: string, password: string, role: Membership = FIRST_ROLE): Promise<{ info: UserInfo; created: boolean; sessionsEnded: number }> {
    const error = validateNewUser(name, password)
    if (error) throw new Error(error)
    const existing = await this.row(name)
    const createdMs = existing?.created_ms ?? this.now()
    await this.write(name, await hashPassphrase(password), createdMs, 0)
    if (!existing) await this.memberships.set(name, role.site, role.role)
    const sessionsEnded = existing ? await this.tokens.revokeSessions(name) : 0
    return { info: { name, created_at: new Date(createdMs).toISOString() }, created: !existing, sessionsEnded }
  }

  /** Whether `password` is this user's; an unknown user costs the same work and answers false. */
  async verify(name: string, password: string): Promise<boolean> {
    const row = USER_NAME.test(name) ? await this.row(name) : null
    if (!row) {
      decoy ??= hashPassphrase(crypto.randomBytes(16).toString('base64url'))
      await passphraseMatches(password, await decoy)
      return false
    }
    return passphraseMatches(password, row.passphrase_hash)
  }

  async list(): Promise<UserInfo[]> {
    const rs = await this.client.query({
      query: `SELECT name, toUnixTimestamp64Milli(created_at) AS created_ms FROM users FINAL WHERE deleted = 0 ORDER BY name`,
      format: 'JSONEachRow',
    })
    return (await rs.json<{ name: string; created_ms: number }>()).map((r) => ({ name: r.name, created_at: new Date(Number(r.created_ms)).toISOString() }))
  }

  /**
   * Removes a user (the password hash goes with the row), revokes every token they made, their
   * sessions included, and takes their roles away; false when there is no such user.
   */
  async remove(name: string): Promise<boolean> {
    if (!USER_NAME.test(name)) return false
    const row = await this.row(name)
    if (!row) return false
    // the old rows (and the hashes in them) go at once, not at the next merge
    await this.client.command({ query: 'DELETE FROM users WHERE name = {name:String}', query_params: { name } })
    await this.write(name, '', row.created_ms, 1)
    // and leave the disk: a lightweight delete only hides them
    await eraseFromDisk(this.client, 'users')
    await this.tokens.revokeCreatedBy(name)
    await this.memberships.removeUser(name)
    return true
  }
}
