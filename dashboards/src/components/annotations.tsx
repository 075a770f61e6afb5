import { useEffect, useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError } from '../lib/api.ts'
import { formatDay, periodParams, todayIn } from '../lib/range.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView, type DashState } from '../lib/view.ts'

/** A dated note on the chart, as GET /api/v1/annotations answers it. */
export interface Annotation {
  id: string
  date: string
  note: string
}

const NOTE_MAX = 280
/** One empty list, so that the chart does not redraw for a new one on every render. */
const NONE: Annotation[] = []

export interface Annotations {
  list: Annotation[]
  reload: () => void
}

/** The site's annotations on the days of the view's range. */
export function useAnnotations(state: DashState): Annotations {
  const view = useView()
  const [version, setVersion] = useState(0)
  const params = { site: view.site, ...periodParams(state.range, view.timezone) }
  const answer = useFetch<{ annotations: Annotation[] }>(`annotations:${JSON.stringify(params)}:${version}`, (signal) => apiGet(view.cred, '/api/v1/annotations', params, signal))
  return { list: answer.data?.annotations ?? NONE, reload: () => setVersion((v) => v + 1) }
}

/**
 * The notes of the range under the chart, and for admins and signed-in users a small form to add
 * one (a click on the chart picks its day) and a button to delete one. Shared links read them only.
 */
export function AnnotationNotes({ notes, picked }: { notes: Annotations; picked?: string }) {
  const view = useView()
  const [date, setDate] = useState(picked ?? todayIn(view.timezone))
  const [note, setNote] = useState('')
  const [status, setStatus] = useState('')
  useEffect(() => {
    if (picked) setDate(picked)
  }, [picked])

  async function run(work: () => Promise<unknown>, done: string): Promise<boolean> {
    try {
      await work()
      setStatus(done)
      notes.reload()
      return true
    } catch (err) {
      setStatus(err instanceof ApiError ? err.message : `Could not reach the server: ${(err as Error).message}`)
      return false
    }
  }
  const add = async (e: Event) => {
    e.preventDefault()
    if (await run(() => apiSend(view.cred, 'POST', '/api/v1/annotations', { site: view.site, date, note: note.trim() }), 'Note added.')) setNote('')
  }

  return (
    <div class="annotations">
      {notes.list.length > 0 && (
        <ul class="annotation-list" aria-label="Notes on this period">
          {notes.list.map((a) => (
            <li key={a.id}>
              <span class="annotation-dot" aria-hidden="true" />
              <time dateTime={a.date}>{formatDay(a.date)}</time> <span class="annotation-text">{a.note}</span>
              {!view.readOnly && (
                <button type="button" class="link-button small" aria-label={`Delete note of ${formatDay(a.date)}: ${a.note}`}
                  onClick={() => run(() => apiSend(view.cred, 'DELETE', `/api/v1/annotations/${a.id}`), 'Note deleted.')}>×</button>
              )}
            </li>
          ))}
        </ul>
      )}
      {!view.readOnly && (
        <form class="inline-form annotation-form" onSubmit={add}>
          <label for="annotation-date">Add a note on</label>
          <input id="annotation-date" type="date" value={date} required onInput={(e) => setDate((e.currentTarget as HTMLInputElement).value)} />
          <label for="annotation-note" class="visually-hidden">Note</label>
          <input id="annotation-note" class="annotation-input" value={note} maxLength={NOTE_MAX} required placeholder="Launch, campaign, outage… (a click on the chart picks the day)"
            onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" class="button small">Add note</button>
          <span class="small" role="status">{status}</span>
        </form>
      )}
    </div>
  )
}
