import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { clientKey, RateLimiter, TokenBucket, tooManyRequests, type Limit, type Limiter } from '../http/rate-limit.ts'
import { bearer, tokenMatches } from './auth.ts'
import { ALL_SITES, atLeast, roleOn, sitesWith, type Membership, type Memberships, type Role } from './roles.ts'
import type { TokenKind, TokenStore } from './tokens.ts'

/** What a route needs: the admin token, or a per-site token with this scope. */
export type AccessScope = 'stats' | 'export' | 'admin'
/** Whose eyes the numbers are for: picks the policy's `min_visitors` (k) and noise. */
export type Audience = 'dashboard' | 'shared' | 'export'

/** Who is asking, once `requireAccess` let the request through. */
export interface Access {
  via: 'admin' | TokenKind
  /** The one site a token is for; null for the admin token and sessions (every site). */
  site: string | null
  tokenId: string | null
  /** A session's signed-in user; null for every other token. */
  user: string | null
  /** A session's user's roles; null for every other token (the admin token is owner of every site). */
  memberships: Membership[] | null
}

/** The role `access` holds on `site`: owner for the admin token, a session's user's role, else none. */
export function roleOf(access: Access, site: string): Role | null {
  if (access.via === 'admin') return 'owner'
  return access.memberships ? roleOn(access.memberships, site) : null
}

/** The sites on which `access` holds at least `needed`: `all` for the admin token and users with a role on every site. */
export function sitesOf(access: Access, needed: Role): 'all' | Set<string> {
  if (access.via === 'admin') return 'all'
  return access.memberships ? sitesWith(access.memberships, needed) : new Set()
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The token that passes every rule (ANALYTICS_ADMIN_TOKEN or the generated one). */
    adminToken: string
    /** Per-site API tokens and shared links (hashed in the store, cached ~10 s). */
    tokens: TokenStore
    /** Users' roles per site (cached ~10 s; a change made here applies at once). */
    memberships: Memberships
    /** Wrong shared-link passwords per client and link (`SHARE_PASSWORD_LIMIT`). */
    wrongSharePasswords: RateLimiter
    /** Wrong shared-link passwords per link, from every client together (`SHARE_LINK_PASSWORD_LIMIT`). */
    wrongLinkPasswords: RateLimiter
    /** Questions to the stats and export API per token (`STATS_RATE_LIMIT` a minute); null when off. */
    statsQuestions: Limiter | null
  }
  interface FastifyRequest {
    /** `dashboard` (admin and per-site tokens), `shared` (shared links) or `export` (export routes). */
    audience: Audience
    access: Access | null
    /** A session's rule waiting for the body to name the site (decided before validation). */
    pendingAccess: AccessRule | null
    /** Set once the body is parsed: a rule still without a site is decided, not put off. */
    bodyParsed: boolean
  }
}

/**
 * The site a request is about; may look it up (the site of a goal named by id). Undefined when
 * the request names none: only the admin token and users with a role on every site then pass.
 */
export type SiteFrom = (req: FastifyRequest) => string | undefined | Promise<string | undefined>

export interface AccessRule {
  scope: AccessScope
  /** The site the request is about (usually `req.query.site`); a per-site token must be for it. */
  siteFrom?: SiteFrom
  /**
   * The weakest role a signed-in user needs on that site (or on every site when the route names
   * none): `viewer` for `stats` and `export` by default, `owner` for `admin`; `signed-in` lets
   * any session through (signing out, who am I).
   */
  role?: Role | 'signed-in'
  /** The role reads (GET, HEAD) need, when weaker than `role` (listing a site's goals). */
  readRole?: Role
  /** A list: a read (GET) that names no site lets a user with `role` on any site through, and shows those sites only. */
  anySite?: boolean
}

/** Wrong passwords each client may send for one shared link in a window (each costs a ~50 ms scrypt). */
export const SHARE_PASSWORD_LIMIT: Limit = { max: 10, windowMs: 60_000 }
/** Wrong passwords all clients together may send for one shared link: many addresses do not multiply the guesses. */
export const SHARE_LINK_PASSWORD_LIMIT: Limit = { max: 30, windowMs: 10 * 60_000 }

/**
 * Questions a token may ask at once before the steady rate applies (STATS_RATE_LIMIT a minute,
 * in a token bucket): a dashboard's first view and a few clicks. A fixed window let a shared link
 * ask its minute's 300 heaviest questions in one go, and the collector's beacons waited behind
 * their answers (bench/load.ts, the stats flood).
 */
export const STATS_BURST = 30

export interface AccessOptions {
  adminToken: string
  tokens: TokenStore
  memberships: Memberships
  /** Questions each token may ask the stats and export API a minute (`STATS_RATE_LIMIT`); 0 turns the limit off. */
  statsRateLimit?: number
}

/** Registers `app.adminToken`, `app.tokens`, the limiters, `req.audience` and `req.access` on the root instance; call once before the routes. */
export function decorateAccess(app: FastifyInstance, { adminToken, tokens, memberships, statsRateLimit = 0 }: AccessOptions): void {
  app.decorate('adminToken', adminToken)
  app.decorate('tokens', tokens)
  app.decorate('memberships', memberships)
  app.decorate('wrongSharePasswords', new RateLimiter(SHARE_PASSWORD_LIMIT))
  app.decorate('wrongLinkPasswords', new RateLimiter(SHARE_LINK_PASSWORD_LIMIT))
  app.decorate('statsQuestions', statsRateLimit > 0 ? new TokenBucket({ max: statsRateLimit, windowMs: 60_000, burst: Math.min(STATS_BURST, statsRateLimit) }) : null)
  app.decorateRequest('audience', 'dashboard')
  app.decorateRequest('access', null)
  app.decorateRequest('pendingAccess', null)
  app.decorateRequest('bodyParsed', false)
  // the root's preValidation runs before every route's own, once the body is parsed and before it is validated
  // a callback, not an async function: every request runs it, every beacon too, and nearly all have nothing left to decide
  app.addHook('preValidation', (req, reply, done) => {
    req.bodyParsed = true
    const rule = req.pendingAccess
    if (!rule || !req.access?.memberships) return done()
    req.pendingAccess = null
    sessionMay(req, rule, req.access.memberships).then((may) => (may ? done() : deny(reply, 403, NO_ROLE)), done)
  })
}

export const SHARE_PASSWORD_HEADER = 'x-share-password'
const TOO_MANY_PASSWORDS = 'too many wrong passwords for this link from this client: try again in a minute'
const TOO_MANY_LINK_PASSWORDS = 'too many wrong passwords for this link: try again later'
const TOO_MANY_QUESTIONS = 'too many questions with this token: try again after the seconds in Retry-After'
const NO_ROLE = 'your role does not allow this here'

/**
 * How long a question past the limit waits before its 429 is sent, at most: a client that asks
 * again as soon as it is answered (a flood through a shared link) then asks at most once a
 * second on each connection. Answered at once, wrk's 32 connections on one link were sent 7,800
 * 429s a second, on the thread that answers beacons too (`npm run test:load`, the stats flood).
 */
export const QUESTION_HOLD_MS = 1_000

/** The 429 of a question past the limit, held back up to QUESTION_HOLD_MS; Retry-After counts from when it is sent. */
async function tooManyQuestions(reply: FastifyReply, waitS: number) {
  const holdMs = Math.min(waitS * 1000, QUESTION_HOLD_MS)
  await new Promise((resolve) => setTimeout(resolve, holdMs))
  return tooManyRequests(reply, Math.max(1, Math.ceil(waitS - holdMs / 1000)), TOO_MANY_QUESTIONS)
}

const isRead = (req: FastifyRequest) => req.method === 'GET' || req.method === 'HEAD'
const hasBody = (req: FastifyRequest) => req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
const neededRole = (rule: AccessRule, req: FastifyRequest): Role | 'signed-in' =>
  (rule.readRole && isRead(req) ? rule.readRole : rule.role) ?? (rule.scope === 'admin' ? 'owner' : 'viewer')

/**
 * Whether a session's user may: their role on every site, or on the site the request names, or,
 * for a list naming none, on any site. `'later'` when the site is in a body not parsed yet.
 */
async function sessionMay(req: FastifyRequest, rule: AccessRule, memberships: Membership[]): Promise<boolean | 'later'> {
  const needed = neededRole(rule, req)
  if (needed === 'signed-in' || atLeast(roleOn(memberships, ALL_SITES), needed)) return true
  // a body may name the site (or a second one): decided once it is parsed
  if (rule.siteFrom && !req.bodyParsed && hasBody(req)) return 'later'
  const site = (await rule.siteFrom?.(req))?.toLowerCase()
  if (site !== undefined) return atLeast(roleOn(memberships, site), needed)
  return Boolean(rule.anySite && isRead(req) && memberships.some((m) => atLeast(m.role, needed)))
}

function deny(reply: FastifyReply, status: 401 | 403, error: string) {
  if (status === 401) reply.header('www-authenticate', 'Bearer')
  return reply.code(status).send({ error })
}

/**
 * Counts one question to the stats or export API against the token asking: its id, so that
 * every viewer of a shared link and every tab of a session share one budget. The admin token
 * is the operator's own and not counted. Seconds to wait when over the limit, else 0.
 */
function questionWait(req: FastifyRequest, tokenId: string): number {
  return req.server.statsQuestions?.hit(tokenId) ?? 0
}

/**
 * The access rules, in one place, as a hook (onRequest, preValidation or preHandler):
 * - the admin token passes every rule (it acts as owner of every site);
 * - a signed-in user's session (`ses_`, until it expires or is ended: signing out, a new password,
 *   an admin, the user's removal) passes when the user's role on the site the request is about
 *   (or on every site) is at least the rule's `role`; a site named in the body is checked once
 *   it is parsed, before it is validated; another site, or too weak a role: 403;
 * - a per-site token (`pat_`) passes for its own site and the scopes it was given;
 * - a shared link (`shr_`) passes `stats` for its own site, as the `shared` audience, and
 *   only with its passphrase in `x-share-password` when it has one;
 * - no token, an unknown, revoked or expired one: 401; a valid token outside its site or
 *   scopes: 403;
 * - every token but the admin token asks the stats and export API at most `STATS_RATE_LIMIT`
 *   questions a minute, then gets 429 with `Retry-After`.
 * Use it as `onRequest` so that a caller without access learns nothing about the input.
 */
export function requireAccess(rule: AccessRule) {
  const audience: Audience = rule.scope === 'export' ? 'export' : 'dashboard'
  const counted = rule.scope !== 'admin'
  return async function access(req: FastifyRequest, reply: FastifyReply) {
    const { adminToken, tokens } = req.server
    const presented = bearer(req)
    if (!presented) return deny(reply, 401, 'missing bearer token')
    if (tokenMatches(presented, adminToken)) {
      req.access = { via: 'admin', site: null, tokenId: null, user: null, memberships: null }
      req.audience = audience
      return
    }
    const checked = await tokens.check(presented)
    if (!checked.ok) return deny(reply, 401, checked.reason)
    const token = checked.token
    if (token.kind === 'ses') {
      const memberships = await req.server.memberships.of(token.user!)
      const may = await sessionMay(req, rule, memberships)
      if (!may) return deny(reply, 403, NO_ROLE)
      const wait = counted ? questionWait(req, token.id) : 0
      if (wait) return tooManyQuestions(reply, wait)
      req.access = { via: 'ses', site: null, tokenId: token.id, user: token.user, memberships }
      req.audience = audience
      if (may === 'later') req.pendingAccess = rule
      return
    }
    if (rule.scope === 'admin') return deny(reply, 403, 'this route needs the admin token')
    if (token.kind === 'shr' && token.hasPassword) {
      const password = req.headers[SHARE_PASSWORD_HEADER]
      if (typeof password !== 'string' || password === '') return deny(reply, 401, 'password required')
      // Past a limit every password is refused, a right one too: no answer tells a guess apart.
      const { wrongSharePasswords: byClient, wrongLinkPasswords: byLink } = req.server
      const key = `${token.id}:${clientKey(req.ip)}`
      const waitClient = byClient.blocked(key)
      if (waitClient) return tooManyRequests(reply, waitClient, TOO_MANY_PASSWORDS)
      const waitLink = byLink.blocked(token.id)
      if (waitLink) return tooManyRequests(reply, waitLink, TOO_MANY_LINK_PASSWORDS)
      // Counted before the scrypt starts, so that guesses sent all at once are counted too.
      const ok = await tokens.verifySharedPassword(token.id, password, {
        begin: () => byClient.hit(key) === 0 && byLink.hit(token.id) === 0,
        right: () => (byClient.undo(key), byLink.undo(token.id)),
      })
      if (ok === 'refused') {
        const overClient = byClient.blocked(key)
        return overClient ? tooManyRequests(reply, overClient, TOO_MANY_PASSWORDS) : tooManyRequests(reply, byLink.blocked(token.id) || 1, TOO_MANY_LINK_PASSWORDS)
      }
      if (!ok) return deny(reply, 401, 'wrong password')
    }
    // Compared as the routes look sites up (lower case); anything else is another site.
    const site = (await rule.siteFrom?.(req))?.toLowerCase()
    if (site !== token.site) return deny(reply, 403, 'this token is not valid for this site')
    const granted = token.kind === 'shr' ? rule.scope === 'stats' : (token.scopes as string[]).includes(rule.scope)
    if (!granted) return deny(reply, 403, `this token does not grant ${rule.scope}`)
    const wait = questionWait(req, token.id)
    if (wait) return tooManyQuestions(reply, wait)
    req.access = { via: token.kind, site: token.site, tokenId: token.id, user: null, memberships: null }
    req.audience = token.kind === 'shr' ? 'shared' : audience
  }
}

const stringField = (o: unknown, key: string): string | undefined => {
  const v = (o as Record<string, unknown> | undefined)?.[key]
  return typeof v === 'string' ? v : undefined
}

/** `siteFrom` for routes that take `?site=`. */
export const siteFromQuery = (req: FastifyRequest): string | undefined => stringField(req.query, 'site')

/** Names no site: what a request naming two sites is about, so that no role and no token lets it through. */
const TWO_SITES = '\u0000two sites'

/**
 * `siteFrom` for routes that take the site in `?site=` or in the body's `site`. A request naming
 * one site in its query and another in its body is about neither (a route acts on one of them,
 * and access must be decided on that one).
 */
export const siteFromQueryOrBody = (req: FastifyRequest): string | undefined => {
  const [query, body] = [stringField(req.query, 'site'), stringField(req.body, 'site')]
  if (query !== undefined && body !== undefined && query.toLowerCase() !== body.toLowerCase()) return TWO_SITES
  return query ?? body
}

/** `siteFrom` for routes that name a site in the path (`/api/v1/sites/:domain`). */
export const siteFromPath = (req: FastifyRequest): string | undefined => stringField(req.params, 'domain')

/**
 * `siteFrom` for routes that take a site (`?site=`, the body's `site`) or name a record by id
 * (`/…/:id`): the site of that record, looked up with `lookup`.
 */
export const siteFromRequestOr = (lookup: (id: string) => Promise<string | undefined>): SiteFrom => (req) => {
  const id = stringField(req.params, 'id')
  return id !== undefined ? lookup(id) : siteFromQueryOrBody(req)
}
