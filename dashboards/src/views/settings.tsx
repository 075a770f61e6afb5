import { useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError } from '../lib/api.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView } from '../lib/view.ts'
import { Snippet } from '../components/snippet.tsx'
import { InstallationStatus, RemoveSite, TimezoneSetting } from '../components/site-settings.tsx'
import { ImportUpload } from '../components/import-upload.tsx'
import { atLeast, grantable, roleOn, useRoles, type Membership, type Role } from '../lib/roles.ts'

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

interface UserInfo { name: string; roles: Membership[] }

/** The site's people and invitations (POST /api/v1/invitations, PUT and DELETE /api/v1/users/:name/roles): for its admins. */
function People({ mine }: { mine: Role }) {
  const view = useView()
  const roles = useRoles(view.cred) ?? []
  const [rev, setRev] = useState(0)
  const list = useFetch<{ users: UserInfo[] }>(`users:${view.site}:${rev}`, (signal) => apiGet(view.cred, '/api/v1/users', { site: view.site }, signal))
  const [name, setName] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const [everySite, setEverySite] = useState(false)
  const [link, setLink] = useState<string | null>(null)
  const [error, setError] = useState('')
  const onEverySite = atLeast(roleOn(roles, '*'), 'admin')

  async function invite(e: Event) {
    e.preventDefault()
    setError('')
    try {
      const made = await apiSend<{ accept_path: string }>(view.cred, 'POST', '/api/v1/invitations', { name: name.trim(), role, site: everySite ? '*' : view.site })
      setLink(`${location.origin}${made.accept_path}`)
      setName('')
      setRev(rev + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }
  async function change(user: string, site: string, to: Role) {
    setError('')
    try {
      await apiSend(view.cred, 'PUT', `/api/v1/users/${encodeURIComponent(user)}/roles`, { site, role: to })
      setRev(rev + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }
  async function remove(user: string, site: string) {
    if (!confirm(`Take ${user}'s role on ${site === '*' ? 'every site' : site} away?`)) return
    try {
      await apiSend(view.cred, 'DELETE', `/api/v1/users/${encodeURIComponent(user)}/roles?site=${encodeURIComponent(site)}`)
      setRev(rev + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }
  // a role the caller may change: not above their own, and on every site only with a role on every site
  const people = (list.data?.users ?? []).flatMap((u) => u.roles.filter((m) => m.site === view.site || m.site === '*').map((m) => ({ name: u.name, ...m, managed: atLeast(mine, m.role) && (m.site !== '*' || onEverySite) })))
  return (
    <>
      {people.length > 0 && (
        <table class="list plain">
          <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {people.map((p) => (
              <tr key={`${p.name}:${p.site}`}>
                <td>{p.name}</td>
                <td>
                  {p.managed ? (
                    <select aria-label={`Role of ${p.name}`} value={p.role} onChange={(e) => change(p.name, p.site, (e.currentTarget as HTMLSelectElement).value as Role)}>
                      {grantable(mine).map((r) => <option key={r} value={r}>{r}</option>)}
                    </select>
                  ) : p.role}
                  {p.site === '*' ? ' (every site)' : ''}
                </td>
                <td>{p.managed && <button type="button" class="link-button small" onClick={() => remove(p.name, p.site)}>Remove</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {link && (
        <div class="notice" role="status">
          <p><strong>Invitation created.</strong> Send this link to the person: it works once, for 7 days, and is shown only now.</p>
          <div class="snippet"><pre><code data-invitation-link>{link}</code></pre><button type="button" class="button" onClick={() => navigator.clipboard?.writeText(link)}>Copy</button></div>
        </div>
      )}
      <form class="form inline-form" onSubmit={invite} aria-label="Invite someone">
        <label for="invite-name">User name</label>
        <input id="invite-name" required value={name} autoComplete="off" spellcheck={false} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        <label for="invite-role">Role</label>
        <select id="invite-role" value={role} onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as Role)}>
          <option value="viewer">Viewer: reads the dashboards</option>
          <option value="admin">Admin: also manages this site</option>
          {mine === 'owner' && <option value="owner">Owner: everything</option>}
        </select>
        {onEverySite && (
          <label class="checkbox"><input type="checkbox" checked={everySite} onChange={(e) => setEverySite((e.currentTarget as HTMLInputElement).checked)} /> On every site</label>
        )}
        <button type="submit" class="button primary">Invite</button>
      </form>
      <p class="error" role="alert">{error}</p>
    </>
  )
}

export function Settings() {
  const view = useView()
  const mine = roleOn(useRoles(view.cred) ?? [], view.site)
  // a viewer reads the dashboards only: no control here would be let through
  if (view.readOnly) {
    return (
      <div class="page narrow settings">
        <h1>Settings · {view.site}</h1>
        <p class="muted">You can view this site's statistics. Its admins manage its settings.</p>
      </div>
    )
  }
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
      <section class="card" aria-labelledby="import-title">
        <h2 id="import-title">Import from Plausible</h2>
        <p class="muted">Bring past statistics along: shown beside the collected ones, never added to them.</p>
        <ImportUpload />
      </section>
      {mine && atLeast(mine, 'admin') && (
        <section class="card" aria-labelledby="people-title">
          <h2 id="people-title">People</h2>
          <p class="muted">Who may see or manage this site. Invite someone by the user name they will sign in with.</p>
          <People mine={mine} />
        </section>
      )}
      {mine === 'owner' && (
        <section class="card" aria-labelledby="remove-title">
          <h2 id="remove-title">Remove this site</h2>
          <RemoveSite />
        </section>
      )}
    </div>
  )
}
