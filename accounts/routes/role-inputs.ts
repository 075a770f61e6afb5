import Type from 'typebox'
import { roleOf, type Access } from '../access.ts'
import { ALL_SITES, atLeast, ROLES, type Role } from '../roles.ts'
import { normaliseDomain, type Sites } from '../sites.ts'

/** What the users and invitations routes take and show of roles. */
export const RoleIn = Type.Enum(ROLES)
/** A domain, or `*` for every site (those added later too). */
export const SiteOrAll = Type.String({ minLength: 1, maxLength: 253, description: 'a domain, or * for every site' })
export const MembershipOut = Type.Object({ site: Type.String(), role: RoleIn })

/** `*`, or a registered site in lower case; null when it is neither. */
export function siteOrAll(sites: Sites, input: string): string | null {
  if (input === ALL_SITES) return ALL_SITES
  const domain = normaliseDomain(input)
  return domain && sites.has(domain) ? domain : null
}
export const UNKNOWN_SITE = 'site must be a registered site, or * for every site'

/**
 * Whether `access` may give someone the role `role` on `site`, or take away the one they hold
 * there (`current`): a site's admins manage its viewers and admins, only owners manage owners.
 */
export function mayManage(access: Access, site: string, role: Role, current: Role | null = null): boolean {
  const mine = roleOf(access, site)
  return atLeast(mine, 'admin') && atLeast(mine, role) && (current === null || atLeast(mine, current))
}
