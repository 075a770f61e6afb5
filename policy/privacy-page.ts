import type { FastifyInstance, FastifyReply } from 'fastify'
import Type, { type Static } from 'typebox'
import { normaliseDomain, type Sites } from '../accounts/sites.ts'
import { describePolicy, DisclosureSchema, type Disclosure } from './describe.ts'
import type { Policy } from './policy.ts'

const PrivacyQuery = Type.Object({
  site: Type.Optional(Type.String({ maxLength: 300 })),
})
type PrivacyQuery = Static<typeof PrivacyQuery>

const ErrorOut = Type.Object({ error: Type.String() })
const SITE_ERROR = 'site must be a host name such as example.com'

/** The page loads nothing and runs nothing: inline style is all it needs. */
const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The policy can be reloaded: a cached copy must be revalidated.
  'cache-control': 'no-cache',
}

const AUDIENCES = [
  ['dashboard', "The site's own dashboards"],
  ['shared', 'Shared dashboard links'],
  ['export', 'Exports for the public and third parties'],
] as const

/** Every string from a file or a request passes through here before it reaches the page. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

const esc = escapeHtml

function items(values: readonly string[], code = false): string {
  return `<ul>${values.map((v) => `<li>${code ? `<code>${esc(v)}</code>` : esc(v)}</li>`).join('')}</ul>`
}

function labelled(values: readonly { name: string; text: string }[]): string {
  return `<ul>${values.map((v) => `<li>${esc(v.text)} <span class="key">(<code>${esc(v.name)}</code>)</span></li>`).join('')}</ul>`
}

const STYLE = `
:root { color-scheme: light dark; --bg: #fdfdfc; --fg: #1d1d1f; --muted: #5b5b62; --rule: #dcdcdf; --accent: #0b57d0; --panel: #f3f3f1; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #151517; --fg: #e9e9ec; --muted: #a4a4ad; --rule: #34343a; --accent: #8ab4f8; --panel: #202024; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 1.0625rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 42rem; margin: 0 auto; padding: 2.5rem 1.25rem 4rem; }
h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 .5rem; letter-spacing: -.01em; }
h2 { font-size: 1.3rem; line-height: 1.3; margin: 2.5rem 0 .75rem; padding-top: 1.25rem; border-top: 1px solid var(--rule); }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
p, ul, table { margin: 0 0 1rem; }
ul { padding-left: 1.25rem; }
li { margin: .3rem 0; }
a { color: var(--accent); }
a:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
code { font: .9em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--panel); padding: .05em .3em; border-radius: 4px; overflow-wrap: anywhere; }
.lede { font-size: 1.15rem; color: var(--muted); }
.key { color: var(--muted); font-size: .9em; }
.meta { color: var(--muted); font-size: .95rem; }
nav ul { columns: 2; column-gap: 2rem; padding-left: 1.1rem; }
@media (max-width: 30rem) { nav ul { columns: 1; } }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; color: var(--muted); font-size: .95rem; padding-bottom: .4rem; }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--rule); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th { font-size: .9rem; color: var(--muted); font-weight: 600; }
footer { margin-top: 3rem; padding-top: 1rem; border-top: 1px solid var(--rule); color: var(--muted); font-size: .95rem; }
`

const SECTIONS = [
  ['collected', 'What is collected'],
  ['never', 'What is never collected'],
  ['why', 'Why'],
  ['k', 'Who sees the numbers'],
  ['retention', 'How long it is kept'],
  ['counting', 'How visitors are counted'],
  ['signals', 'Do Not Track and Global Privacy Control'],
  ['excluded', 'Pages that are not measured'],
  ['opt-out', 'How to opt out'],
] as const

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}

/** The disclosure as a self-contained HTML page: no script, no external asset, every value escaped. */
export function renderDisclosureHtml(d: Disclosure): string {
  const where = d.site === null ? 'this site' : d.site
  const jsonHref = `privacy.json${d.site === null ? '' : `?site=${encodeURIComponent(d.site)}`}`
  const c = d.collected
  const body = `
<header>
<h1>Analytics and your privacy</h1>
<p class="lede">How visits to <strong>${esc(where)}</strong> are measured: only non-personal information, used only for statistics about many visitors together.</p>
${d.policy.description ? `<p>${esc(d.policy.description)}</p>` : ''}
<p class="meta">Policy: ${esc(d.policy.name)}${d.site === null ? ' (the rules every site gets unless it has its own)' : d.rules === 'site' ? ' (with rules specific to this site)' : ' (the default rules; this site has none of its own)'}.</p>
</header>
<nav aria-label="Contents">
<ul>${SECTIONS.map(([id, label]) => `<li><a href="#${id}">${esc(label)}</a></li>`).join('')}</ul>
</nav>

<section aria-labelledby="collected">
<h2 id="collected">What is collected</h2>
<h3>Events</h3>
${c.events.length > 0 ? labelled(c.events) : '<p>No events are recorded.</p>'}
<h3>About each event</h3>
${c.dimensions.length > 0 ? labelled(c.dimensions) : '<p>Nothing beyond the kind of event and its time.</p>'}
<p>${esc(c.geography.text)}</p>
${items(c.notes)}
</section>

<section aria-labelledby="never">
<h2 id="never">What is never collected</h2>
${items(d.neverCollected)}
<h3>Identifiers removed from text</h3>
<p>Each of these is replaced by its placeholder wherever it appears, before anything is stored:</p>
${labelled(d.scrubbed.map((k) => ({ name: k.placeholder, text: k.text })))}
</section>

<section aria-labelledby="why">
<h2 id="why">Why</h2>
<p>${esc(d.purpose)}</p>
<p>${esc(d.bots.text)}</p>
</section>

<section aria-labelledby="k">
<h2 id="k">Who sees the numbers</h2>
<p>${esc(d.minVisitors.text)}</p>
<table>
<caption>Minimum number of distinct visitors behind any number shown</caption>
<thead><tr><th scope="col">Where the numbers are shown</th><th scope="col" class="num">At least</th></tr></thead>
<tbody>
${AUDIENCES.map(([key, label]) => `<tr><th scope="row">${esc(label)}</th><td class="num">${esc(d.minVisitors[key])} visitors</td></tr>`).join('\n')}
</tbody>
</table>
<p>${esc(d.noise.text)}</p>
</section>

<section aria-labelledby="retention">
<h2 id="retention">How long it is kept</h2>
<table>
<caption>Retention</caption>
<thead><tr><th scope="col">Data</th><th scope="col" class="num">Deleted after</th></tr></thead>
<tbody>
<tr><th scope="row">Individual events</th><td class="num">${esc(d.retention.rawEventsDays)} days</td></tr>
<tr><th scope="row">Aggregate statistics</th><td class="num">${esc(d.retention.aggregatesDays)} days</td></tr>
</tbody>
</table>
<p>${esc(d.retention.text)}</p>
</section>

<section aria-labelledby="counting">
<h2 id="counting">How visitors are counted</h2>
<p>${esc(d.visitorHash.text)}</p>
</section>

<section aria-labelledby="signals">
<h2 id="signals">Do Not Track and Global Privacy Control</h2>
<p>${esc(d.consent.dnt.text)}</p>
<p>${esc(d.consent.gpc.text)}</p>
</section>

<section aria-labelledby="excluded">
<h2 id="excluded">Pages that are not measured</h2>
${d.excludedPaths.length > 0 ? `<p>Nothing at all is recorded on these pages (<code>*</code> stands for any text):</p>${items(d.excludedPaths, true)}` : '<p>None: every page of the site may be measured.</p>'}
</section>

<section aria-labelledby="opt-out">
<h2 id="opt-out">How to opt out</h2>
${items(d.optOut)}
</section>

<footer>
<p>This page is generated from the policy the analytics collector enforces, so it always describes what the collector actually does. The same information is available as <a href="${esc(jsonHref)}">JSON</a>.</p>
</footer>`
  return page(`Analytics and your privacy: ${where}`, body)
}

/** The site a request asks about: null for the defaults, undefined when the name is not a host name. */
function requestedSite(query: PrivacyQuery): string | null | undefined {
  if (query.site === undefined || query.site.trim() === '') return null
  return normaliseDomain(query.site) ?? undefined
}

function sendHtml(reply: FastifyReply, status: number, html: string) {
  return reply.code(status).headers(HTML_HEADERS).send(html)
}

/**
 * `GET /privacy` and `GET /privacy.json`: the active policy as a disclosure a site can link
 * to from its own privacy policy. The policy is read on every request: a reload shows at once.
 */
export async function privacyRoutes(app: FastifyInstance, { policy, sites }: { policy: () => Policy; sites: Pick<Sites, 'has'> }) {
  app.get<{ Querystring: PrivacyQuery }>('/privacy', { schema: { querystring: PrivacyQuery } }, async (req, reply) => {
    const site = requestedSite(req.query)
    if (site === undefined) {
      return sendHtml(reply, 400, page('Analytics and your privacy', `<h1>Analytics and your privacy</h1>\n<p>The <code>site</code> parameter must be a host name such as <code>example.com</code>. <a href="privacy">See the default rules.</a></p>`))
    }
    // only sites registered here have a page: no page for any name asked about
    if (site !== null && !sites.has(site)) {
      return sendHtml(reply, 404, page('Analytics and your privacy', `<h1>Analytics and your privacy</h1>\n<p>No site of that name is measured here. <a href="privacy">See the default rules.</a></p>`))
    }
    return sendHtml(reply, 200, renderDisclosureHtml(describePolicy(policy(), site)))
  })

  app.get<{ Querystring: PrivacyQuery }>('/privacy.json', {
    schema: { querystring: PrivacyQuery, response: { 200: DisclosureSchema, 400: ErrorOut, 404: ErrorOut } },
  }, async (req, reply) => {
    reply.headers({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache', 'access-control-allow-origin': '*' })
    const site = requestedSite(req.query)
    if (site === undefined) return reply.code(400).send({ error: SITE_ERROR })
    if (site !== null && !sites.has(site)) return reply.code(404).send({ error: 'no site of that name is measured here' })
    return describePolicy(policy(), site)
  })
}
