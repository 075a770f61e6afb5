import { useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError } from '../lib/api.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView } from '../lib/view.ts'
import { Snippet } from '../components/snippet.tsx'
import { InstallationStatus, RemoveSite, TimezoneSetting } from '../components/site-settings.tsx'

interface TokenInfo { id: string; kind: 'pat' | 'shr'; site: string; name: string; created_at: string; expires_at: string | null; has_password: boolean }
interface GoalInfo { id: string; label: string; currency?: string }

const errorText = (err: unknown) => (err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)

/** Shared links through the tokens API (POST/GET/DELETE /api/v1/tokens, scope `shared`). */
function SharedLinks() {
  const view = useView()
  const [rev, setRev] = useState(0)
  const list = useFetch<{ tokens: TokenInfo[] }>(`tokens:${view.site}:${rev}`, (signal) => apiGet(view.cred, '/api/v1/tokens', { site: view.site }, signal))
  const [name, setName] = useState('')
  const [password, setPassword] = useState('')
  const [expires, setExpires] = useState('')
  const [created, setCreated] = useState<string | null>(null)
  const [error, setError] = useState('')

  async function create(e: Event) {
    e.preventDefault()
    setError('')
    try {
      const t = await apiSend<{ token: string; share_path?: string }>(view.cred, 'POST', '/api/v1/tokens', {
        site: view.site, scopes: ['shared'], ...(name ? { name } : {}), ...(password ? { password } : {}), ...(expires ? { expires_at: expires } : {}),
      })
      setCreated(`${location.origin}${t.share_path ?? `/share/${t.token}`}`)
      setName('')
      setPassword('')
      setRev(rev + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }
  async function revoke(t: TokenInfo) {
    if (!confirm(`Revoke the shared link “${t.name}”? Anyone using it loses access at once.`)) return
    try {
      await apiSend(view.cred, 'DELETE', `/api/v1/tokens/${t.id}`)
      setRev(rev + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }
  if (list.error instanceof ApiError && list.error.status === 404) return <p class="empty">Shared links are not available on this server.</p>
  const links = list.data?.tokens.filter((t) => t.kind === 'shr') ?? []
  return (
    <>
      {created && (
        <div class="notice" role="status">
          <p><strong>Shared link created.</strong> Copy it now: it is shown only once. Add <code>?embed=1</code> to put the dashboard in an iframe.</p>
          <div class="snippet"><pre><code data-share-link>{created}</code></pre><button type="button" class="button" onClick={() => navigator.clipboard?.writeText(created)}>Copy</button></div>
        </div>
      )}
      {links.length > 0 ? (
        <table class="list plain">
          <thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Password</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {links.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{t.created_at.slice(0, 10)}</td>
                <td>{t.expires_at ? t.expires_at.slice(0, 10) : 'never'}</td>
                <td>{t.has_password ? 'yes' : 'no'}</td>
                <td class="num"><button type="button" class="button small danger" onClick={() => revoke(t)} aria-label={`Revoke ${t.name}`}>Revoke</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : list.data ? <p class="muted">No shared links yet.</p> : null}
      <form class="form inline-grid" onSubmit={create}>
        <label>Name<input value={name} placeholder="e.g. Agency partner" maxLength={100} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} /></label>
        <label>Password (optional)<input type="password" value={password} minLength={8} autoComplete="new-password" onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)} /></label>
        <label>Expires (optional)<input type="date" value={expires} onInput={(e) => setExpires((e.currentTarget as HTMLInputElement).value)} /></label>
        <button type="submit" class="button primary">Create shared link</button>
      </form>
      <p class="error" role="alert">{error}</p>
    </>
  )
}

/** Goals through the goals API (GET/POST/DELETE /api/v1/goals). */
function Goals() {
  const view = useView()
  const [rev, setRev] = useState(0)
  const list = useFetch<{ goals: GoalInfo[] }>(`goals-admin:${view.site}:${rev}`, (signal) => apiGet(view.cred, '/api/v1/goals', { site: view.site }, signal))
  const [kind, setKind] = useState<'page' | 'event'>('page')
  const [value, setValue] = useState('')
  // an event goal with a currency is a revenue goal: it also sums the revenue its events carry
  const [currency, setCurrency] = useState('')
  const [error, setError] = useState('')
  async function add(e: Event) {
    e.preventDefault()
    setError('')
    try {
      const revenue = kind === 'event' && currency.trim() ? { currency: currency.trim() } : {}
      await apiSend(view.cred, 'POST', '/api/v1/goals', { site: view.site, [kind]: value.trim(), ...revenue })
      setValue('')
      setCurrency('')
      setRev(rev + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }
  async function remove(g: GoalInfo) {
    try {
      await apiSend(view.cred, 'DELETE', `/api/v1/goals/${g.id}`)
      setRev(rev + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }
  if (list.error instanceof ApiError && list.error.status === 404) return <p class="empty">Goals are not available on this server.</p>
  return (
    <>
      {list.data && (list.data.goals.length ? (
        <ul class="goal-list">
          {list.data.goals.map((g) => (
            <li key={g.id}><span>{g.label}{g.currency && <span class="muted"> · revenue in {g.currency}</span>}</span><button type="button" class="button small danger" onClick={() => remove(g)} aria-label={`Delete goal ${g.label}`}>Delete</button></li>
          ))}
        </ul>
      ) : <p class="muted">No goals yet.</p>)}
      <form class="form inline-grid" onSubmit={add}>
        <label>Goal type
          <select value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as 'page' | 'event')}>
            <option value="page">Page visit</option>
            <option value="event">Custom event</option>
          </select>
        </label>
        <label>{kind === 'page' ? 'Path (* matches anything)' : 'Event name'}<input required value={value} placeholder={kind === 'page' ? '/signup/*' : 'Signup'} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} /></label>
        {kind === 'event' && (
          <label>Revenue currency (optional)<input value={currency} placeholder="EUR" maxLength={3} pattern="[A-Za-z]{3}" spellcheck={false} onInput={(e) => setCurrency((e.currentTarget as HTMLInputElement).value)} /></label>
        )}
        <button type="submit" class="button primary">Add goal</button>
      </form>
      <p class="error" role="alert">{error}</p>
    </>
  )
}

export function Settings() {
  const view = useView()
  return (
    <div class="page narrow settings">
      <h1>Settings · {view.site}</h1>
      <section class="card" aria-labelledby="snippet-title">
        <h2 id="snippet-title">Tracking snippet</h2>
        <p>Paste into the <code>&lt;head&gt;</code> of every page. No cookies, nothing personal stored. Time zone: {view.timezone}.</p>
        <Snippet domain={view.site} />
        <InstallationStatus />
      </section>
      <section class="card" id="goals" aria-labelledby="goals-title">
        <h2 id="goals-title">Goals</h2>
        <p class="muted">Count conversions: a visit to a page, or a custom event. Goals also make up funnels.</p>
        <Goals />
      </section>
      <section class="card" aria-labelledby="links-title">
        <h2 id="links-title">Shared links</h2>
        <p class="muted">A read-only dashboard for someone without the admin token. Revoke it any time.</p>
        <SharedLinks />
      </section>
      <section class="card" aria-labelledby="timezone-title">
        <h2 id="timezone-title">Time zone</h2>
        <p class="muted">Days, weeks and months of every report begin at midnight here.</p>
        <TimezoneSetting />
      </section>
      <section class="card" aria-labelledby="remove-title">
        <h2 id="remove-title">Remove this site</h2>
        <RemoveSite />
      </section>
    </div>
  )
}
