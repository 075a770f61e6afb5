import type { ClickHouseClient } from '@clickhouse/client'
import { LRUCache } from 'lru-cache'
import { chTime } from '../store/time.ts'

/**
 * What a dashboard user may do, weakest first: a `viewer` reads a site's statistics; an `admin`
 * also manages the site (goals, funnels, segments, annotations, reports, settings, tokens, and
 * its viewers and admins); an `owner` may do everything, its owners and the installation too.
 */
export const ROLES = ['viewer', 'admin', 'owner'] as const
export type Role = (typeof ROLES)[number]
/** The site of a membership for every site (those added later too). */
export const ALL_SITES = '*'

/** A user's role on one site, or on every site (`*`). */
export interface Membership {
  site: string
  role: Role
}

export const rank = (role: Role | null): number => (role === null ? -1 : ROLES.indexOf(role))
export const atLeast = (role: Role | null, needed: Role): boolean => rank(role) >= rank(needed)

/** The strongest role `memberships` give on `site` (a membership for every site counts); null when none. */
export function roleOn(memberships: readonly Membership[], site: string): Role | null {
  let best: Role | null = null
  for (const m of memberships) if ((m.site === site || m.site === ALL_SITES) && rank(m.role) > rank(best)) best = m.role
  return best
}

/** The sites where `memberships` give at least `needed`; `all` when a membership for every site does. */
export function sitesWith(memberships: readonly Membership[], needed: Role): 'all' | Set<string> {
  if (atLeast(roleOn(memberships, ALL_SITES), needed)) return 'all'
  return new Set(memberships.filter((m) => atLeast(m.role, needed)).map((m) => m.site))
}

export const isRole = (s: unknown): s is Role => typeof s === 'string' && (ROLES as readonly string[]).includes(s)

/**
 * Who holds which role on which site. Looked up on every request a session makes, so a user's
 * memberships are cached for `refreshMs` (10 s, as tokens are): a change made by another
 * process applies within it, one made here at once (the change drops the user's entry).
 */
export class Memberships {
  private cache: LRUCache<string, Membership[]>

  constructor(
    private client: ClickHouseClient,
    private opts: { refreshMs?: number; now?: () => number } = {},
  ) {
    this.cache = new LRUCache<string, Membership[]>({ max: 10_000, ttl: opts.refreshMs ?? 10_000, fetchMethod: (user) => this.load(user) })
  }

  private async load(user: string): Promise<Membership[]> {
    const rs = await this.client.query({
      query: 'SELECT site, role FROM memberships FINAL WHERE user = {user:String} AND deleted = 0 ORDER BY site',
      query_params: { user },
      format: 'JSONEachRow',
    })
    return (await rs.json<{ site: string; role: string }>()).filter((m): m is Membership => isRole(m.role))
  }

  /** A user's memberships (cached). */
  async of(user: string): Promise<Membership[]> {
    return (await this.cache.fetch(user)) ?? []
  }

  /** Everyone's memberships, by user (for the users list). */
  async all(): Promise<Map<string, Membership[]>> {
    const rs = await this.client.query({
      query: 'SELECT user, site, role FROM memberships FINAL WHERE deleted = 0 ORDER BY user, site',
      format: 'JSONEachRow',
    })
    const byUser = new Map<string, Membership[]>()
    for (const m of await rs.json<{ user: string; site: string; role: string }>()) {
      if (!isRole(m.role)) continue
      byUser.set(m.user, [...(byUser.get(m.user) ?? []), { site: m.site, role: m.role }])
    }
    return byUser
  }

  private async write(user: string, site: string, role: Role, deleted: 0 | 1): Promise<void> {
    await this.client.insert({
      table: 'memberships',
      format: 'JSONEachRow',
      values: [{ user, site, role, updated_at: chTime((this.opts.now ?? Date.now)()), deleted }],
    })
    this.cache.delete(user)
  }

  /** Gives `user` the role `role` on `site` (or every site, `*`), in place of the one they had there. */
  async set(user: string, site: string, role: Role): Promise<void> {
    await this.write(user, site, role, 0)
  }

  /** Takes `user`'s role on `site` away; false when they had none there. */
  async remove(user: string, site: string): Promise<boolean> {
    const had = (await this.load(user)).find((m) => m.site === site)
    if (!had) return false
    await this.write(user, site, had.role, 1)
    return true
  }

  /** Forgets every membership of a removed user, rows included (the user's name goes with them). */
  async removeUser(user: string): Promise<void> {
    await this.client.command({ query: 'DELETE FROM memberships WHERE user = {user:String}', query_params: { user } })
    this.cache.delete(user)
  }
}
