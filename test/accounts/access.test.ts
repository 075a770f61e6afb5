import fs from 'node:fs'
import Fastify, { type FastifyInstance, type FastifySchema } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decorateAccess, requireAccess, siteFromQuery } from '../../accounts/access.ts'
import { auditStore } from '../../audit/audit.ts'
import type { TokenScope } from '../../accounts/tokens.ts'
import { buildApp } from '../../server/app.ts'
import { ADMIN_TOKEN, rows, testConfig } from '../helpers/app.ts'

type Rule = 'public' | 'admin' | 'stats' | 'export'

/**
 * Every route the app registers, and who may call it. A route missing here fails the test:
 * a new route gets an explicit rule before it ships. HEAD routes follow their GET route.
 */
const ACCESS: Record<string, Rule> = {
  'GET /healthz': 'public',
  'POST /api/event': 'public',
  'OPTIONS *': 'public',
  // the beacons' CORS preflight
  'OPTIONS /api/event': 'public',
  'OPTIONS /p.gif': 'public',
  'GET /p.gif': 'public',
  'GET /t.js': 'public',
  'GET /privacy': 'public',
  'GET /privacy.json': 'public',
  'GET /api/openapi.json': 'public',
  'GET /api/v1/stats/aggregate': 'stats',
  'GET /api/v1/stats/timeseries': 'stats',
  'GET /api/v1/stats/breakdown': 'stats',
  'GET /api/v1/stats/realtime': 'stats',
  'GET /api/v1/export': 'export',
  'GET /api/v1/stats/goals': 'stats',
  'GET /api/v1/stats/properties': 'stats',
  'GET /api/v1/shared-link': 'stats',
  'GET /*': 'public',
  'GET /api/v1/stats/page-flow': 'stats',
  'GET /api/v1/funnel': 'stats',
  'GET /api/v1/goals': 'admin',
  'POST /api/v1/goals': 'admin',
  'DELETE /api/v1/goals/:id': 'admin',
  // saved segments, funnels and annotations: read like statistics, changed by admins and users
  'GET /api/v1/segments': 'stats',
  'POST /api/v1/segments': 'admin',
  'PATCH /api/v1/segments/:id': 'admin',
  'DELETE /api/v1/segments/:id': 'admin',
  'GET /api/v1/funnels': 'stats',
  'POST /api/v1/funnels': 'admin',
  'DELETE /api/v1/funnels/:id': 'admin',
  'GET /api/v1/annotations': 'stats',
  'POST /api/v1/annotations': 'admin',
  'DELETE /api/v1/annotations/:id': 'admin',
  'GET /api/v1/sites': 'admin',
  'POST /api/v1/sites': 'admin',
  'GET /api/v1/sites/timezones': 'admin',
  'PATCH /api/v1/sites/:domain': 'admin',
  'DELETE /api/v1/sites/:domain': 'admin',
  'POST /api/v1/admin/events': 'admin',
  'POST /api/v1/admin/purge': 'admin',
  'GET /api/v1/admin/audit': 'admin',
  'POST /api/v1/tokens': 'admin',
  'GET /api/v1/tokens': 'admin',
  'DELETE /api/v1/tokens/:id': 'admin',
  // sign-in is open to everyone (rate-limited); signing out needs the session (or admin) token
  'POST /api/v1/login': 'public',
  'POST /api/v1/logout': 'admin',
  'GET /api/v1/users': 'admin',
  'POST /api/v1/users': 'admin',
  'DELETE /api/v1/users/:name': 'admin',
  'DELETE /api/v1/users/:name/sessions': 'admin',
  'GET /api/v1/sessions': 'admin',
  'DELETE /api/v1/sessions/:id': 'admin',
  // roles: who am I, a user's role on a site, invitations (accepting one is open to the link's holder)
  'GET /api/v1/me': 'admin',
  'PUT /api/v1/users/:name/roles': 'admin',
  'DELETE /api/v1/users/:name/roles': 'admin',
  'POST /api/v1/invitations': 'admin',
  'GET /api/v1/invitations': 'admin',
  'DELETE /api/v1/invitations/:id': 'admin',
  'POST /api/v1/invitations/accept': 'public',
  // statistics imported from another tool: read like statistics, imported and removed by admins
  'GET /api/v1/stats/imported': 'stats',
  'GET /api/v1/stats/imported/breakdown': 'stats',
  'POST /api/v1/imports': 'admin',
  'GET /api/v1/imports': 'admin',
  'DELETE /api/v1/imports/:id': 'admin',
  // Plausible's stats API; reports and alerts; verifying a site's installation
  'GET /api/v1/stats/realtime/visitors': 'stats',
  'POST /api/v2/query': 'stats',
  'GET /api/v1/reports': 'admin',
  'PUT /api/v1/reports': 'admin',
  'DELETE /api/v1/reports': 'admin',
  'POST /api/v1/reports/send': 'admin',
  'GET /api/v1/sites/:domain/installation': 'admin',
}

/** Inputs that make a call harmless when it is let through (a dry run, an empty batch, an unknown id). */
const SAMPLE: Record<string, { query?: string; body?: unknown }> = {
  'POST /api/v1/admin/purge': { query: 'dryRun=true' },
  'POST /api/v1/admin/events': { body: { events: [] } },
  'POST /api/v1/sites': { body: { domain: 'example.com' } },
  'POST /api/v1/tokens': { body: { site: 'example.com', scopes: ['stats'], name: 'made by the access walk' } },
  'GET /api/v1/stats/page-flow': { query: 'site=example.com&page=/' },
  'GET /api/v1/funnel': { query: 'site=example.com&steps=' + encodeURIComponent('[{"page":"/"},{"page":"/b"}]') },
  'POST /api/v1/goals': { body: { site: 'example.com', page: '/walk' } },
  'POST /api/v1/login': { body: {} },
  'POST /api/v1/users': { body: { name: 'access-walk', password: 'made by the access walk' } },
  'PUT /api/v1/users/:name/roles': { body: { site: 'example.com', role: 'viewer' } },
  'POST /api/v1/invitations': { body: { name: 'walk-invitee', site: 'example.com', role: 'viewer' } },
  'POST /api/v2/query': { body: { site_id: 'example.com', metrics: ['visitors'], date_range: 'day' } },
  'DELETE /api/v1/reports': { query: 'site=example.com&kind=monthly' },
  'POST /api/v1/reports/send': { body: { site: 'example.com', to: ['walk@example.com'] } },
}

const SITE = 'example.com'
const OTHER = 'other.example'
const PASSWORD = 'correct horse battery'
const TAGS = ['ingest', 'stats', 'admin', 'tokens', 'privacy']

interface SeenRoute {
  method: string
  url: string
  schema?: FastifySchema & { hide?: boolean }
}

const seen: SeenRoute[] = []
let app: FastifyInstance
/** Token strings by what they are for. */
const t: Record<string, string> = {}

async function token(site: string, scopes: TokenScope[], extra: { password?: string; expiresAt?: Date } = {}): Promise<{ token: string; id: string }> {
  const { token, info } = await app.tokens.create({ site, scopes, name: 'test', ...extra })
  return { token, id: info.id }
}

beforeAll(async () => {
  app = await buildApp(testConfig(), {
    logger: false,
    onRoute: (r) => {
      for (const method of [r.method].flat()) seen.push({ method, url: r.url, schema: r.schema as SeenRoute['schema'] })
    },
  })
  await app.ready()
  for (const s of [SITE, OTHER]) await app.runtime.sites.add(s)
  t.stats = (await token(SITE, ['stats'])).token
  t.export = (await token(SITE, ['export'])).token
  t.both = (await token(SITE, ['stats', 'export'])).token
  t.otherSite = (await token(OTHER, ['stats', 'export'])).token
  t.shared = (await token(SITE, ['shared'])).token
  t.sharedOther = (await token(OTHER, ['shared'])).token
  t.sharedLocked = (await token(SITE, ['shared'], { password: PASSWORD })).token
  t.expired = (await token(SITE, ['stats', 'export'], { expiresAt: new Date(Date.now() - 1000) })).token
  const revoked = await token(SITE, ['stats', 'export'])
  t.revoked = revoked.token
  await app.tokens.revoke(revoked.id)
  t.sessionExpired = (await app.tokens.createSession('access-walk', -1000)).token
  // the walk's user is an owner of every site, as users made before roles are (roles-access.test.ts walks the roles)
  await app.memberships.set('access-walk', '*', 'owner')
})
afterAll(async () => {
  await app?.close()
})

const ruleOf = (r: { method: string; url: string }): Rule | undefined => ACCESS[`${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`]

function call(r: SeenRoute, bearer?: string, headers: Record<string, string> = {}) {
  const key = `${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`
  const sample = SAMPLE[key] ?? {}
  const path = r.url === '*' ? '/api/event' : r.url.replace(/:[A-Za-z_]+/g, '000000000000')
  const query = sample.query ?? `site=${SITE}`
  const withBody = !['GET', 'HEAD', 'OPTIONS'].includes(r.method)
  return app.inject({
    method: r.method as 'GET',
    url: `${path}?${query}`,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers },
    ...(withBody ? { payload: sample.body ?? {} } : {}),
  })
}

describe('every route has an explicit access rule', () => {
  it('lists each registered route in the access table, and nothing else', () => {
    expect(seen.length).toBeGreaterThan(10)
    const missing = seen.filter((r) => !ruleOf(r)).map((r) => `${r.method} ${r.url}`)
    expect(missing, 'routes without an access rule: add them to ACCESS').toEqual([])
    const keys = new Set(seen.map((r) => `${r.method} ${r.url}`))
    expect(Object.keys(ACCESS).filter((k) => !keys.has(k)), 'rules for routes that do not exist').toEqual([])
  })
})

// the walks below send a few hundred requests: give them time on a busy, shared machine
const WALK = { timeout: 180_000 }

describe('protected routes', WALK, () => {
  const protectedRoutes = () => seen.filter((r) => ruleOf(r) !== 'public')

  it('answer 401 without a token, with a made-up one, a revoked one and an expired one', async () => {
    for (const r of protectedRoutes()) {
      const what = `${r.method} ${r.url}`
      expect((await call(r)).statusCode, `${what} without a token`).toBe(401)
      expect((await call(r, 'not-a-token')).statusCode, `${what} with garbage`).toBe(401)
      expect((await call(r, t.stats.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))).statusCode, `${what} with a wrong secret`).toBe(401)
      const revoked = await call(r, t.revoked)
      expect(revoked.statusCode, `${what} revoked`).toBe(401)
      if (r.method !== 'HEAD') expect(revoked.json()).toEqual({ error: 'token revoked' })
      expect((await call(r, t.expired)).statusCode, `${what} expired`).toBe(401)
      expect((await call(r, t.sessionExpired)).statusCode, `${what} expired session`).toBe(401)
    }
  })

  it('answer 403 to a per-site token for another site and to one without the scope', async () => {
    for (const r of protectedRoutes()) {
      const what = `${r.method} ${r.url}`
      const rule = ruleOf(r)!
      expect((await call(r, t.otherSite)).statusCode, `${what} with a token for ${OTHER}`).toBe(403)
      const lacking = rule === 'stats' ? [t.export] : rule === 'export' ? [t.stats, t.shared] : [t.both, t.shared]
      for (const tok of lacking) expect((await call(r, tok)).statusCode, `${what} with a token lacking ${rule}`).toBe(403)
      if (rule !== 'admin') expect((await call(r, t.sharedOther)).statusCode, `${what} with a shared link for ${OTHER}`).toBe(403)
    }
  })

  it('let the right token through', async () => {
    for (const r of protectedRoutes()) {
      const what = `${r.method} ${r.url}`
      const rule = ruleOf(r)!
      // an owner's session passes as the admin token does (a fresh one: logout ends it)
      const session = (await app.tokens.createSession('access-walk')).token
      const right = rule === 'stats' ? [ADMIN_TOKEN, t.stats, t.both, t.shared, session] : rule === 'export' ? [ADMIN_TOKEN, t.export, t.both, session] : [ADMIN_TOKEN, session]
      for (const tok of right) expect([401, 403], `${what} with ${tok.slice(0, 4)}`).not.toContain((await call(r, tok)).statusCode)
    }
  })

  it('ask a password-protected shared link for its password', async () => {
    const stats = seen.filter((r) => ruleOf(r) === 'stats' && r.method === 'GET')
    expect(stats.length).toBeGreaterThan(0)
    for (const [i, r] of stats.entries()) {
      const none = await call(r, t.sharedLocked)
      expect(none.statusCode).toBe(401)
      expect(none.json()).toEqual({ error: 'password required' })
      // each from its own client: wrong passwords are limited per client and link (test/abuse.test.ts)
      const wrong = await call(r, t.sharedLocked, { 'x-share-password': 'incorrect horse', 'x-forwarded-for': `203.0.113.${i + 1}` })
      expect(wrong.statusCode).toBe(401)
      expect(wrong.json()).toEqual({ error: 'wrong password' })
      const right = await call(r, t.sharedLocked, { 'x-share-password': PASSWORD })
      expect([401, 403]).not.toContain(right.statusCode)
    }
  })
})

describe('public routes', () => {
  it('need no token', async () => {
    for (const r of seen.filter((r) => ruleOf(r) === 'public')) {
      const res = await call(r, undefined, r.method === 'OPTIONS' ? { origin: 'https://example.com', 'access-control-request-method': 'POST' } : {})
      expect([401, 403], `${r.method} ${r.url}`).not.toContain(res.statusCode)
    }
  })
})

/** A page of another site asking. */
const ORIGIN = 'https://www.example.com'
/**
 * Routes another origin may read. The beacons (and their preflight) are made for it; the tracker
 * and the policy as JSON are public documents (no token, no cookie, nothing per visitor) that a
 * site may load from its own pages. Nothing else answers with CORS headers.
 */
const CORS_OPEN = new Set(['POST /api/event', 'OPTIONS /api/event', 'GET /p.gif', 'OPTIONS /p.gif', 'GET /t.js', 'GET /privacy.json'])
const corsOpen = (r: { method: string; url: string }) => CORS_OPEN.has(`${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`)

/** A path that reaches the route `r` (parameters and the catch-all filled in). */
const pathOf = (r: { url: string }) => (r.url === '*' ? '/api/v1/stats/aggregate' : r.url.replace(/:[A-Za-z_]+/g, '000000000000').replace(/\*$/, 'sites/example.com'))

describe('CORS', WALK, () => {
  it('is open on the beacon routes and their preflight', async () => {
    for (const [url, method] of [['/api/event', 'POST'], ['/p.gif', 'GET']]) {
      const pre = await app.inject({ method: 'OPTIONS', url, headers: { origin: ORIGIN, 'access-control-request-method': method, 'access-control-request-headers': 'content-type' } })
      expect(pre.statusCode, url).toBe(204)
      expect(pre.headers['access-control-allow-origin'], url).toBe('*')
      expect(String(pre.headers['access-control-allow-methods'])).toContain(method)
      expect(pre.headers['access-control-max-age']).toBe('86400')
    }
    const event = await app.inject({ method: 'POST', url: '/api/event', headers: { origin: ORIGIN, 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.200' }, payload: { n: 'pageview', u: 'https://example.com/cors', d: SITE } })
    expect(event.statusCode).toBe(202)
    expect(event.headers['access-control-allow-origin']).toBe('*')
    const gif = await app.inject({ url: '/p.gif?d=example.com&u=/cors', headers: { origin: ORIGIN, 'x-forwarded-for': '192.0.2.200' } })
    expect(gif.statusCode).toBe(200)
    expect(gif.headers['access-control-allow-origin']).toBe('*')
  })

  it('answers no other route, nor a preflight for it, with CORS headers', async () => {
    const others = seen.filter((r) => !corsOpen(r))
    expect(others.length).toBeGreaterThan(20)
    for (const r of others) {
      const what = `${r.method} ${r.url}`
      if (r.method !== 'OPTIONS') {
        for (const bearer of [undefined, ADMIN_TOKEN]) {
          const res = await call(r, bearer, { origin: ORIGIN })
          expect(res.headers['access-control-allow-origin'], `${what} ${bearer ? 'with' : 'without'} a token`).toBeUndefined()
        }
      }
      const pre = await app.inject({
        method: 'OPTIONS',
        url: pathOf(r),
        headers: { origin: ORIGIN, 'access-control-request-method': r.method === 'OPTIONS' ? 'GET' : r.method, 'access-control-request-headers': 'authorization' },
      })
      expect(pre.headers['access-control-allow-origin'], `preflight for ${what}`).toBeUndefined()
      expect(pre.headers['access-control-allow-methods'], `preflight for ${what}`).toBeUndefined()
      expect(pre.statusCode, `preflight for ${what}`).toBe(404)
    }
  })
})

describe('security headers', WALK, () => {
  const cspOf = (res: { headers: Record<string, unknown> }) => String(res.headers['content-security-policy'] ?? '')

  it('dashboard pages: a CSP without inline script that forbids framing, nosniff, no referrer', async () => {
    for (const url of ['/', `/sites/${SITE}`, `/sites/${SITE}?embed=1`, '/share', '/share?range=7d', '/share?embed=0', '/share/realtime']) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-type'], url).toMatch(/text\/html/)
      const csp = cspOf(res)
      expect(csp, url).toContain("frame-ancestors 'none'")
      expect(csp, url).toContain("script-src 'self'")
      expect(csp, url).not.toContain('unsafe-inline')
      expect(csp, url).toContain("object-src 'none'")
      expect(res.headers['x-content-type-options'], url).toBe('nosniff')
      expect(res.headers['referrer-policy'], url).toBe('no-referrer')
    }
  })

  it('a shared link in embed mode may be framed by another site, with the same CSP otherwise', async () => {
    for (const url of ['/share?embed=1', '/share?range=7d&embed=1', '/share/realtime?embed=1']) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(200)
      const csp = cspOf(res)
      expect(csp, url).toContain('frame-ancestors *')
      expect(csp, url).toContain("script-src 'self'")
      expect(res.headers['x-content-type-options'], url).toBe('nosniff')
      expect(res.headers['referrer-policy'], url).toBe('no-referrer')
    }
  })

  it('an old shared link, its token in the path, is sent to the token-in-fragment form, cached nowhere', async () => {
    const cases: [string, string][] = [
      ['/share/shr_0123456789ab_secret-part_x', '/share#shr_0123456789ab_secret-part_x'],
      ['/share/shr_0123456789ab_secret/?range=7d&filters=country==DE', '/share?range=7d&filters=country==DE#shr_0123456789ab_secret'],
      ['/share/shr_0123456789ab_secret/realtime?embed=1', '/share/realtime?embed=1#shr_0123456789ab_secret'],
    ]
    for (const [url, location] of cases) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(302)
      expect(res.headers.location, url).toBe(location)
      expect(res.headers['cache-control'], url).toBe('no-store')
      expect(res.headers['referrer-policy'], url).toBe('no-referrer')
    }
  })

  it('the privacy page and the tracker are nosniff; the privacy page frames nothing and runs nothing', async () => {
    const page = await app.inject({ url: '/privacy' })
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    expect(page.headers['referrer-policy']).toBe('no-referrer')
    expect(cspOf(page)).toContain("default-src 'none'")
    expect((await app.inject({ url: '/privacy.json' })).headers['x-content-type-options']).toBe('nosniff')
  })

  // Fails unless server/app.ts adds `app.addHook('onSend', noSniff)` (http/security-headers.ts)
  // on the root instance: then make this an `it`.
  it('every JSON answer of every route, errors and 404 included, is nosniff', async () => {
    const routes = seen.filter((r) => r.method !== 'OPTIONS')
    for (const r of routes) {
      for (const bearer of [undefined, ADMIN_TOKEN]) {
        const res = await call(r, bearer)
        if (/json/.test(String(res.headers['content-type']))) expect(res.headers['x-content-type-options'], `${r.method} ${r.url}`).toBe('nosniff')
      }
    }
    for (const url of ['/api/v1/nothing-here', '/healthz', '/t.js', '/p.gif?d=example.com&u=/']) {
      expect((await app.inject({ url })).headers['x-content-type-options'], url).toBe('nosniff')
    }
  })
})

describe('requireAccess on its own (stats and export rules, audiences)', () => {
  let probe: FastifyInstance
  beforeAll(async () => {
    probe = Fastify()
    decorateAccess(probe, { adminToken: ADMIN_TOKEN, tokens: app.tokens, memberships: app.memberships })
    for (const scope of ['stats', 'export'] as const) {
      probe.get(`/${scope}`, { onRequest: requireAccess({ scope, siteFrom: siteFromQuery }) }, async (req) => ({ audience: req.audience, access: req.access }))
    }
    await probe.ready()
  })
  afterAll(async () => {
    await probe?.close()
  })

  const get = (path: string, bearer?: string, headers: Record<string, string> = {}) =>
    probe.inject({ url: path, headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers } })

  it('tells the route who is asking and for which audience', async () => {
    expect((await get(`/stats?site=${SITE}`, ADMIN_TOKEN)).json()).toEqual({ audience: 'dashboard', access: { via: 'admin', site: null, tokenId: null, user: null, memberships: null } })
    const session = await app.tokens.createSession('access-walk')
    expect((await get(`/stats?site=${SITE}`, session.token)).json()).toEqual({ audience: 'dashboard', access: { via: 'ses', site: null, tokenId: session.id, user: 'access-walk', memberships: [{ site: '*', role: 'owner' }] } })
    expect((await get(`/export?site=${SITE}`, ADMIN_TOKEN)).json().audience).toBe('export')
    expect((await get(`/stats?site=${SITE}`, t.stats)).json()).toMatchObject({ audience: 'dashboard', access: { via: 'pat', site: SITE } })
    expect((await get(`/export?site=${SITE}`, t.both)).json()).toMatchObject({ audience: 'export', access: { via: 'pat', site: SITE } })
    expect((await get(`/stats?site=${SITE}`, t.shared)).json()).toMatchObject({ audience: 'shared', access: { via: 'shr', site: SITE } })
    expect((await get(`/stats?site=${SITE}`, t.sharedLocked, { 'x-share-password': PASSWORD })).json().audience).toBe('shared')
    // the site is compared as the routes look it up: in lower case
    expect((await get(`/stats?site=EXAMPLE.com`, t.stats)).statusCode).toBe(200)
  })

  it('refuses per-site tokens outside their site, scopes and lifetime', async () => {
    const cases: [string, string | undefined, number, string?][] = [
      [`/stats?site=${SITE}`, undefined, 401, 'missing bearer token'],
      [`/stats?site=${SITE}`, 'Bearer', 401],
      [`/stats?site=${SITE}`, t.revoked, 401, 'token revoked'],
      [`/stats?site=${SITE}`, t.expired, 401, 'token expired'],
      [`/stats?site=${SITE}`, t.stats.replace(/^pat_/, 'shr_'), 401, 'invalid token'],
      [`/stats?site=${SITE}`, t.export, 403, 'this token does not grant stats'],
      [`/export?site=${SITE}`, t.stats, 403, 'this token does not grant export'],
      [`/export?site=${SITE}`, t.shared, 403, 'this token does not grant export'],
      [`/stats?site=${OTHER}`, t.stats, 403, 'this token is not valid for this site'],
      [`/stats?site=www.${SITE}`, t.stats, 403],
      ['/stats', t.stats, 403],
      [`/stats?site=${OTHER}`, t.shared, 403],
      [`/stats?site=${SITE}`, t.sharedLocked, 401, 'password required'],
    ]
    for (const [path, bearer, status, error] of cases) {
      const res = await get(path, bearer)
      expect(res.statusCode, `${path} with ${bearer?.slice(0, 12)}`).toBe(status)
      if (error) expect(res.json()).toEqual({ error })
    }
    expect((await get(`/stats?site=${SITE}`, t.sharedLocked, { 'x-share-password': 'nope' })).json()).toEqual({ error: 'wrong password' })
  })
})

describe('token admin API', () => {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

  it('stores only hashes: no secret and no password in any column, and the audit stays clean', async () => {
    const made = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: { site: SITE, scopes: ['stats', 'export'], name: 'ci' } })
    expect(made.statusCode).toBe(201)
    const { token, id } = made.json() as { token: string; id: string }
    expect(token).toMatch(new RegExp(`^pat_${id}_`))
    const secret = token.slice(`pat_${id}_`.length)
    const link = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: { site: SITE, scopes: ['shared'], password: PASSWORD } })
    expect(link.statusCode).toBe(201)
    // the token rides in the fragment, which no request carries: no proxy or server log sees it
    expect(link.json()).toMatchObject({ kind: 'shr', has_password: true, share_path: `/share#${link.json().token}` })
    const linkSecret = (link.json().token as string).split('_').slice(2).join('_')

    const stored = await rows(app, 'SELECT * FROM tokens')
    expect(stored.length).toBeGreaterThan(2)
    const everything = JSON.stringify(stored)
    for (const s of [secret, linkSecret, PASSWORD, token]) expect(everything).not.toContain(s)
    expect(stored.find((r) => r.id === id)?.secret_hash).toBeTruthy()

    const listed = await app.inject({ url: `/api/v1/tokens?site=${SITE}`, headers: admin })
    expect(listed.statusCode).toBe(200)
    const body = listed.body
    expect(body).toContain(id)
    for (const s of [secret, linkSecret, 'secret_hash', 'passphrase_hash', 'scrypt$', PASSWORD]) expect(body).not.toContain(s)

    const report = await auditStore(app.runtime.store.client, app.runtime.policy)
    expect(report.findings.filter((f) => f.where.startsWith('tokens'))).toEqual([])
  })

  it('revokes with DELETE: the token stops working at once', async () => {
    const made = (await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: { site: SITE, scopes: ['stats'] } })).json() as { token: string; id: string }
    const stats = seen.find((r) => ruleOf(r) === 'stats' && r.method === 'GET')!
    expect([401, 403]).not.toContain((await call(stats, made.token)).statusCode)
    const del = await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${made.id}`, headers: admin })
    expect(del.statusCode).toBe(200)
    expect(del.json()).toEqual({ id: made.id, revoked: true })
    expect((await call(stats, made.token)).statusCode).toBe(401)
    const listed = (await app.inject({ url: '/api/v1/tokens', headers: admin })).json() as { tokens: { id: string }[] }
    expect(listed.tokens.map((x) => x.id)).not.toContain(made.id)
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/tokens/abcdefabcdef', headers: admin })).statusCode).toBe(404)
  })

  it('refuses tokens it cannot honour', async () => {
    const bad: [unknown, RegExp][] = [
      [{ site: 'unknown.example', scopes: ['stats'] }, /unknown site/],
      [{ site: SITE, scopes: ['admin'] }, /scopes/],
      [{ site: SITE, scopes: [] }, /scopes/],
      [{ site: SITE, scopes: ['shared', 'stats'] }, /shared/],
      [{ site: SITE, scopes: ['stats'], password: PASSWORD }, /shared links only/],
      [{ site: SITE, scopes: ['shared'], password: 'short' }, /password/],
      [{ site: SITE, scopes: ['stats'], expires_at: '2001-01-01' }, /future/],
      [{ site: SITE, scopes: ['stats'], expires_at: 'soon' }, /ISO date/],
    ]
    for (const [payload, error] of bad) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: payload as object })
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().error).toMatch(error)
    }
  })
})

describe('GET /api/openapi.json', () => {
  it('documents every route with a schema, tagged, with the access the table gives it', async () => {
    const res = await app.inject({ url: '/api/openapi.json' })
    expect(res.statusCode).toBe(200)
    const doc = res.json() as {
      openapi: string
      info: { title: string; version: string; description: string }
      components: { securitySchemes: Record<string, { type: string; scheme?: string }> }
      paths: Record<string, Record<string, { tags?: string[]; security?: Record<string, string[]>[] }>>
    }
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(doc.openapi).toMatch(/^3\./)
    expect(doc.info).toMatchObject({ version: pkg.version })
    expect(doc.info.title).toBeTruthy()
    expect(doc.info.description).toBeTruthy()
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' })

    const documented = seen.filter((r) => r.method !== 'HEAD' && r.schema && !r.schema.hide)
    expect(documented.length).toBeGreaterThan(8)
    for (const r of documented) {
      const op = doc.paths[r.url.replace(/:([A-Za-z_]+)/g, '{$1}')]?.[r.method.toLowerCase()]
      expect(op, `${r.method} ${r.url} is documented`).toBeTruthy()
      expect(op.tags?.length, `${r.method} ${r.url} has a tag`).toBe(1)
      expect(TAGS).toContain(op.tags![0])
      const rule = ruleOf(r)
      if (rule === 'public') expect(op.security, `${r.method} ${r.url} is public`).toEqual([])
      else expect(op.security?.some((s) => 'bearer' in s), `${r.method} ${r.url} needs a bearer token`).toBe(true)
    }
  })
})
