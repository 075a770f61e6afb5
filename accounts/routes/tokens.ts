import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import { requireAccess, siteFromRequestOr, sitesOf } from '../access.ts'
import { SCOPES, validateNewToken } from '../tokens.ts'
import type { Sites } from '../sites.ts'

const ScopeIn = Type.Enum(SCOPES)

const NewToken = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 253 }),
  scopes: Type.Array(ScopeIn, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true }),
  name: Type.Optional(Type.String({ maxLength: 100 })),
  password: Type.Optional(Type.String({ minLength: 8, maxLength: 200, description: 'shared links only: the viewer sends it as x-share-password' })),
  expires_at: Type.Optional(Type.String({ maxLength: 40, description: 'ISO date or date-time; a bare date means 00:00 UTC of that day' })),
}, { additionalProperties: false })

const TokenOut = Type.Object({
  id: Type.String(),
  kind: Type.Enum(['pat', 'shr']),
  site: Type.String(),
  scopes: Type.Array(ScopeIn),
  name: Type.String(),
  created_at: Type.String(),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  has_password: Type.Boolean(),
  created_by: Type.Union([Type.String(), Type.Null()], { description: 'the signed-in user who made it (revoked when the user is removed, or with the session it was made through); null for the admin token' }),
})

const CreatedOut = Type.Object({
  ...TokenOut.properties,
  token: Type.String({ description: 'shown once; only its hash is stored' }),
  share_path: Type.Optional(Type.String({ description: 'shared links: the page that shows the dashboard, the token in its fragment (never sent to a server)' })),
})

const ListQuery = Type.Object({ site: Type.Optional(Type.String({ maxLength: 253 })) }, { additionalProperties: false })
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) })
const ErrorOut = Type.Object({ error: Type.String() })

/**
 * Where a shared link opens its dashboard: the token rides in the fragment, which browsers never
 * send, so no proxy or server log sees it (old `/share/<token>` links are redirected here).
 */
export const sharePath = (token: string) => `/share#${token}`

/**
 * Per-site API tokens and shared links: the admin API behind `analytics token` and `analytics share`.
 * A site's admins make, list and revoke its tokens (a viewer none); owners of every site all of them.
 */
export async function tokenRoutes(app: FastifyInstance, { sites }: { sites: Sites }) {
  app.addHook('onRequest', requireAccess({ scope: 'admin', role: 'admin', anySite: true, siteFrom: siteFromRequestOr((id) => app.tokens.siteOf(id)) }))

  app.post<{ Body: Static<typeof NewToken> }>('/api/v1/tokens', {
    schema: { summary: 'Create a per-site API token or a shared link (the token is shown once)', body: NewToken, response: { 201: CreatedOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const checked = validateNewToken(req.body, (d) => sites.has(d))
    if (!checked.ok) return reply.code(400).send({ error: checked.error })
    // a token made by a signed-in user is theirs, and is revoked when the session it came from ends
    const { via, user, tokenId } = req.access!
    const creator = via === 'ses' && user && tokenId ? { user, session: tokenId } : undefined
    const { token, info } = await app.tokens.create({ ...checked.token, creator })
    return reply.code(201).send({ ...info, token, ...(info.kind === 'shr' ? { share_path: sharePath(token) } : {}) })
  })

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/v1/tokens', {
    schema: { summary: 'List tokens that are not revoked (no secrets, no hashes)', querystring: ListQuery, response: { 200: Type.Object({ tokens: Type.Array(TokenOut) }), '4xx': ErrorOut } },
  }, async (req) => {
    const mine = sitesOf(req.access!, 'admin')
    const tokens = await app.tokens.list(req.query.site?.toLowerCase())
    return { tokens: mine === 'all' ? tokens : tokens.filter((t) => mine.has(t.site)) }
  })

  app.delete<{ Params: Static<typeof IdParams> }>('/api/v1/tokens/:id', {
    schema: { summary: 'Revoke a token; it stops working at once here and within 10 s on other collectors', params: IdParams, response: { 200: Type.Object({ id: Type.String(), revoked: Type.Boolean() }), '4xx': ErrorOut } },
  }, async (req, reply) => {
    if (!(await app.tokens.revoke(req.params.id))) return reply.code(404).send({ error: 'no such token' })
    return { id: req.params.id, revoked: true }
  })
}
