import { useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError, query, type Site } from '../lib/api.ts'
import { navigate } from '../lib/router.ts'
import { SITES_CHANGED } from '../lib/session.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView } from '../lib/view.ts'

const errorText = (err: unknown) => (err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)
const sitePath = (domain: string) => `/api/v1/sites/${encodeURIComponent(domain)}`

/** How long ago, in words, from whole minutes. */
const ago = (s: number) => (s < 60 ? 'less than a minute ago' : s < 7200 ? `${Math.round(s / 60)} minutes ago` : s < 172_800 ? `${Math.round(s / 3600)} hours ago` : `${Math.round(s / 86_400)} days ago`)

/**
 * Whether the tag works: beacons arriving lately, and how long ago the last one was; never a
 * count, so it helps before k visitors exist (GET /api/v1/sites/:domain/installation, refreshed every 30 s).
 */
export function InstallationStatus() {
  const view = useView()
  const state = useFetch<{ receiving: boolean; last_seen_ago_s: number | null }>(`installation:${view.site}`, (signal) => apiGet(view.cred, `${sitePath(view.site)}/installation`, {}, signal), 30_000)
  const s = state.data
  return (
    <p class="muted" role="status" id="installation-status">
      {!s ? (state.error ? errorText(state.error) : 'Checking whether beacons arrive…')
        : s.receiving ? `Receiving beacons: yes, the last one ${ago(s.last_seen_ago_s ?? 0)}.`
        : s.last_seen_ago_s === null ? 'Receiving beacons: not yet. Load a page with the tag, then look again (a browser sending Do Not Track or GPC may be dropped by the policy).'
        : `Receiving beacons: not lately; the last one ${ago(s.last_seen_ago_s)}.`}
    </p>
  )
}

/** The site's reporting time zone, chosen from the zones the server's store knows (PATCH /api/v1/sites/:domain). */
export function TimezoneSetting() {
  const view = useView()
  const zones = useFetch<{ timezones: string[] }>('timezones', (signal) => apiGet(view.cred, '/api/v1/sites/timezones', {}, signal))
  const [timezone, setTimezone] = useState(view.timezone)
  const [busy, setBusy] = useState(false)
  const [status, setStatus] = useState('')
  const [error, setError] = useState('')

  async function save(e: Event) {
    e.preventDefault()
    setBusy(true)
    setError('')
    setStatus('')
    try {
      const site = await apiSend<Site>(view.cred, 'PATCH', sitePath(view.site), { timezone })
      setStatus(`Reports now use ${site.timezone}. Past days are recounted in it within a minute.`)
      dispatchEvent(new Event(SITES_CHANGED))
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  const list = zones.data?.timezones ?? [view.timezone]
  return (
    <form class="form inline-grid" onSubmit={save}>
      <label>Reporting time zone
        <select id="site-timezone" value={timezone} onChange={(e) => setTimezone((e.currentTarget as HTMLSelectElement).value)}>
          {list.map((z) => <option key={z} value={z}>{z}</option>)}
        </select>
      </label>
      <button type="submit" class="button primary" disabled={busy || timezone === view.timezone}>{busy ? 'Saving…' : 'Save time zone'}</button>
      <p class="muted small" role="status">{status}</p>
      <p class="error" role="alert">{error}</p>
    </form>
  )
}

/** Removing the site with all its data, once its domain is typed again (DELETE /api/v1/sites/:domain?confirm=). */
export function RemoveSite() {
  const view = useView()
  const [typed, setTyped] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const confirmed = typed.trim().toLowerCase() === view.site

  async function remove(e: Event) {
    e.preventDefault()
    if (!confirmed) return
    setBusy(true)
    setError('')
    try {
      await apiSend(view.cred, 'DELETE', sitePath(view.site) + query({ confirm: view.site }))
      dispatchEvent(new Event(SITES_CHANGED))
      navigate('/')
    } catch (err) {
      setError(errorText(err))
      setBusy(false)
    }
  }
  return (
    <form class="form" onSubmit={remove}>
      <p>This deletes <strong>{view.site}</strong> and everything stored about it: events, visits, statistics, goals, tokens and shared links. Its beacons are ignored from then on. It cannot be undone.</p>
      <label for="remove-confirm">Type <strong>{view.site}</strong> to confirm</label>
      <input id="remove-confirm" value={typed} autoComplete="off" spellcheck={false} onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)} />
      <button type="submit" class="button danger" disabled={!confirmed || busy}>{busy ? 'Removing…' : 'Remove this site and its data'}</button>
      <p class="error" role="alert">{error}</p>
    </form>
  )
}
