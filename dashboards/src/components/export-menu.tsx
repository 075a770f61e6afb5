import { useState } from 'preact/hooks'
import { apiDownload } from '../lib/api.ts'
import { useView } from '../lib/view.ts'

/**
 * Downloads through GET /api/v1/export (the aggregator's exports, with the policy's export k
 * and noise): the current view (its filters) or the whole range. Admin only: a shared link
 * grants statistics, not exports.
 */
export function ExportMenu({ params }: { params: Record<string, string> }) {
  const view = useView()
  const [status, setStatus] = useState('')
  const { filters, ...whole } = params
  const items: { label: string; query: Record<string, string> }[] = [
    { label: 'Time series, CSV', query: { ...params, format: 'csv' } },
    { label: 'Time series, Parquet', query: { ...params, format: 'parquet' } },
    { label: 'Every breakdown, ZIP of CSVs', query: { ...params, format: 'zip' } },
    ...(filters ? [{ label: 'Whole range without filters, ZIP', query: { ...whole, format: 'zip' } }] : []),
  ]
  async function download(query: Record<string, string>, label: string) {
    setStatus(`Preparing ${label}…`)
    try {
      await apiDownload(view.cred, '/api/v1/export', query, `${view.site}.${query.format}`)
      setStatus(`Downloaded ${label}.`)
    } catch (err) {
      setStatus(`Export failed: ${(err as Error).message}`)
    }
  }
  return (
    <details class="menu export-menu">
      <summary class="button">Export</summary>
      <div class="menu-body">
        <p class="muted small">{filters ? 'This view, with its filters:' : 'The whole range:'}</p>
        <ul>
          {items.map((i) => (
            <li key={i.label}><button type="button" class="menu-item" onClick={() => download(i.query, i.label)}>{i.label}</button></li>
          ))}
        </ul>
        <p class="muted small">Exports follow the policy’s export threshold: small groups are folded into (other).</p>
        <p class="small" role="status">{status}</p>
      </div>
    </details>
  )
}
