import { apiGet, type Credentials } from './api.ts'
import { useFetch } from './use-fetch.ts'

/** A role as the server grants it (accounts/roles.ts), weakest first. */
export type Role = 'viewer' | 'admin' | 'owner'
export interface Membership { site: string; role: Role }
const RANK: Record<Role, number> = { viewer: 0, admin: 1, owner: 2 }

/** The strongest role `roles` give on `site` (a role on every site, `*`, counts); null when none. */
export function roleOn(roles: Membership[], site: string): Role | null {
  let best: Role | null = null
  for (const m of roles) if ((m.site === site || m.site === '*') && (best === null || RANK[m.role] > RANK[best])) best = m.role
  return best
}

export const atLeast = (role: Role | null, needed: Role) => role !== null && RANK[role] >= RANK[needed]

/** The roles `mine` may give or change, as the server allows: a site's admins viewer and admin, owners any. */
export const grantable = (mine: Role): Role[] => (Object.keys(RANK) as Role[]).filter((r) => atLeast(mine, r))

/**
 * Who is signed in and their roles (GET /api/v1/me): what the dashboards show and hide. The
 * server decides every request on its own; this only spares a viewer controls they cannot use.
 */
export function useRoles(cred: Credentials): Membership[] | null {
  const me = useFetch<{ user: string | null; roles: Membership[] }>(`me:${cred.token}`, (signal) => apiGet(cred, '/api/v1/me', {}, signal))
  return me.data?.roles ?? null
}
