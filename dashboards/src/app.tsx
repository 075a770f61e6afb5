import { useEffect, useState } from 'preact/hooks'
import { apiGet, apiSend, UNAUTHORIZED, type Site } from './lib/api.ts'
import { navigate, useLocation } from './lib/router.ts'
import { session, SITES_CHANGED } from './lib/session.ts'
import { ViewContext, type View } from './lib/view.ts'
import { Dashboard } from './views/dashboard.tsx'
import { Realtime } from './views/realtime.tsx'
import { Settings } from './views/settings.tsx'
import { SharedDashboard } from './views/shared.tsx'
import { SignIn } from './views/sign-in.tsx'
import { AcceptInvitation } from './views/accept.tsx'
import { atLeast, roleOn, useRoles } from './lib/roles.ts'
import { AddSite, SiteList } from './views/sites.tsx'
import { useFetch } from './lib/use-fetch.ts'
import { Shell } from './components/shell.tsx'

export function App() {
  const loc = useLocation()
  const [token, setToken] = useState(session.token())

  useEffect(() => {
    const signOut = () => {
      session.signOut()
      setToken(null)
    }
    addEventListener(UNAUTHORIZED, signOut)
    return () => removeEventListener(UNAUTHORIZED, signOut)
  }, [])

  // a shared link's token rides in the fragment, which no request carries (/share#shr_…; URL-safe, nothing to decode)
  const share = /^\/share(\/realtime)?\/?$/.exec(loc.path)
  if (share) return <SharedDashboard link={location.hash.slice(1)} page={share[1] ? 'realtime' : 'dashboard'} loc={loc} />

  const signIn = (t: string) => {
    session.signIn(t)
    setToken(t)
  }
  // an invitation's token rides in the fragment too (/accept#inv_…)
  if (loc.path === '/accept') return <AcceptInvitation onSignIn={signIn} />
  if (!token) {
    return (
      <SignIn
        onSignIn={(t) => {
          session.signIn(t)
          setToken(t)
        }}
      />
    )
  }
  const signOut = () => {
    // a user's session ends on the server too; the admin token stays valid
    if (token.startsWith('ses_')) void apiSend({ token }, 'POST', '/api/v1/logout').catch(() => {})
    session.signOut()
    setToken(null)
    navigate('/')
  }
  return <Admin token={token} path={loc.path} params={loc.params} onSignOut={signOut} />
}

function Admin({ token, path, params, onSignOut }: { token: string; path: string; params: URLSearchParams; onSignOut: () => void }) {
  const cred = { token }
  const [rev, setRev] = useState(0)
  useEffect(() => {
    const again = () => setRev((r) => r + 1)
    addEventListener(SITES_CHANGED, again)
    return () => removeEventListener(SITES_CHANGED, again)
  }, [])
  const sites = useFetch<{ sites: Site[] }>(`sites:${token}:${rev}`, (signal) => apiGet(cred, '/api/v1/sites', {}, signal))
  // a viewer gets the dashboards without the controls of those who manage the site
  const roles = useRoles(cred) ?? []
  // the last list this tab saw (domains and time zones only) draws the dashboard at once on a reload
  const list = sites.data?.sites ?? session.sites() ?? []
  useEffect(() => {
    if (sites.data) session.setSites(sites.data.sites)
  }, [sites.data])

  if (path === '/sites/new') return <Shell sites={list} onSignOut={onSignOut}><AddSite cred={cred} /></Shell>

  const m = /^\/sites\/([^/]+)(?:\/(realtime|settings))?\/?$/.exec(path)
  if (!m) {
    return (
      <Shell sites={list} onSignOut={onSignOut}>
        <SiteList sites={list} loading={sites.loading} error={sites.error} canAdd={roleOn(roles, '*') === 'owner'} />
      </Shell>
    )
  }
  const domain = decodeURIComponent(m[1])
  const site = list.find((s) => s.domain === domain)
  if (!site) {
    return (
      <Shell sites={list} onSignOut={onSignOut}>
        {sites.loading ? <p class="loading-page" aria-busy="true">Loading…</p> : <p class="empty-page">There is no site called <strong>{domain}</strong>. <a href="/">See all sites</a></p>}
      </Shell>
    )
  }
  const manage = atLeast(roleOn(roles, site.domain), 'admin')
  const view: View = { cred, site: site.domain, timezone: site.timezone, base: `/sites/${encodeURIComponent(site.domain)}`, readOnly: !manage, embed: false }
  return (
    <ViewContext.Provider value={view}>
      <Shell sites={list} site={site.domain} page={m[2] ?? 'dashboard'} onSignOut={onSignOut} manage={manage}>
        {m[2] === 'realtime' ? <Realtime /> : m[2] === 'settings' ? <Settings /> : <Dashboard params={params} />}
      </Shell>
    </ViewContext.Provider>
  )
}
