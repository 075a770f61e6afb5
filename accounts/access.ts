import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { clientKey, RateLimiter, tooManyRequests, type Limit } from '../http/rate-limit.ts'
import { bearer, tokenMatches } from './auth.ts'
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
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The token that passes every rule (ANALYTICS_ADMIN_TOKEN or the generated one). */
    adminToken: string
    /** Per-site API tokens and shared links (hashed in the store, cached ~10 s). */
    tokens: TokenStore
    /** Wrong shared-link passwords per client and link (`SHARE_PASSWORD_LIMIT`). */
    wrongSharePasswords: RateLimiter
    /** Wrong shared-link passwords per link, from every client together (`SHARE_LINK_PASSWORD_LIMIT`). */
    wrongLinkPasswords: RateLimiter
    /** Questions to the stats and export API per token (`STATS_RATE_LIMIT` a minute); null when off. */
    statsQuestions: RateLimiter | null
  }
  interface FastifyRequest {
    /** `dashboard` (admin and per-site tokens), `shared` (shared links) or `export` (export routes). */
    audience: Audience
    access: Access | null
  }
}

export interface AccessRule {
  scope: AccessScope
  /** The site the request is about (usually `req.query.site`); a per-site token must be for it. */
  siteFrom?: (req: FastifyRequest) => string | undefined
}

/** Wrong passwords each client may send for one shared link in a window (each costs a ~50 ms scrypt). */
export const SHARE_PASSWORD_LIMIT: Limit = { max: 10, windowMs: 60_000 }
/** Wrong passwords all clients together may send for one shared link: many addresses do not multiply the guesses. */
export const SHARE_LINK_PASSWORD_LIMIT: Limit = { max: 30, windowMs: 10 * 60_000 }

export interface AccessOptions {
  adminToken: string
  tokens: TokenStore
  /** Questions each token may ask the stats and export API a minute (`STATS_RATE_LIMIT`); 0 turns the limit off. */
  statsRateLimit?: number
}

/** Registers `app.adminToken`, `app.tokens`, the limiters, `req.audience` and `req.access` on the root instance; call once before the routes. */
export function decorateAccess(app: FastifyInstance, { adminToken, tokens, statsRateLimit = 0 }: AccessOptions): void {
  app.decorate('adminToken', adminToken)
  app.decorate('tokens', tokens)
  app.decorate('wrongSharePasswords', new RateLimiter(SHARE_PASSWORD_LIMIT))
  app.decorate('wrongLinkPasswords', new RateLimiter(SHARE_LINK_PASSWORD_LIMIT))
  app.decorate('statsQuestions', statsRateLimit > 0 ? new RateLimiter({ max: statsRateLimit, windowMs: 60_000 }) : null)
  app.decorateRequest('audience', 'dashboard')
  app.decorateRequest('access', null)
}

export const SHARE_PASSWORD_HEADER = 'x-share-password'
const TOO_MANY_PASSWORDS = 'too many wrong passwords for this link from this client: try again in a minute'
const TOO_MANY_LINK_PASSWORDS = 'too many wrong passwords for this link: try again later'
const TOO_MANY_QUESTIONS = 'too many questions with this token: try again in a minute'

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
 * - the admin token passes every rule, and so does a signed-in user's session (`ses_`) until it
 *   expires or is ended (signing out, a new password, an admin, the user's removal);
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
      req.access = { via: 'admin', site: null, tokenId: null, user: null }
      req.audience = audience
      return
    }
    const checked = await tokens.check(presented)
    if (!checked.ok) return deny(reply, 401, checked.reason)
    const token = checked.token
    if (token.kind === 'ses') {
      const wait = counted ? questionWait(req, token.id) : 0
      if (wait) return tooManyRequests(reply, wait, TOO_MANY_QUESTIONS)
      req.access = { via: 'ses', site: null, tokenId: token.id, user: token.user }
      req.audience = audience
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
    const site = rule.siteFrom?.(req)?.toLowerCase()
    if (site !== token.site) return deny(reply, 403, 'this token is not valid for this site')
    const granted = token.kind === 'shr' ? rule.scope === 'stats' : (token.scopes as string[]).includes(rule.scope)
    if (!granted) return deny(reply, 403, `this token does not grant ${rule.scope}`)
    const wait = questionWait(req, token.id)
    if (wait) return tooManyRequests(reply, wait, TOO_MANY_QUESTIONS)
    req.access = { via: token.kind, site: token.site, tokenId: token.id, user: null }
    req.audience = token.kind === 'shr' ? 'shared' : audience
  }
}

/** `siteFrom` for routes that take `?site=`. */
export const siteFromQuery = (req: FastifyRequest): string | undefined => {
  const site = (req.query as { site?: unknown } | undefined)?.site
  return typeof site === 'string' ? site : undefined
}
