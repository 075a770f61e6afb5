import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Role } from '../../accounts/roles.ts'
import { buildApp } from '../../server/app.ts'
import { ADMIN_TOKEN, testConfig } from '../helpers/app.ts'

/**
 * What each route needs of a signed-in user: `public` (nothing), `signed-in` (any role anywhere:
 * lists show their sites only), `viewer` / `admin` (that role on the site the request is about,
 * or on every site), `owner` (owner of every site: the installation, users' passwords, sessions).
 */
type Need = 'public' | 'signed-in' | 'viewer' | 'admin' | 'owner'
/** Where a request names its site: `?site=`, the body, the path (`:domain`), or a record's id (`:id`). */
type Where = 'query' | 'body' | 'path' | 'id' | 'none'

interface Entry {
  need: Need
  where: Where
  /** The body, for a site (`where: 'body'`, or a harmless input otherwise). */
  body?: (site: string) => unknown
  /** A fresh record of the site, for `where: 'id'` (a DELETE that passes removes it). */
  make?: (site: string) => Promise<string>
  /** More of the query string. */
  query?: string
}

const A = 'example.com'
const B = 'other.example'

let app: FastifyInstance
const seen: { method: string; url: string }[] = []
let n = 0
const unique = () => `${Date.now().toString(36)}${++n}`

async function made(url: string, payload: object): Promise<string> {
  const res = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload })
  expect(res.statusCode, `${url} ${res.body}`).toBeLessThan(300)
  return (res.json() as { id: string }).id
}

/** Every route the app registers × what it needs of a user. A route missing here fails the test. */
const TABLE: Record<string, Entry> = {
  'GET /healthz': { need: 'public', where: 'none' },
  'POST /api/event': { need: 'public', where: 'none' },
  'OPTIONS *': { need: 'public', where: 'none' },
  'OPTIONS /api/event': { need: 'public', where: 'none' },
  'OPTIONS /p.gif': { need: 'public', where: 'none' },
  'GET /p.gif': { need: 'public', where: 'none' },
  'GET /t.js': { need: 'public', where: 'none' },
  'GET /privacy': { need: 'public', where: 'none' },
  'GET /privacy.json': { need: 'public', where: 'none' },
  'GET /api/openapi.json': { need: 'public', where: 'none' },
  'GET /*': { need: 'public', where: 'none' },
  'POST /api/v1/login': { need: 'public', where: 'none', body: () => ({}) },
  'POST /api/v1/invitations/accept': { need: 'public', where: 'none', body: () => ({}) },
  // reading a site: its viewers
  'GET /api/v1/stats/aggregate': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/timeseries': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/breakdown': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/realtime': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/realtime/visitors': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/goals': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/properties': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/page-flow': { need: 'viewer', where: 'query', query: 'page=/' },
  'GET /api/v1/funnel': { need: 'viewer', where: 'query', query: 'steps=' + encodeURIComponent('[{"page":"/"},{"page":"/b"}]') },
  'GET /api/v1/export': { need: 'viewer', where: 'query' },
  'GET /api/v1/shared-link': { need: 'viewer', where: 'query' },
  'POST /api/v2/query': { need: 'viewer', where: 'body', body: (site) => ({ site_id: site, metrics: ['visitors'], date_range: 'day' }) },
  'GET /api/v1/goals': { need: 'viewer', where: 'query' },
  'GET /api/v1/segments': { need: 'viewer', where: 'query' },
  'GET /api/v1/funnels': { need: 'viewer', where: 'query' },
  'GET /api/v1/annotations': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/imported': { need: 'viewer', where: 'query' },
  'GET /api/v1/stats/imported/breakdown': { need: 'viewer', where: 'query', query: 'property=page' },
  'GET /api/v1/imports': { need: 'viewer', where: 'query' },
  // managing a site: its admins
  'POST /api/v1/goals': { need: 'admin', where: 'body', body: (site) => ({ site, page: `/walk-${unique()}` }) },
  'DELETE /api/v1/goals/:id': { need: 'admin', where: 'id', make: (site) => made('/api/v1/goals', { site, page: `/walk-${unique()}` }) },
  'POST /api/v1/segments': { need: 'admin', where: 'body', body: (site) => ({ site, name: `walk ${unique()}`, filters: 'country==DE' }) },
  'PATCH /api/v1/segments/:id': { need: 'admin', where: 'id', body: () => ({ name: `walk ${unique()}` }), make: (site) => made('/api/v1/segments', { site, name: `walk ${unique()}`, filters: 'country==DE' }) },
  'DELETE /api/v1/segments/:id': { need: 'admin', where: 'id', make: (site) => made('/api/v1/segments', { site, name: `walk ${unique()}`, filters: 'country==DE' }) },
  'POST /api/v1/funnels': { need: 'admin', where: 'body', body: (site) => ({ site, name: `walk ${unique()}`, steps: [{ page: '/' }, { page: '/b' }] }) },
  'DELETE /api/v1/funnels/:id': { need: 'admin', where: 'id', make: (site) => made('/api/v1/funnels', { site, name: `walk ${unique()}`, steps: [{ page: '/' }, { page: '/b' }] }) },
  'POST /api/v1/annotations': { need: 'admin', where: 'body', body: (site) => ({ site, date: '2026-01-01', note: 'walk' }) },
  'DELETE /api/v1/annotations/:id': { need: 'admin', where: 'id', make: (site) => made('/api/v1/annotations', { site, date: '2026-01-01', note: 'walk' }) },
  'GET /api/v1/reports': { need: 'admin', where: 'query' },
  'PUT /api/v1/reports': { need: 'admin', where: 'body', body: (site) => ({ site, kind: 'weekly', to: ['walk@example.com'] }) },
  'DELETE /api/v1/reports': { need: 'admin', where: 'query', query: 'kind=monthly' },
  'POST /api/v1/reports/send': { need: 'admin', where: 'body', body: (site) => ({ site, to: ['walk@example.com'] }) },
  'GET /api/v1/sites/:domain/installation': { need: 'admin', where: 'path' },
  'PATCH /api/v1/sites/:domain': { need: 'admin', where: 'path', body: () => ({ timezone: 'UTC' }) },
  'POST /api/v1/tokens': { need: 'admin', where: 'body', body: (site) => ({ site, scopes: ['stats'], name: 'made by the roles walk' }) },
  'GET /api/v1/tokens': { need: 'admin', where: 'query' },
  'DELETE /api/v1/tokens/:id': { need: 'admin', where: 'id', make: async (site) => (await app.tokens.create({ site, scopes: ['stats'], name: 'walk' })).info.id },
  'GET /api/v1/users': { need: 'admin', where: 'query' },
  'PUT /api/v1/users/:name/roles': { need: 'admin', where: 'body', body: (site) => ({ site, role: 'viewer' }) },
  'DELETE /api/v1/users/:name/roles': { need: 'admin', where: 'query' },
  'POST /api/v1/invitations': { need: 'admin', where: 'body', body: (site) => ({ name: `invitee-${unique()}`, site, role: 'viewer' }) },
  'GET /api/v1/invitations': { need: 'admin', where: 'query' },
  'DELETE /api/v1/invitations/:id': { need: 'admin', where: 'id', make: (site) => made('/api/v1/invitations', { name: `invitee-${unique()}`, site, role: 'viewer' }) },
  'POST /api/v1/imports': { need: 'admin', where: 'query' },
  'DELETE /api/v1/imports/:id': { need: 'admin', where: 'query' },
  // the installation, and users as a whole: owners of every site (the site's owners remove it)
  'POST /api/v1/sites': { need: 'owner', where: 'none', body: () => ({ domain: A }) },
  'DELETE /api/v1/sites/:domain': { need: 'owner', where: 'path' },
  'POST /api/v1/admin/events': { need: 'owner', where: 'none', body: () => ({ events: [] }) },
  'POST /api/v1/admin/purge': { need: 'owner', where: 'none', query: 'dryRun=true' },
  'GET /api/v1/admin/audit': { need: 'owner', where: 'none' },
  'POST /api/v1/users': { need: 'owner', where: 'none', body: () => ({ name: 'roles-walk-made', password: 'made by the roles walk' }) },
  'DELETE /api/v1/users/:name': { need: 'owner', where: 'none' },
  'DELETE /api/v1/users/:name/sessions': { need: 'owner', where: 'none' },
  'GET /api/v1/sessions': { need: 'owner', where: 'none' },
  'DELETE /api/v1/sessions/:id': { need: 'owner', where: 'none' },
  // everyone signed in: themselves, and the sites they have a role on
  'GET /api/v1/me': { need: 'signed-in', where: 'none' },
  'POST /api/v1/logout': { need: 'signed-in', where: 'none' },
  'GET /api/v1/sites': { need: 'signed-in', where: 'none' },
  'GET /api/v1/sites/timezones': { need: 'signed-in', where: 'none' },
}

type Caller = 'owner' | 'adminA' | 'viewerA' | 'viewerAll' | 'adminToken' | 'none'
/** The roles of each caller's user. */
const USERS: Partial<Record<Caller, [string, Role][]>> = {
  owner: [['*', 'owner']],
  adminA: [[A, 'admin']],
  viewerA: [[A, 'viewer']],
  viewerAll: [['*', 'viewer']],
}

/** Whether `caller` may call a route needing `need` about `site`. */
function allowed(caller: Caller, need: Need, site: string): boolean {
  if (need === 'public' || caller === 'adminToken' || caller === 'owner') return true
  if (caller === 'none') return false
  if (need === 'signed-in') return true
  if (need === 'owner') return false
  if (caller === 'viewerAll') return need === 'viewer'
  return site === A && (need === 'viewer' || caller === 'adminA')
}

const keyOf = (r: { method: string; url: string }) => `${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`

beforeAll(async () => {
  app = await buildApp(testConfig(), { logger: false, onRoute: (r) => [r.method].flat().forEach((method) => seen.push({ method, url: r.url })) })
  await app.ready()
  for (const s of [A, B]) await app.runtime.sites.add(s)
  for (const [caller, roles] of Object.entries(USERS)) for (const [site, role] of roles) await app.memberships.set(`walk-${caller}`, site, role)
  // the user whose roles the walk changes
  await app.inject({ method: 'POST', url: '/api/v1/users', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'roles-target', password: 'a password for the target', role: 'viewer', site: B } })
}, 60_000)
afterAll(async () => {
  await app?.close()
})

/** A bearer for `caller`; a fresh session each time (signing out ends one). */
async function bearerOf(caller: Caller): Promise<string | undefined> {
  if (caller === 'none') return undefined
  if (caller === 'adminToken') return ADMIN_TOKEN
  return (await app.tokens.createSession(`walk-${caller}`)).token
}

async function call(r: { method: string; url: string }, entry: Entry, site: string, caller: Caller) {
  const id = entry.where === 'id' ? await entry.make!(site) : '000000000000'
  const path = r.url === '*' ? '/api/event' : r.url.replace(':domain', site).replace(':name', 'roles-target').replace(':id', id)
  const query = [entry.where === 'query' || entry.where === 'body' ? `site=${site}` : '', entry.query ?? ''].filter(Boolean).join('&')
  const bearer = await bearerOf(caller)
  const withBody = !['GET', 'HEAD', 'OPTIONS'].includes(r.method)
  return app.inject({
    method: r.method as 'GET',
    // a body route's site is in its body only
    url: `${path}${entry.where === 'body' ? (entry.query ? `?${entry.query}` : '') : query ? `?${query}` : ''}`,
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    ...(withBody ? { payload: (entry.body?.(site) ?? {}) as object } : {}),
  })
}

describe('the route × role table', () => {
  it('has an entry for every route the app registers, and none for a route that does not exist', () => {
    expect(seen.length).toBeGreaterThan(50)
    expect(seen.filter((r) => !TABLE[keyOf(r)]).map(keyOf), 'routes without a role entry: add them to TABLE').toEqual([])
    const keys = new Set(seen.map(keyOf))
    expect(Object.keys(TABLE).filter((k) => !keys.has(k))).toEqual([])
  })

  it('lets each caller through where its role allows, and answers 401 or 403 everywhere else', { timeout: 600_000 }, async () => {
    const wrong: string[] = []
    const routes = seen.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS' && TABLE[keyOf(r)].need !== 'public')
    for (const r of routes) {
      const entry = TABLE[keyOf(r)]
      for (const site of [A, B]) {
        for (const caller of ['owner', 'adminA', 'viewerA', 'viewerAll', 'adminToken', 'none'] as Caller[]) {
          const status = (await call(r, entry, site, caller)).statusCode
          const expected = allowed(caller, entry.need, site)
          const denied = caller === 'none' ? status === 401 : status === 403
          if (expected ? status === 401 || status === 403 : !denied) wrong.push(`${keyOf(r)} about ${site} by ${caller}: ${status}, expected ${expected ? 'allowed' : 'denied'}`)
        }
      }
    }
    expect(wrong).toEqual([])
  })

  // found in review: the query's site decided access while the route acted on the body's
  it("a request naming the caller's site in its query and another in its body is refused, for every body route", async () => {
    const bearer = await bearerOf('adminA')
    const twoSites = (method: 'PUT' | 'POST', url: string, payload: object) =>
      app.inject({ method, url: `${url}?site=${A}`, headers: { authorization: `Bearer ${bearer}` }, payload })
    expect((await twoSites('PUT', '/api/v1/reports', { site: B, kind: 'weekly', to: ['team@example.com'] })).statusCode).toBe(403)
    expect((await twoSites('POST', '/api/v1/reports/send', { site: B, to: ['team@example.com'] })).statusCode).toBe(403)
    expect((await twoSites('POST', '/api/v1/invitations', { name: `invitee-${unique()}`, site: B, role: 'admin' })).statusCode).toBe(403)
    // the same site twice, in any case, is that site
    const same = await twoSites('PUT', '/api/v1/reports', { site: A.toUpperCase(), kind: 'weekly', to: ['team@example.com'] })
    expect(same.statusCode, same.body).toBe(200)
  })

  it('public routes need no token', async () => {
    for (const r of seen.filter((r) => TABLE[keyOf(r)]?.need === 'public' && r.method !== 'OPTIONS')) {
      expect([401, 403], keyOf(r)).not.toContain((await call(r, TABLE[keyOf(r)], A, 'none')).statusCode)
    }
  })
})
