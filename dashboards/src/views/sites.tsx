import { useMemo, useState } from 'preact/hooks'
import { apiSend, ApiError, type Credentials, type Site } from '../lib/api.ts'
import { onLinkClick } from '../lib/router.ts'
import { SITES_CHANGED } from '../lib/session.ts'
import { Snippet } from '../components/snippet.tsx'

/** The sites the signed-in user has a role on; `canAdd` for owners of every site (who alone add sites). */
export function SiteList({ sites, loading, error, canAdd = true }: { sites: Site[]; loading: boolean; error?: Error; canAdd?: boolean }) {
  return (
    <div class="page narrow">
      <div class="page-head">
        <h1>Your sites</h1>
        {canAdd && <a class="button primary" href="/sites/new" onClick={onLinkClick}>+ Add a site</a>}
      </div>
      {error && <p class="error" role="alert">{error.message}</p>}
      {loading && !sites.length ? <p aria-busy="true" class="muted">Loading…</p> : !sites.length ? (
        <div class="empty-state">
          <h2>No sites yet</h2>
          <p>Add your first site to get the one-line snippet for its pages.</p>
        </div>
      ) : (
        <ul class="site-grid">
          {sites.map((s) => (
            <li key={s.domain}>
              <a class="site-card" href={`/sites/${encodeURIComponent(s.domain)}`} onClick={onLinkClick}>
                <span class="site-favicon" aria-hidden="true">{s.domain[0]?.toUpperCase()}</span>
                <span><strong>{s.domain}</strong><span class="muted small">Time zone {s.timezone}</span></span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

function timezones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] }
  return ['UTC', ...(intl.supportedValuesOf?.('timeZone') ?? [])]
}

export function AddSite({ cred }: { cred: Credentials }) {
  const zones = useMemo(timezones, [])
  const [domain, setDomain] = useState('')
  const [timezone, setTimezone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC')
  const [error, setError] = useState('')
  const [added, setAdded] = useState<Site | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit(e: Event) {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      setAdded(await apiSend<Site>(cred, 'POST', '/api/v1/sites', { domain: domain.trim(), timezone }))
    } catch (err) {
      setError(err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)
    } finally {
      setBusy(false)
    }
  }

  if (added) {
    return (
      <div class="page narrow">
        <h1>{added.domain} is ready</h1>
        <p>Paste this snippet into the <code>&lt;head&gt;</code> of every page of the site. It sets no cookies and stores nothing personal.</p>
        <Snippet domain={added.domain} />
        <p><a class="button primary" href={`/sites/${encodeURIComponent(added.domain)}`} onClick={(e) => { dispatchEvent(new Event(SITES_CHANGED)); onLinkClick(e) }}>Go to the dashboard</a></p>
      </div>
    )
  }
  return (
    <div class="page narrow">
      <h1>Add a site</h1>
      <form class="form card" onSubmit={submit}>
        <label for="domain">Domain</label>
        <input id="domain" required placeholder="example.com" value={domain} autoComplete="off" spellcheck={false}
          onInput={(e) => setDomain((e.currentTarget as HTMLInputElement).value)} aria-describedby="domain-help" />
        <p id="domain-help" class="hint">Without https:// or www., e.g. <code>example.com</code>.</p>
        <label for="timezone">Reporting time zone</label>
        <select id="timezone" value={timezone} onChange={(e) => setTimezone((e.currentTarget as HTMLSelectElement).value)}>
          {zones.map((z) => <option key={z} value={z}>{z}</option>)}
        </select>
        <p id="site-error" class="error" role="alert">{error}</p>
        <button type="submit" class="button primary" disabled={busy}>{busy ? 'Adding…' : 'Add site'}</button>
      </form>
    </div>
  )
}
