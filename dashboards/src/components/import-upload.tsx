import { useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError, query } from '../lib/api.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView } from '../lib/view.ts'

interface ImportInfo { id: string; source: string; from: string; to: string; files: string[]; state: string; created_at: string }

const errorText = (err: unknown) => (err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)

/**
 * "Import from Plausible": the zip of Plausible's CSV export (or its CSV files) sent as
 * multipart/form-data to POST /api/v1/imports; the site's imports listed, each deletable.
 * A malformed file is refused whole, with the file and line named.
 */
export function ImportUpload() {
  const view = useView()
  const [version, setVersion] = useState(0)
  const list = useFetch<{ imports: ImportInfo[] }>(`imports:${view.site}:${version}`, (signal) => apiGet(view.cred, '/api/v1/imports', { site: view.site }, signal))
  const [files, setFiles] = useState<File[]>([])
  const [busy, setBusy] = useState(false)
  const [status, setStatus] = useState('')
  const [error, setError] = useState('')

  async function upload(e: Event) {
    e.preventDefault()
    if (files.length === 0) return
    setBusy(true)
    setStatus('')
    setError('')
    try {
      const form = new FormData()
      for (const f of files) form.append('file', f, f.name)
      const res = await fetch(`/api/v1/imports${query({ site: view.site })}`, { method: 'POST', headers: { authorization: `Bearer ${view.cred.token}` }, body: form })
      const body = (await res.json().catch(() => ({}))) as { error?: string; import?: ImportInfo; replaced?: boolean }
      if (!res.ok) throw new ApiError(res.status, body.error ?? res.statusText)
      setStatus(`${body.replaced ? 'Imported again (replacing the earlier copy)' : 'Imported'}: ${body.import!.from} to ${body.import!.to}. It shows on the dashboard for periods touching those days.`)
      setVersion((v) => v + 1)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  async function remove(id: string) {
    setError('')
    try {
      await apiSend(view.cred, 'DELETE', `/api/v1/imports/${id}${query({ site: view.site })}`)
      setVersion((v) => v + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }

  return (
    <>
      <form class="form inline-grid" onSubmit={upload}>
        <label>Plausible CSV export (the .zip, or its .csv files)
          <input id="import-file" type="file" accept=".zip,.csv" multiple onChange={(e) => setFiles([...((e.currentTarget as HTMLInputElement).files ?? [])])} />
        </label>
        <button type="submit" class="button primary" disabled={busy || files.length === 0}>{busy ? 'Importing…' : 'Import from Plausible'}</button>
        <p class="muted small" role="status" id="import-status">{status}</p>
        <p class="error" role="alert" id="import-error">{error}</p>
      </form>
      {list.data && list.data.imports.length > 0 && (
        <table class="list" id="imports">
          <tbody>
            {list.data.imports.map((i) => (
              <tr key={i.id} data-import={i.id}>
                <td>{i.source === 'plausible' ? 'Plausible' : i.source}, {i.from} to {i.to} ({i.state})</td>
                <td class="num"><button type="button" class="button small" onClick={() => remove(i.id)} aria-label={`Delete the import of ${i.from} to ${i.to}`}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}
