import { useState } from 'preact/hooks'
import { apiGet, ApiError } from '../lib/api.ts'
import { Logo, PrivacyFooter } from '../components/shell.tsx'

/** Signs in with a user name and password; answers the session token (`ses_…`). */
async function login(user: string, password: string): Promise<string> {
  const res = await fetch('/api/v1/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ user, password }),
    cache: 'no-store',
  })
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: string }
  if (!res.ok || !body.token) throw new ApiError(res.status, body.error ?? res.statusText)
  return body.token
}

/**
 * A user name and password, or the admin token (from ./data/admin-token) pasted; either way
 * the token the app then uses stays in this tab's sessionStorage only.
 */
export function SignIn({ onSignIn }: { onSignIn: (token: string) => void }) {
  const [user, setUser] = useState('')
  const [password, setPassword] = useState('')
  const [userError, setUserError] = useState('')
  const [token, setToken] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function submitUser(e: Event) {
    e.preventDefault()
    if (!user.trim() || !password) return setUserError('Enter your user name and password.')
    setBusy(true)
    setUserError('')
    try {
      onSignIn(await login(user.trim(), password))
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0
      setUserError(status === 401 ? 'Wrong user name or password.' : status === 429 ? 'Too many attempts. Wait a minute, then try again.' : `Could not sign in: ${(err as Error).message}`)
    } finally {
      setBusy(false)
    }
  }

  async function submit(e: Event) {
    e.preventDefault()
    const t = token.trim()
    if (!t) return setError('Paste the admin token first.')
    setBusy(true)
    setError('')
    try {
      await apiGet({ token: t }, '/api/v1/sites')
      onSignIn(t)
    } catch (err) {
      setError(err instanceof ApiError && (err.status === 401 || err.status === 403) ? 'This token was not accepted. Check ./data/admin-token on the server.' : `Could not reach the server: ${(err as Error).message}`)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="auth-page">
      <main id="main" class="auth-card">
        <Logo />
        <h1>Sign in</h1>
        <p class="muted">You stay signed in only in this browser tab, until it closes or you sign out.</p>
        <form onSubmit={submitUser} noValidate>
          <label for="user">User name</label>
          <input id="user" name="username" type="text" autoComplete="username" autoCapitalize="none" spellcheck={false} value={user}
            onInput={(e) => setUser((e.currentTarget as HTMLInputElement).value)} aria-invalid={userError ? 'true' : undefined} aria-describedby="user-error" />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autoComplete="current-password" value={password}
            onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)} aria-invalid={userError ? 'true' : undefined} aria-describedby="user-error" />
          <p id="user-error" class="error" role="alert">{userError}</p>
          <button type="submit" class="button primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        </form>
        <p class="auth-or" aria-hidden="true">or</p>
        <form onSubmit={submit} noValidate>
          <label for="token">Admin token</label>
          <input id="token" name="token" type="password" autoComplete="off" spellcheck={false} value={token}
            onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} aria-invalid={error ? 'true' : undefined} aria-describedby="token-help token-error" />
          <p id="token-help" class="hint">On the server: <code>cat data/admin-token</code>. Users are added with <code>analytics user add NAME</code>.</p>
          <p id="token-error" class="error" role="alert">{error}</p>
          <button type="submit" class="button" disabled={busy}>Sign in with the admin token</button>
        </form>
      </main>
      <PrivacyFooter />
    </div>
  )
}
