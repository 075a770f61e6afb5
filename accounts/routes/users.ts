import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { clientKey, RateLimiter, tooManyRequests, type Limit } from '../../http/rate-limit.ts'
import { requireAccess } from '../access.ts'
import { Users, validateNewUser } from '../users.ts'

const ErrorOut = Type.Object({ error: Type.String() })
const Login = Type.Object({
  user: Type.String({ minLength: 1, maxLength: 200 }),
  password: Type.String({ minLength: 1, maxLength: 200 }),
}, { additionalProperties: false })
const SessionOut = Type.Object({
  token: Type.String({ description: 'a session token (ses_…): send it as `Authorization: Bearer`; it has admin rights for 12 hours' }),
  expires_at: Type.String(),
})
const UserOut = Type.Object({ name: Type.String(), created_at: Type.String() })
const NewUser = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 8, maxLength: 200 }),
}, { additionalProperties: false })
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) })

/** Sign-in attempts each client may make in a window. */
export const LOGIN_LIMIT: Limit = { max: 10, windowMs: 60_000 }
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

/** Dashboard users: sign-in and sign-out for everyone, the user list for the admin. */
export async function userRoutes(app: FastifyInstance, { client }: { client: ClickHouseClient }) {
  const users = new Users(client)

  app.post<{ Body: Static<typeof Login> }>('/api/v1/login', {
    onRequest: loginLimiter(),
    schema: {
      summary: 'Sign in with a user name and password: answers a session token (10 attempts a minute per client)',
      tags: ['admin'],
      security: [],
      body: Login,
      response: { 200: SessionOut, '4xx': ErrorOut },
    },
  }, async (req, reply) => {
    const started = Date.now()
    const { user, password } = req.body
    if (await users.verify(user, password)) {
      const session = await app.tokens.createSession(user)
      return { token: session.token, expires_at: session.expires_at }
    }
    const wait = FAILED_MIN_MS + crypto.randomInt(50) - (Date.now() - started)
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    return reply.code(401).send(WRONG)
  })

  app.post('/api/v1/logout', {
    onRequest: requireAccess({ scope: 'admin' }),
    schema: {
      summary: 'Sign out: the session token presented stops working at once (the admin token is not affected)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      response: { 200: Type.Object({ signed_out: Type.Boolean() }), '4xx': ErrorOut },
    },
  }, async (req) => {
    const access = req.access!
    if (access.via !== 'ses' || !access.tokenId) return { signed_out: false }
    await app.tokens.revoke(access.tokenId)
    return { signed_out: true }
  })

  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAccess({ scope: 'admin' }))

    admin.get('/api/v1/users', {
      schema: { summary: 'List dashboard users (never a password or its hash)', response: { 200: Type.Object({ users: Type.Array(UserOut) }), '4xx': ErrorOut } },
    }, async () => ({ users: await users.list() }))

    admin.post<{ Body: Static<typeof NewUser> }>('/api/v1/users', {
      schema: { summary: 'Add a dashboard user, or set a new password for one (only its scrypt hash is stored)', body: NewUser, response: { 200: UserOut, 201: UserOut, '4xx': ErrorOut } },
    }, async (req, reply) => {
      const error = validateNewUser(req.body.name, req.body.password)
      if (error) return reply.code(400).send({ error })
      const { info, created } = await users.create(req.body.name, req.body.password)
      return reply.code(created ? 201 : 200).send(info)
    })

    admin.delete<{ Params: Static<typeof NameParams> }>('/api/v1/users/:name', {
      schema: { summary: 'Remove a dashboard user and end their sessions', params: NameParams, response: { 200: Type.Object({ name: Type.String(), removed: Type.Boolean() }), '4xx': ErrorOut } },
    }, async (req, reply) => {
      if (!(await users.remove(req.params.name))) return reply.code(404).send({ error: 'no such user' })
      await app.tokens.revokeSessions(req.params.name)
      return { name: req.params.name, removed: true }
    })
  })
}
