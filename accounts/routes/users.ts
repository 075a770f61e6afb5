import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { clientKey, nameKey, RateLimiter, tooManyRequests, type Limit } from '../../http/rate-limit.ts'
import { requireAccess, siteFromQueryOrBody, sitesOf } from '../access.ts'
import { ALL_SITES, type Membership } from '../roles.ts'
import type { Sites } from '../sites.ts'
import { FIRST_ROLE, Users, validateNewUser } from '../users.ts'
import { invitationRoutes } from './invitations.ts'
import { mayManage, MembershipOut, RoleIn, siteOrAll, SiteOrAll, UNKNOWN_SITE } from './role-inputs.ts'

const ErrorOut = Type.Object({ error: Type.String() })
const Login = Type.Object({
  user: Type.String({ minLength: 1, maxLength: 200 }),
  password: Type.String({ minLength: 1, maxLength: 200 }),
}, { additionalProperties: false })
const SessionOut = Type.Object({
  token: Type.String({ description: "a session token (ses_…): send it as `Authorization: Bearer`; it has the user's roles for 12 hours" }),
  expires_at: Type.String(),
})
const UserOut = Type.Object({ name: Type.String(), created_at: Type.String() })
const UserListed = Type.Object({ ...UserOut.properties, roles: Type.Array(MembershipOut) })
const UserSet = Type.Object({ ...UserOut.properties, sessions_ended: Type.Integer({ description: 'sessions of the user ended by the new password' }) })
const NewUser = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 8, maxLength: 200 }),
  role: Type.Optional(RoleIn),
  site: Type.Optional(SiteOrAll),
}, { additionalProperties: false })
const RoleSet = Type.Object({ site: SiteOrAll, role: RoleIn }, { additionalProperties: false })
const SiteQuery = Type.Object({ site: SiteOrAll }, { additionalProperties: false })
const MeOut = Type.Object({
  user: Type.Union([Type.String(), Type.Null()], { description: 'the signed-in user; null for the admin token' }),
  roles: Type.Array(MembershipOut, { description: 'the admin token is owner of every site' }),
})
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) })
const SessionInfoOut = Type.Object({
  id: Type.String(),
  user: Type.String(),
  created_at: Type.String(),
  expires_at: Type.String(),
  current: Type.Boolean({ description: 'the session that asks' }),
})
const SessionsQuery = Type.Object({ user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false })
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) })

/** Sign-in attempts each client may make in a window. */
export const LOGIN_LIMIT: Limit = { max: 10, windowMs: 60_000 }
/** Wrong passwords for one user name from all clients together: many addresses do not multiply the guesses. */
export const ACCOUNT_LOGIN_LIMIT: Limit = { max: 30, windowMs: 10 * 60_000 }
/** A failed sign-in answers no sooner than this (plus a little jitter), known user or not. */
const FAILED_MIN_MS = 250

const WRONG = { error: 'wrong user name or password' }

/** Sign-in attempts per client, counted in memory by a keyed hash of the client's address. */
function loginLimiter() {
  const attempts = new RateLimiter(LOGIN_LIMIT)
  return async function limit(req: FastifyRequest, reply: FastifyReply) {
    const wait = attempts.hit(clientKey(req.ip))
    if (wait) return tooManyRequests(reply, wait, 'too many sign-in attempts: try again in a minute')
  }
}

/**
 * Dashboard users: sign-in and sign-out for everyone; who am I for everyone signed in; users and
 * their roles for a site's admins (on their sites); users' passwords, removal and sessions for owners.
 */
export async function userRoutes(app: FastifyInstance, { client, sites }: { client: ClickHouseClient; sites: Sites }) {
  const users = new Users(client, { tokens: app.tokens, memberships: app.memberships })
  // by a keyed hash of the name typed, known or not, so that a 429 tells nothing about who exists
  const accountAttempts = new RateLimiter(ACCOUNT_LOGIN_LIMIT)

  app.post<{ Body: Static<typeof Login> }>('/api/v1/login', {
    onRequest: loginLimiter(),
    schema: {
      summary: 'Sign in with a user name and password: answers a session token (10 attempts a minute per client, 30 wrong passwords in 10 minutes per user name)',
      tags: ['admin'],
      security: [],
      body: Login,
      response: { 200: SessionOut, '4xx': ErrorOut },
    },
  }, async (req, reply) => {
    const started = Date.now()
    const { user, password } = req.body
    // Counted before the scrypt starts, so that guesses sent all at once are counted too; past
    // the limit a right password is refused as well: no answer tells a guess apart.
    const account = nameKey(user)
    const over = accountAttempts.hit(account)
    if (over) return tooManyRequests(reply, over, 'too many wrong passwords for this user name: try again later')
    // a check refused for a full queue (503) was no guess
    const right = await users.verify(user, password).catch((err: unknown) => {
      accountAttempts.undo(account)
      throw err
    })
    if (right) {
      accountAttempts.undo(account)
      const session = await app.tokens.createSession(user)
      return { token: session.token, expires_at: session.expires_at }
    }
    const wait = FAILED_MIN_MS + crypto.randomInt(50) - (Date.now() - started)
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    return reply.code(401).send(WRONG)
  })

  app.post('/api/v1/logout', {
    onRequest: requireAccess({ scope: 'admin', role: 'signed-in' }),
    schema: {
      summary: 'Sign out: the session token presented, and every token made through it, stop working at once (the admin token is not affected)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      response: { 200: Type.Object({ signed_out: Type.Boolean() }), '4xx': ErrorOut },
    },
  }, async (req) => {
    const access = req.access!
    if (access.via !== 'ses' || !access.tokenId) return { signed_out: false }
    await app.tokens.endSession(access.tokenId)
    return { signed_out: true }
  })

  app.get('/api/v1/me', {
    onRequest: requireAccess({ scope: 'admin', role: 'signed-in' }),
    schema: {
      summary: 'Who is signed in, and their roles (what the dashboards show and hide)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      response: { 200: MeOut, '4xx': ErrorOut },
    },
  }, async (req) => {
    const access = req.access!
    return { user: access.user, roles: access.via === 'admin' ? [FIRST_ROLE] : access.memberships ?? [] }
  })

  await app.register(invitationRoutes, { client, sites, users, limit: loginLimiter() })

  // a site's admins see and manage the roles on their sites
  await app.register(async (admins) => {
    admins.addHook('onRequest', requireAccess({ scope: 'admin', role: 'admin', anySite: true, siteFrom: siteFromQueryOrBody }))

    admins.get('/api/v1/users', {
      schema: {
        summary: "List dashboard users and their roles (never a password or its hash); a site's admin sees the users of their sites",
        response: { 200: Type.Object({ users: Type.Array(UserListed) }), '4xx': ErrorOut },
      },
    }, async (req) => {
      const mine = sitesOf(req.access!, 'admin')
      const roles = await app.memberships.all()
      const visible = (m: Membership) => mine === 'all' || mine.has(m.site) || m.site === ALL_SITES
      return {
        users: (await users.list())
          .map((u) => ({ ...u, roles: (roles.get(u.name) ?? []).filter(visible) }))
          .filter((u) => mine === 'all' || u.roles.some((m) => m.site !== ALL_SITES)),
      }
    })

    admins.put<{ Params: Static<typeof NameParams>; Body: Static<typeof RoleSet> }>('/api/v1/users/:name/roles', {
      schema: {
        summary: "Give a user a role on a site (or * for every site), in place of the one they had there; a site's admins give viewer or admin, owners any",
        params: NameParams,
        body: RoleSet,
        response: { 200: UserListed, '4xx': ErrorOut },
      },
    }, async (req, reply) => {
      const site = siteOrAll(sites, req.body.site)
      if (!site) return reply.code(400).send({ error: UNKNOWN_SITE })
      if (!(await users.exists(req.params.name))) return reply.code(404).send({ error: 'no such user' })
      const held = (await app.memberships.of(req.params.name)).find((m) => m.site === site)?.role ?? null
      if (!mayManage(req.access!, site, req.body.role, held)) return reply.code(403).send({ error: 'only an owner gives or changes the owner role' })
      await app.memberships.set(req.params.name, site, req.body.role)
      const [info] = (await users.list()).filter((u) => u.name === req.params.name)
      return { ...info, roles: await app.memberships.of(req.params.name) }
    })

    admins.delete<{ Params: Static<typeof NameParams>; Querystring: Static<typeof SiteQuery> }>('/api/v1/users/:name/roles', {
      schema: {
        summary: "Take a user's role on a site (or *) away; the user stays, with their other roles",
        params: NameParams,
        querystring: SiteQuery,
        response: { 200: Type.Object({ name: Type.String(), site: Type.String(), removed: Type.Boolean() }), '4xx': ErrorOut },
      },
    }, async (req, reply) => {
      const site = siteOrAll(sites, req.query.site)
      if (!site) return reply.code(400).send({ error: UNKNOWN_SITE })
      const held = (await app.memberships.of(req.params.name)).find((m) => m.site === site)?.role ?? null
      if (held === null) return reply.code(404).send({ error: 'this user has no role there' })
      if (!mayManage(req.access!, site, held, held)) return reply.code(403).send({ error: 'only an owner takes the owner role away' })
      await app.memberships.remove(req.params.name, site)
      return { name: req.params.name, site, removed: true }
    })
  })

  // owners of every site: passwords, removal, sessions
  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAccess({ scope: 'admin' }))

    admin.post<{ Body: Static<typeof NewUser> }>('/api/v1/users', {
      schema: {
        summary: "Add a dashboard user with a role (owner of every site unless `role` and `site` say otherwise), or set a new password for one, which ends that user's sessions (only its scrypt hash is stored)",
        body: NewUser,
        response: { 200: UserSet, 201: UserSet, '4xx': ErrorOut },
      },
    }, async (req, reply) => {
      const error = validateNewUser(req.body.name, req.body.password)
      if (error) return reply.code(400).send({ error })
      const site = siteOrAll(sites, req.body.site ?? ALL_SITES)
      if (!site) return reply.code(400).send({ error: UNKNOWN_SITE })
      const role = { site, role: req.body.role ?? FIRST_ROLE.role }
      const { info, created, sessionsEnded } = await users.create(req.body.name, req.body.password, role)
      return reply.code(created ? 201 : 200).send({ ...info, sessions_ended: sessionsEnded })
    })

    admin.delete<{ Params: Static<typeof NameParams> }>('/api/v1/users/:name', {
      schema: { summary: 'Remove a dashboard user; their sessions and every token they made are revoked', params: NameParams, response: { 200: Type.Object({ name: Type.String(), removed: Type.Boolean() }), '4xx': ErrorOut } },
    }, async (req, reply) => {
      if (!(await users.remove(req.params.name))) return reply.code(404).send({ error: 'no such user' })
      return { name: req.params.name, removed: true }
    })

    admin.delete<{ Params: Static<typeof NameParams> }>('/api/v1/users/:name/sessions', {
      schema: {
        summary: "End every session of a user (and revoke the tokens made through them); the user may sign in again",
        params: NameParams,
        response: { 200: Type.Object({ name: Type.String(), sessions_ended: Type.Integer() }), '4xx': ErrorOut },
      },
    }, async (req) => ({ name: req.params.name, sessions_ended: await app.tokens.revokeSessions(req.params.name) }))

    admin.get<{ Querystring: Static<typeof SessionsQuery> }>('/api/v1/sessions', {
      schema: {
        summary: 'Open sessions (never a secret), newest first; `user` narrows to one user\'s',
        tags: ['admin'],
        security: [{ bearer: [] }],
        querystring: SessionsQuery,
        response: { 200: Type.Object({ sessions: Type.Array(SessionInfoOut) }), '4xx': ErrorOut },
      },
    }, async (req) => ({
      sessions: (await app.tokens.listSessions(req.query.user)).map((s) => ({ ...s, current: s.id === req.access?.tokenId })),
    }))

    admin.delete<{ Params: Static<typeof IdParams> }>('/api/v1/sessions/:id', {
      schema: {
        summary: 'End one session, as signing out does: it and every token made through it stop working at once',
        tags: ['admin'],
        security: [{ bearer: [] }],
        params: IdParams,
        response: { 200: Type.Object({ id: Type.String(), ended: Type.Boolean() }), '4xx': ErrorOut },
      },
    }, async (req, reply) => {
      if (!(await app.tokens.endSession(req.params.id))) return reply.code(404).send({ error: 'no such session' })
      return { id: req.params.id, ended: true }
    })
  })
}
