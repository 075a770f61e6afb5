import { useState } from 'preact/hooks'
import { apiGet, ApiError } from '../lib/api.ts'
import { Logo, PrivacyFooter } from '../components/shell.tsx'

/** Paste the admin token (from ./data/admin-token); it stays in this tab's sessionStorage only. */
export function SignIn({ onSignIn }: { onSignIn: (token: string) => void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

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
        <p class="muted">Paste the admin token. It is kept in this browser tab only and forgotten when the tab closes.</p>
        <form onSubmit={submit} noValidate>
          <label for="token">Admin token</label>
          <input id="token" name="token" type="password" autoComplete="current-password" spellcheck={false} value={token}
            onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} aria-invalid={error ? 'true' : undefined} aria-describedby="token-help token-error" />
          <p id="token-help" class="hint">On the server: <code>cat data/admin-token</code></p>
          <p id="token-error" class="error" role="alert">{error}</p>
          <button type="submit" class="button primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        </form>
      </main>
      <PrivacyFooter />
    </div>
  )
}
