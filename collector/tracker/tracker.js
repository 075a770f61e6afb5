// The browser tracker, served minified at GET /t.js:
//   <script defer data-domain="example.com" src="https://collector.example/t.js"></script>
// It keeps nothing on the device: no cookies, no identifiers. The one exception is a last-visit
// day (a date, never an id) under localStorage.analytics_lv, kept only while the collector's
// answer to a pageview says the site's policy allows it (`lv`), and removed otherwise.
// Every beacon stands alone; the collector derives a daily-salted visitor hash it cannot reverse.
// Plain ES2017, no build step beyond esbuild's minify (collector/http/tracker.ts).
;(() => {
  const w = window
  const d = document
  const l = location
  const nav = navigator
  const s = d.currentScript
  if (!s) return
  const attr = (a) => s.getAttribute(a)
  const has = (a) => s.hasAttribute(a)
  const api = attr('data-api') || new URL(s.src).origin + '/api/event'
  const domain = attr('data-domain') || l.hostname
  const hashMode = has('data-hash')
  // Local development and saved files are not counted unless the site asks for it.
  const local = l.protocol == 'file:' || (!has('data-include-localhost') && /^(localhost|127(\.\d+){3}|\[::1\])$/.test(l.hostname))

  const LV = 'analytics_lv'
  const today = new Date().toISOString().slice(0, 10)
  let lastVisit
  try {
    lastVisit = localStorage.getItem(LV)
  } catch (_) {}

  // o: { props, revenue, callback, u (URL override), e (engagement ms), sd (scroll depth %) }
  const send = (name, o) => {
    o = o || {}
    let off = local
    try {
      // Opt-out a site can set for a visitor (the tracker only reads it).
      off = off || localStorage.analytics_ignore == 'true'
    } catch (_) {}
    if (!off) {
      const b = { n: name, u: o.u || l.href, d: domain, r: d.referrer, w: w.innerWidth }
      if (o.props) b.p = o.props
      // Plausible's short keys: `$` revenue {amount, currency}, `sd` scroll depth (undefined is left out)
      b.$ = o.revenue
      b.sd = o.sd
      if (o.e) b.e = o.e
      if (hashMode) b.h = 1
      const pv = name == 'pageview'
      if (pv) b.v = lastVisit && lastVisit != today ? 1 : 0
      const body = JSON.stringify(b)
      // A string body goes as text/plain: no CORS preflight; sendBeacon survives navigation.
      // A pageview goes by fetch, whose answer says whether the last-visit day may be kept.
      if (pv || !(nav.sendBeacon && nav.sendBeacon(api, body)))
        fetch(api, { method: 'POST', body, keepalive: true })
          .then((r) => r.json())
          .then((j) => {
            if (pv) j.lv ? localStorage.setItem(LV, today) : localStorage.removeItem(LV)
          })
          .catch(() => {})
    }
    if (o.callback) o.callback()
  }

  // Visible foreground time on the current page, and how far down it was seen.
  let page // the URL of the current page, for its engagement event
  let last // its path (with the fragment in hash mode): the same path is not a new pageview
  let engaged = 0
  let since = d.hidden ? 0 : Date.now()
  const root = d.documentElement
  let seen = 0 // the deepest pixel of the page seen (the viewport's bottom), since its pageview
  const scrolled = () => (seen = Math.max(seen, w.scrollY + w.innerHeight))
  const engagement = () => {
    if (since) engaged += Date.now() - since
    since = d.hidden ? 0 : Date.now()
    scrolled()
    // the deepest scroll in percent of the page's height now (content loaded later counts)
    if (engaged >= 1000 && page) send('engagement', { u: page, e: engaged, sd: Math.min(100, Math.round((seen / root.scrollHeight) * 100)) })
    engaged = 0
  }

  const pageview = () => {
    const path = l.pathname + (hashMode ? l.hash : '')
    if (path == last) return
    if (last != null) engagement()
    last = path
    page = l.href
    // measured from the next scroll on: a single-page app scrolls the new page to its top after this
    seen = 0
    send('pageview')
  }

  // Single-page apps: history navigation and, in hash mode, fragment changes.
  const h = w.history
  for (const k of ['pushState', 'replaceState']) {
    const f = h[k]
    if (f)
      h[k] = function () {
        f.apply(this, arguments)
        pageview()
      }
  }
  w.addEventListener('popstate', pageview)
  if (hashMode) w.addEventListener('hashchange', pageview)
  // A page restored from the back/forward cache is viewed again.
  w.addEventListener('pageshow', (e) => {
    if (e.persisted) {
      last = null
      pageview()
    }
  })
  d.addEventListener('visibilitychange', () => (d.hidden ? engagement() : (since = Date.now())))
  w.addEventListener('scroll', scrolled)
  w.addEventListener('pagehide', engagement)

  // One delegated listener: tagged elements, file downloads, outbound links.
  const FILES = /\.(pdf|xlsx?|docx?|pptx?|odt|ods|odp|csv|txt|rtf|zip|gz|tgz|7z|rar|dmg|pkg|exe|msi|apk|iso|mp3|wav|mp4|mov|avi|mkv|epub)$/i
  const click = (e) => {
    const t = e.target
    if ((e.type == 'auxclick' && e.button != 1) || !t || !t.closest) return
    const tagged = t.closest('[data-analytics-event]')
    if (tagged) {
      const props = {}
      for (const a of tagged.attributes) {
        const m = /^data-analytics-prop-(.+)/.exec(a.name)
        if (m) props[m[1]] = a.value
      }
      send(tagged.getAttribute('data-analytics-event'), { props })
    }
    const a = t.closest('a[href]')
    if (a && /^https?:$/.test(a.protocol)) {
      const props = { props: { url: a.href } }
      if (FILES.test(a.pathname)) send('File Download', props)
      else if (a.hostname != l.hostname) send('Outbound Link: Click', props)
    }
  }
  d.addEventListener('click', click)
  d.addEventListener('auxclick', click)

  // Custom events: window.analytics('Signup', { props: { plan: 'pro' } }), queued before load;
  // with revenue: window.analytics('Purchase', { revenue: { amount: 10.5, currency: 'EUR' } }).
  const queued = (w.analytics && w.analytics.q) || []
  w.analytics = send
  pageview()
  for (const args of queued) send.apply(null, args)
})()
