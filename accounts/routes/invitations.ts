import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { escapeHtml } from '../../policy/privacy-page.ts'
import { requireAccess, siteFromQueryOrBody, siteFromRequestOr, sitesOf } from '../access.ts'
import { acceptPath, INVITATION_TTL_MS, Invitations } from '../invitations.ts'
import { ALL_SITES } from '../roles.ts'
import type { Sites } from '../sites.ts'
import { USER_NAME, validateNewUser, type Users } from '../users.ts'
import { mayManage, RoleIn, siteOrAll, SiteOrAll, UNKNOWN_SITE } from './role-inputs.ts'

const ErrorOut = Type.Object({ error: Type.String() })
const NewInvitation = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64, description: 'the user name the invitee will sign in with' }),
  site: SiteOrAll,
  role: RoleIn,
  email: Type.Optional(Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$', description: 'where to send the link (when an SMTP server is configured); kept nowhere' })),
}, { additionalProperties: false })
const InvitationOut = Type.Object({
  id: Type.String(),
  name: Type.String(),
  site: Type.String(),
  role: RoleIn,
  invited_by: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  expires_at: Type.String(),
})
const CreatedOut = Type.Object({
  ...InvitationOut.properties,
  token: Type.String({ description: 'shown once; only its hash is stored' }),
  accept_path: Type.String({ description: 'the dashboards page that accepts it, the token in its fragment (never sent to a server)' }),
  emailed: Type.Boolean({ description: 'the link was sent to `email`' }),
})
const Accept = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 200 }),
  password: Type.String({ minLength: 8, maxLength: 200 }),
}, { additionalProperties: false })
const AcceptedOut = Type.Object({ user: Type.String(), token: Type.String({ description: 'a session token (ses_…), as signing in answers' }), expires_at: Type.String() })
const ListQuery = Type.Object({ site: Type.Optional(SiteOrAll) }, { additionalProperties: false })
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) })
const DOC = { tags: ['admin'], security: [{ bearer: [] }] as Record<string, string[]>[] }

type Limit = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>

/** The e-mail that carries an invitation link. */
function invitationMail(link: string, site: string, role: string) {
  const where = site === ALL_SITES ? 'every site' : site
  const text = `You are invited to the analytics dashboards of ${where} as ${role}.\n\nOpen this link to set your password (it works once, for ${INVITATION_TTL_MS / 86_400_000} days):\n${link}\n`
  const html = `<p>You are invited to the analytics dashboards of <b>${escapeHtml(where)}</b> as ${escapeHtml(role)}.</p>
<p><a href="${escapeHtml(link)}">Set your password</a> (the link works once, for ${INVITATION_TTL_MS / 86_400_000} days).</p>`
  return { subject: `Invitation to the analytics of ${where}`, text, html }
}

/**
 * Invitations: a site's admins invite a person by name with a role (viewer or admin; owners also
 * owner) on their site or, with a role on every site, on every site; the invitee opens the link
 * in the dashboards and sets their own password. Accepting is open to everyone with the link
 * (rate-limited as signing in is).
 */
export async function invitationRoutes(app: FastifyInstance, { client, sites, users, limit }: { client: ClickHouseClient; sites: Sites; users: Users; limit: Limit }) {
  const invitations = new Invitations(client)

  app.post<{ Body: Static<typeof NewInvitation> }>('/api/v1/invitations', {
    onRequest: requireAccess({ scope: 'admin', role: 'admin', siteFrom: siteFromQueryOrBody }),
    schema: { ...DOC, summary: 'Invite a person by name with a role on a site (or * for every site): answers the link once, and e-mails it to `email` when SMTP is configured', body: NewInvitation, response: { 201: CreatedOut, '4xx': ErrorOut } },
  }, async (req, reply) => {
    const { name, role, email } = req.body
    const site = siteOrAll(sites, req.body.site)
    if (!site) return reply.code(400).send({ error: UNKNOWN_SITE })
    if (!USER_NAME.test(name)) return reply.code(400).send({ error: validateNewUser(name, '') })
    if (!mayManage(req.access!, site, role)) return reply.code(403).send({ error: 'only an owner invites an owner' })
    // an invitation never sets the password of someone who exists: give them a role instead
    if (await users.exists(name)) return reply.code(409).send({ error: `a user named ${name} exists: give them a role with PUT /api/v1/users/${name}/roles` })
    const { token, info } = await invitations.create({ name, site, role, invitedBy: req.access!.user })
    const path = acceptPath(token)
    const mailer = app.runtime.mailer
    if (email && mailer) await mailer.send([email], invitationMail(`${req.protocol}://${req.host}${path}`, site, role))
    return reply.code(201).send({ ...info, token, accept_path: path, emailed: Boolean(email && mailer) })
  })

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/v1/invitations', {
    onRequest: requireAccess({ scope: 'admin', role: 'admin', anySite: true, siteFrom: siteFromQueryOrBody }),
    schema: { ...DOC, summary: 'Invitations not used, withdrawn nor expired, of the sites the caller administers (never a secret)', querystring: ListQuery, response: { 200: Type.Object({ invitations: Type.Array(InvitationOut) }), '4xx': ErrorOut } },
  }, async (req) => {
    const mine = sitesOf(req.access!, 'admin')
    const wanted = req.query.site?.toLowerCase()
    return { invitations: (await invitations.list()).filter((i) => (mine === 'all' || mine.has(i.site)) && (wanted === undefined || i.site === wanted)) }
  })

  app.delete<{ Params: Static<typeof IdParams> }>('/api/v1/invitations/:id', {
    onRequest: requireAccess({ scope: 'admin', role: 'admin', siteFrom: siteFromRequestOr((id) => invitations.siteOf(id)) }),
    schema: { ...DOC, summary: 'Withdraw an invitation: its link stops working', params: IdParams, response: { 200: Type.Object({ id: Type.String(), withdrawn: Type.Boolean() }), '4xx': ErrorOut } },
  }, async (req, reply) => {
    if (!(await invitations.revoke(req.params.id))) return reply.code(404).send({ error: 'no such invitation' })
    return { id: req.params.id, withdrawn: true }
  })

  app.post<{ Body: Static<typeof Accept> }>('/api/v1/invitations/accept', {
    onRequest: limit,
    schema: {
      tags: ['admin'],
      security: [],
      summary: 'Accept an invitation: sets the invitee\'s password, gives them the role, and signs them in (10 attempts a minute per client)',
      body: Accept,
      response: { 200: AcceptedOut, '4xx': ErrorOut },
    },
  }, async (req, reply) => {
    const error = validateNewUser('invitee', req.body.password)
    if (error) return reply.code(400).send({ error })
    const accepted = await invitations.accept(req.body.token, async ({ name, site, role }) => {
      if (await users.exists(name)) return null
      await users.create(name, req.body.password, { site, role })
      return name
    })
    if (!accepted.ok) return reply.code(400).send({ error: accepted.error })
    if (accepted.value === null) return reply.code(409).send({ error: 'a user of this name exists already: sign in instead' })
    const session = await app.tokens.createSession(accepted.value)
    return { user: accepted.value, token: session.token, expires_at: session.expires_at }
  })
}
