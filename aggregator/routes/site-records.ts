import type { FastifyReply } from 'fastify'
import Type from 'typebox'
import { requireAccess, siteFromQuery } from '../../accounts/access.ts'
import { siteOfRecord } from '../../accounts/record-site.ts'
import type { Sites } from '../../accounts/sites.ts'
import { RECORD_ID } from '../site-records.ts'

/**
 * What the segments, funnels and annotations routes share. Reading: whoever may read the site's
 * statistics (the admin token, a session, a per-site token with `stats`, the site's shared link),
 * the site named by `?site=`. Changing: the site's admins.
 */
export const READ = {
  onRequest: requireAccess({ scope: 'stats', siteFrom: siteFromQuery }),
  doc: { tags: ['stats'], security: [{ bearer: [] }, { bearer: [], sharePassword: [] }] as Record<string, string[]>[] },
}
export const WRITE = {
  onRequest: requireAccess({ scope: 'admin', role: 'admin', siteFrom: siteOfRecord() }),
  doc: { tags: ['admin'], security: [{ bearer: [] }] as Record<string, string[]>[] },
}

export const SiteQuery = Type.Object({ site: Type.String({ minLength: 1, maxLength: 253 }) })
export const IdParams = Type.Object({ id: Type.String({ pattern: RECORD_ID.source }) })
export const ErrorOut = Type.Object({ error: Type.String() })
export const DeletedOut = Type.Object({ id: Type.String(), deleted: Type.Boolean() })
export const Meta = { id: Type.String(), site: Type.String(), created_at: Type.String(), updated_at: Type.String() }

/** The registered site a request names (as the routes look sites up: lower case), or null. */
export const siteNamed = (sites: Sites, name: string): string | null => sites.get(name.toLowerCase())?.domain ?? null

export const unknownSite = (reply: FastifyReply) => reply.code(404).send({ error: 'unknown site' })
export const notFound = (reply: FastifyReply, what: string) => reply.code(404).send({ error: `no such ${what}` })
