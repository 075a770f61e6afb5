import { useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError, query, type Site } from '../lib/api.ts'
import { navigate } from '../lib/router.ts'
import { SITES_CHANGED } from '../lib/session.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView } from '../lib/view.ts'

const errorText = (err: unknown) => (err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)
const sitePath = (domain: string) => `/api/v1/sites/${encodeURIComponent(domain)}`

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
