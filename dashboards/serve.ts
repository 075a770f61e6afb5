/**
 * Serves the built dashboards (dashboards/dist) at `/`: files under /assets/ with a year of
 * caching (their names carry a hash; a missing one is a 404 no cache keeps), every other path
 * the app's index.html so that client routes such as /sites/example.com or /share#<token> can
 * be bookmarked. A shared link's token rides in the fragment, which no request carries; an old
 * link with the token in its path (/share/<token>) is redirected to that form. Paths that belong
 * to the server (/api/*, /t.js, /p.gif, /privacy*, /healthz) are never answered here.
 *
 * When the build is missing (a fresh clone without `npm install`), the server builds it with
 * Vite in a child process as soon as it listens, and pages wait for that build.
 */
import fs from 'node:fs'
import path from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { buildDashboards, DASHBOARDS_DIR, DIST, isBuilt } from './build/build.ts'
import type { Sites } from '../accounts/sites.ts'
import { sharedLinkRoutes } from './shared-link.ts'

/** Paths the server owns: a client route may never hide them. */
const SERVER_PATHS = /^\/(?:api(?:\/|$)|t\.js$|p\.gif$|privacy|healthz(?:\/|$))/

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  // Nothing of a page's address (a site, filters, an old shared link) goes on as a Referer.
  'referrer-policy': 'no-referrer',
}

/** `/share/<token>[/realtime]`: a shared link as it was made before the token moved to the fragment. */
const OLD_SHARE_LINK = /^\/share\/(shr_[\w-]+)(\/realtime)?\/?$/

/** The shared dashboard's pages: `/share` and `/share/realtime`, the token in the fragment. */
const SHARE_PAGE = /^\/share(?:\/realtime)?\/?$/

/** Whether `pathname` names a file of the build's assets/ (never a path out of it). */
async function isAsset(dist: string, pathname: string): Promise<boolean> {
  const file = path.join(dist, pathname)
  if (!file.startsWith(path.join(dist, 'assets') + path.sep)) return false
  return (await fs.promises.stat(file).catch(() => null))?.isFile() ?? false
}

/** Everything from this origin, nothing inline; only a shared link in embed mode (`?embed=1`) may sit in another site's iframe. */
function contentSecurityPolicy(frameable: boolean): string {
  return [
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "base-uri 'none'", "form-action 'self'", "object-src 'none'", `frame-ancestors ${frameable ? '*' : "'none'"}`,
  ].join('; ')
}

function notBuiltPage(reply: FastifyReply, message: string) {
  return reply.code(503).headers({ ...PAGE_HEADERS, 'retry-after': '5', 'content-security-policy': contentSecurityPolicy(false) })
    .send(`<!doctype html><meta charset="utf-8"><title>Dashboards</title><p style="font:16px system-ui;margin:3rem">${message}</p>`)
}

export interface DashboardOptions {
  /** Where the built app is; dashboards/dist by default. */
  dist?: string
  /** Build when the app is missing once the server listens (default true). */
  buildWhenMissing?: boolean
  /** The registered sites, for `/api/v1/shared-link` (needs the access decorators); without them that route is left out. */
  sites?: Sites
}

/** The dashboards at `/`: register last, after every server route. */
export async function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions = {}) {
  const dist = opts.dist ?? DIST
  let buildError: Error | null = null
  let building: Promise<void> | null = null
  const build = () => (building ??= (async () => {
    app.log.info('building the dashboards (dashboards/dist is missing)')
    try {
      app.log.info({ ms: await buildDashboards(dist) }, 'dashboards built')
    } catch (err) {
      buildError = err as Error
      app.log.error({ err: buildError.message }, 'dashboards are not available')
    }
  })())
  if (opts.buildWhenMissing !== false) {
    app.addHook('onListen', async () => {
      if (!isBuilt(dist)) void build()
    })
  }

  if (opts.sites) await app.register(sharedLinkRoutes, { sites: opts.sites })
  // the root must exist when registered; files are always sent from `dist`, which may be built later
  await app.register(fastifyStatic, { root: DASHBOARDS_DIR, serve: false })

  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    const [pathname, search = ''] = req.url.split('?', 2)
    if (SERVER_PATHS.test(pathname)) return reply.callNotFound()
    if (!isBuilt(dist)) {
      if (opts.buildWhenMissing === false) return notBuiltPage(reply, 'The dashboards are not built: run <code>npm run build:dashboards</code>.')
      await build()
      if (!isBuilt(dist)) return notBuiltPage(reply, `The dashboards could not be built: ${buildError?.message ?? 'unknown error'}`)
    }
    if (pathname.startsWith('/assets/')) {
      // a name the build did not make is a 404 no cache keeps (one cached for a year would outlive the next build)
      if (!(await isAsset(dist, pathname))) return reply.code(404).header('cache-control', 'no-store').send({ error: 'not found' })
      return reply.headers({ 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' }).sendFile(pathname.slice(1), dist, { cacheControl: false })
    }
    const old = OLD_SHARE_LINK.exec(pathname)
    if (old) {
      // the token leaves the path for the fragment: later requests (and the logs of proxies) never see it
      return reply.code(302).headers({ location: `/share${old[2] ?? ''}${search ? `?${search}` : ''}#${old[1]}`, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).send()
    }
    if (/^\/[\w.-]+\.(?:svg|png|ico|txt|webmanifest)$/.test(pathname) && fs.existsSync(path.join(dist, pathname))) {
      return reply.headers({ 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' }).sendFile(pathname.slice(1), dist, { cacheControl: false })
    }
    const html = await fs.promises.readFile(path.join(dist, 'index.html'))
    const embedded = SHARE_PAGE.test(pathname) && new URLSearchParams(search).get('embed') === '1'
    return reply.headers({ ...PAGE_HEADERS, 'content-security-policy': contentSecurityPolicy(embedded) }).send(html)
  })
}
