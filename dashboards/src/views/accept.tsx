import { useState } from 'preact/hooks'
import { ApiError } from '../lib/api.ts'
import { navigate } from '../lib/router.ts'
import { Logo, PrivacyFooter } from '../components/shell.tsx'

/**
 * An invitation opened (`/accept#inv_…`: the token rides in the fragment, which no request
 * carries): the invitee sets their password and is signed in with the role they were given.
 */
export function AcceptInvitation({ onSignIn }: { onSignIn: (token: string) => void }) {
  const [invitation] = useState(() => location.hash.slice(1))
  const [password, setPassword] = useState('')
  const [again, setAgain] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function submit(e: Event) {
    e.preventDefault()
    if (password.length < 8) return setError('Choose a password of at least 8 characters.')
    if (password !== again) return setError('The two passwords differ.')
    setBusy(true)
    setError('')
    try {
      const res = await fetch('/api/v1/invitations/accept', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ token: invitation, password }),
        cache: 'no-store',
      })
      const body = (await res.json().catch(() => ({}))) as { token?: string; error?: string }
      if (!res.ok || !body.token) throw new ApiError(res.status, body.error ?? res.statusText)
      onSignIn(body.token)
      // the link is spent: it leaves the address bar and the history entry
      navigate('/', { replace: true })
    } catch (err) {
      setError(err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="auth-page">
      <main id="main" class="auth-card">
        <Logo />
        <h1>Accept the invitation</h1>
        {!invitation.startsWith('inv_') ? <p class="error" role="alert">This page needs the whole invitation link. Ask for a new one.</p> : (
          <form onSubmit={submit} noValidate>
            <p class="muted">Choose the password you will sign in with. The link works once.</p>
            <label for="new-password">Password</label>
            <input id="new-password" name="new-password" type="password" autoComplete="new-password" value={password}
              onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)} aria-describedby="accept-error" />
            <label for="new-password-again">Password again</label>
            <input id="new-password-again" name="new-password-again" type="password" autoComplete="new-password" value={again}
              onInput={(e) => setAgain((e.currentTarget as HTMLInputElement).value)} aria-describedby="accept-error" />
            <p id="accept-error" class="error" role="alert">{error}</p>
            <button type="submit" class="button primary" disabled={busy}>{busy ? 'Joining…' : 'Set password and sign in'}</button>
          </form>
        )}
      </main>
      <PrivacyFooter />
    </div>
  )
}
