import { useEffect, useState } from 'preact/hooks'
import { apiGet, ApiError, type Credentials } from '../lib/api.ts'
import { onLinkClick, type Loc } from '../lib/router.ts'
import { session } from '../lib/session.ts'
import { ViewContext, type View } from '../lib/view.ts'
import { Logo, PrivacyFooter } from '../components/shell.tsx'
import { Dashboard } from './dashboard.tsx'
import { Realtime } from './realtime.tsx'

type LinkState =
  | { status: 'checking' }
  | { status: 'password'; wrong: boolean }
  | { status: 'invalid'; message: string }
  | { status: 'ok'; site: string; timezone: string }

/** `/share#<token>`: a read-only dashboard opened with a shared link as the bearer token. */
export function SharedDashboard({ link, page, loc }: { link: string; page: 'dashboard' | 'realtime'; loc: Loc }) {
  const [password, setPassword] = useState(session.sharePassword(link))
  const [state, setState] = useState<LinkState>({ status: 'checking' })
  const cred: Credentials = { token: link, password }
  const embed = loc.params.get('embed') === '1'

  useEffect(() => {
    document.documentElement.classList.toggle('embed', embed)
  }, [embed])

  useEffect(() => {
    let live = true
    apiGet<{ site: string; timezone: string }>(cred, '/api/v1/shared-link').then(
      (s) => live && setState({ status: 'ok', ...s }),
      (err: Error) => {
        if (!live) return
        if (err instanceof ApiError && err.status === 401 && /password/.test(err.message)) setState({ status: 'password', wrong: err.message === 'wrong password' })
        else setState({ status: 'invalid', message: err instanceof ApiError ? err.message : `Could not reach the server: ${err.message}` })
      },
    )
    return () => void (live = false)
  }, [link, password])

  if (state.status === 'checking') return <p class="loading-page" aria-busy="true">Opening the shared dashboard…</p>
  if (state.status === 'invalid') {
    return (
      <div class="auth-page"><main id="main" class="auth-card">
        <Logo href={loc.path} />
        <h1>This link does not open a dashboard</h1>
        <p class="muted">It may have been revoked or have expired ({state.message}). Ask the person who shared it for a new one.</p>
      </main></div>
    )
  }
  if (state.status === 'password') {
    return <PasswordForm wrong={state.wrong} onSubmit={(p) => { session.setSharePassword(link, p); setPassword(p) }} />
  }
  const view: View = { cred, site: state.site, timezone: state.timezone, base: '/share', readOnly: true, embed }
  return (
    <ViewContext.Provider value={view}>
      <SharedShell view={view} page={page} params={loc.params} />
    </ViewContext.Provider>
  )
}

function SharedShell({ view, page, params }: { view: View; page: 'dashboard' | 'realtime'; params: URLSearchParams }) {
  const embedQ = view.embed ? '?embed=1' : ''
  return (
    <div class={`shell shared${view.embed ? ' embed' : ''}`}>
      {!view.embed && (
        <header class="topbar">
          <div class="topbar-inner">
            <Logo href={view.base} />
            <span class="shared-badge">Shared dashboard · read-only</span>
            <nav class="topnav" aria-label="Shared dashboard pages">
              <a href={view.base + embedQ} onClick={onLinkClick} aria-current={page === 'dashboard' ? 'page' : undefined}>Dashboard</a>
              <a href={`${view.base}/realtime${embedQ}`} onClick={onLinkClick} aria-current={page === 'realtime' ? 'page' : undefined}>Realtime</a>
            </nav>
          </div>
        </header>
      )}
      <main id="main" tabIndex={-1}>{page === 'realtime' ? <Realtime /> : <Dashboard params={params} />}</main>
      {view.embed ? (
        <footer class="footer embed-footer"><a href={`/privacy?site=${encodeURIComponent(view.site)}`} target="_blank" rel="noopener">Privacy-friendly analytics</a></footer>
      ) : <PrivacyFooter site={view.site} shared />}
    </div>
  )
}

function PasswordForm({ wrong, onSubmit }: { wrong: boolean; onSubmit: (password: string) => void }) {
  const [value, setValue] = useState('')
  return (
    <div class="auth-page">
      <main id="main" class="auth-card">
        <Logo href={location.pathname} />
        <h1>This dashboard is password-protected</h1>
        <p class="muted">Enter the password you were given with the link.</p>
        <form onSubmit={(e) => { e.preventDefault(); if (value) onSubmit(value) }}>
          <label for="share-password">Password</label>
          <input id="share-password" type="password" autoComplete="current-password" value={value} required
            aria-invalid={wrong ? 'true' : undefined} aria-describedby="share-error" onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
          <p id="share-error" class="error" role="alert">{wrong ? 'That password is not right.' : ''}</p>
          <button type="submit" class="button primary">Open dashboard</button>
        </form>
      </main>
    </div>
  )
}
