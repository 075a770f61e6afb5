import { useRef, useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError } from '../lib/api.ts'
import { parseFilters, serializeFilters } from '../lib/filters.ts'
import { onLinkClick } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView, viewHref, type DashState } from '../lib/view.ts'

/** A saved segment as GET /api/v1/segments answers it (the aggregator's segments). */
interface Segment {
  id: string
  name: string
  filters: string
}

const NAME_MAX = 80

/**
 * Saved segments in the filter bar: one click sets the view's filters to a segment's (a link:
 * the URL is the state). Admins and signed-in users also save the current filters as a segment,
 * rename and delete; a shared link only applies them.
 */
export function SegmentMenu({ state }: { state: DashState }) {
  const view = useView()
  const [version, setVersion] = useState(0)
  const [status, setStatus] = useState('')
  const [renaming, setRenaming] = useState<string | null>(null)
  const menu = useRef<HTMLDetailsElement>(null)
  const answer = useFetch<{ segments: Segment[] }>(`segments:${view.site}:${version}`, (signal) => apiGet(view.cred, '/api/v1/segments', { site: view.site }, signal))
  const segments = answer.data?.segments ?? []
  if (view.readOnly && !segments.length) return null

  const current = serializeFilters(state.filters)
  const applied = segments.find((s) => serializeFilters(parseFilters(s.filters)) === current && current !== '')
  const close = () => menu.current?.removeAttribute('open')
  /** Runs a change and says how it went; true when it was made. */
  async function change(work: () => Promise<unknown>, done: string): Promise<boolean> {
    try {
      await work()
      setStatus(done)
      setRenaming(null)
      setVersion((v) => v + 1)
      return true
    } catch (err) {
      setStatus(err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)
      return false
    }
  }

  return (
    <details class="menu segment-menu" ref={menu}>
      <summary class="button">{applied ? <>Segment: <strong>{applied.name}</strong></> : 'Segments'}</summary>
      <div class="menu-body">
        {answer.error && !answer.data ? <p class="error" role="alert">Could not load segments: {answer.error.message}</p> : (
          segments.length === 0 ? <p class="muted small">No saved segments yet.{view.readOnly ? '' : ' Filter the view, then save its filters here.'}</p> : (
            <ul aria-label="Saved segments">
              {segments.map((s) => (
                <li key={s.id} class="segment-row">
                  {renaming === s.id ? (
                    <RenameForm segment={s} onCancel={() => setRenaming(null)}
                      onSave={(name) => change(() => apiSend(view.cred, 'PATCH', `/api/v1/segments/${s.id}`, { name }), `Renamed to ${name}.`)} />
                  ) : (
                    <>
                      <a class="menu-item" href={viewHref(view, state, { filters: parseFilters(s.filters) })} aria-current={s === applied ? 'true' : undefined}
                        onClick={(e) => { onLinkClick(e); close() }}>
                        <span class="segment-name">{s.name}</span>
                        <span class="segment-filters muted small">{s.filters}</span>
                      </a>
                      {!view.readOnly && (
                        <span class="segment-actions">
                          <button type="button" class="link-button small" aria-label={`Rename segment ${s.name}`} onClick={() => setRenaming(s.id)}>Rename</button>
                          <button type="button" class="link-button small" aria-label={`Delete segment ${s.name}`}
                            onClick={() => change(() => apiSend(view.cred, 'DELETE', `/api/v1/segments/${s.id}`), `Deleted ${s.name}.`)}>Delete</button>
                        </span>
                      )}
                    </>
                  )}
                </li>
              ))}
            </ul>
          )
        )}
        {!view.readOnly && state.filters.length > 0 && !applied && (
          <SaveForm onSave={(name) => change(() => apiSend(view.cred, 'POST', '/api/v1/segments', { site: view.site, name, filters: current }), `Saved ${name}.`)} />
        )}
        <p class="small" role="status">{status}</p>
      </div>
    </details>
  )
}

function SaveForm({ onSave }: { onSave: (name: string) => Promise<boolean> }) {
  const [name, setName] = useState('')
  return (
    <form class="segment-form" onSubmit={(e) => { e.preventDefault(); if (name.trim()) void onSave(name.trim()).then((saved) => saved && setName('')) }}>
      <label for="segment-name" class="small">Save these filters as a segment</label>
      <div class="inline-form">
        <input id="segment-name" value={name} maxLength={NAME_MAX} required placeholder="Name" onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit" class="button small primary">Save segment</button>
      </div>
    </form>
  )
}

function RenameForm({ segment, onSave, onCancel }: { segment: Segment; onSave: (name: string) => Promise<boolean>; onCancel: () => void }) {
  const [name, setName] = useState(segment.name)
  return (
    <form class="inline-form" onSubmit={(e) => { e.preventDefault(); if (name.trim()) void onSave(name.trim()) }}>
      <label class="visually-hidden" for={`rename-${segment.id}`}>New name for {segment.name}</label>
      <input id={`rename-${segment.id}`} value={name} maxLength={NAME_MAX} required onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      <button type="submit" class="button small primary">Save</button>
      <button type="button" class="link-button small" onClick={onCancel}>Cancel</button>
    </form>
  )
}
