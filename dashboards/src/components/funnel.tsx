import { useState } from 'preact/hooks'
import { apiGet, apiSend, ApiError } from '../lib/api.ts'
import { formatFull } from '../lib/format.ts'
import { navigate, onLinkClick } from '../lib/router.ts'
import { useFetch, type Fetched } from '../lib/use-fetch.ts'
import { apiParams, useView, viewHref, type DashState } from '../lib/view.ts'
import { ListSkeleton, Withheld } from './breakdown.tsx'
import { useGoals } from './goals.tsx'
import { Panel } from './panel.tsx'

/** GET /api/v1/funnel (the aggregator's funnels): steps of saved goals, or a saved funnel. */
interface FunnelAnswer {
  steps: { label: string; visitors: number | null; conversion_rate: number | null; dropoff: number | null; dropoff_rate: number | null; withheld?: string }[]
  withheld?: string
}

/** GET /api/v1/funnels: the site's saved funnels. */
interface SavedFunnel {
  id: string
  name: string
  steps: { label: string }[]
  window_minutes: number | null
}

/** GET /api/v1/goals (admin): a goal as it was made, to save a funnel of goals as its steps. */
type GoalDefinition = { id: string; page?: string; event?: string; prop?: { key: string; value: string } }

/** `query`: `goals=id1,id2,…` or `funnel=<saved funnel id>`. */
function FunnelChart({ state, query }: { state: DashState; query: Record<string, string> }) {
  const view = useView()
  const params = { ...apiParams(view, state), ...query }
  const f = useFetch<FunnelAnswer>(JSON.stringify(params), (signal) => apiGet(view.cred, '/api/v1/funnel', params, signal))
  if (f.error && !f.data) return <p class="error" role="alert">Could not load the funnel: {f.error.message}</p>
  if (!f.data) return <ListSkeleton />
  if (f.data.withheld) return <Withheld reason={f.data.withheld} />
  const first = f.data.steps[0]?.visitors ?? 0
  return (
    <ol class="funnel" aria-label="Funnel steps">
      {f.data.steps.map((s, i) => (
        <li key={i} class="funnel-step">
          <div class="funnel-head">
            <span class="funnel-n" aria-hidden="true">{i + 1}</span>
            <strong>{s.label}</strong>
            <span class="num">{s.withheld ? `withheld: ${s.withheld}` : s.visitors === null ? '–' : `${formatFull(s.visitors)} visitors`}</span>
          </div>
          <div class="funnel-bar" aria-hidden="true"><span style={{ width: `${first && s.visitors ? (s.visitors / first) * 100 : 0}%` }} /></div>
          {!s.withheld && s.visitors !== null && (
            <p class="muted small">
              {s.conversion_rate === null ? '' : `${s.conversion_rate}% of the first step`}
              {i > 0 && s.dropoff !== null ? ` · ${formatFull(s.dropoff)} dropped off (${s.dropoff_rate ?? 0}%)` : ''}
            </p>
          )}
        </li>
      ))}
    </ol>
  )
}

const windowText = (f: SavedFunnel) => (f.window_minutes ? ` · within ${f.window_minutes} min` : '')

/** The site's saved funnels: one click runs one (`saved_funnel=<id>` in the URL). */
function SavedFunnels({ state, saved, onChanged }: { state: DashState; saved: Fetched<{ funnels: SavedFunnel[] }>; onChanged: () => void }) {
  const view = useView()
  const [status, setStatus] = useState('')
  const list = saved.data?.funnels ?? []
  const chosen = list.find((f) => f.id === state.savedFunnel)
  async function remove(f: SavedFunnel) {
    try {
      await apiSend(view.cred, 'DELETE', `/api/v1/funnels/${f.id}`)
      setStatus(`Deleted ${f.name}.`)
      onChanged()
      navigate(viewHref(view, state, { savedFunnel: undefined }), { replace: true })
    } catch (err) {
      setStatus(err instanceof ApiError ? err.message : (err as Error).message)
    }
  }
  if (!list.length && !status) return null
  return (
    <div class="saved-funnels">
      <h3 class="saved-title">Saved funnels</h3>
      <ul class="saved-list" aria-label="Saved funnels">
        {list.map((f) => (
          <li key={f.id}>
            <a href={viewHref(view, state, { savedFunnel: f.id, funnel: undefined })} onClick={onLinkClick} aria-current={f === chosen ? 'true' : undefined} class="saved-funnel">
              <strong>{f.name}</strong>
              <span class="muted small">{f.steps.map((s) => s.label).join(' → ')}{windowText(f)}</span>
            </a>
            {!view.readOnly && <button type="button" class="link-button small" aria-label={`Delete funnel ${f.name}`} onClick={() => remove(f)}>Delete</button>}
          </li>
        ))}
      </ul>
      <p class="small" role="status">{status}</p>
      {chosen && (
        <>
          <FunnelChart state={state} query={{ funnel: chosen.id }} />
          <a class="small" href={viewHref(view, state, { savedFunnel: undefined })} onClick={onLinkClick}>Build a funnel from goals instead</a>
        </>
      )}
    </div>
  )
}

/** Saves the funnel of goals on screen by name, with an optional conversion window (admins and signed-in users). */
function SaveFunnelForm({ goalIds, onSaved }: { goalIds: string[]; onSaved: (id: string) => void }) {
  const view = useView()
  const [name, setName] = useState('')
  const [windowMinutes, setWindowMinutes] = useState('')
  const [status, setStatus] = useState('')
  async function save(e: Event) {
    e.preventDefault()
    try {
      const { goals } = await apiGet<{ goals: GoalDefinition[] }>(view.cred, '/api/v1/goals', { site: view.site })
      const steps = goalIds.map((id) => {
        const g = goals.find((x) => x.id === id)
        if (!g) throw new Error('a goal of this funnel was deleted meanwhile')
        return g.page !== undefined ? { page: g.page } : { event: g.event, ...(g.prop ? { prop: g.prop } : {}) }
      })
      const made = await apiSend<{ id: string }>(view.cred, 'POST', '/api/v1/funnels', {
        site: view.site, name: name.trim(), steps, ...(windowMinutes ? { window_minutes: Number(windowMinutes) } : {}),
      })
      setStatus('')
      onSaved(made.id)
    } catch (err) {
      setStatus(`Could not save the funnel: ${(err as Error).message}`)
    }
  }
  return (
    <form class="inline-form funnel-save" onSubmit={save}>
      <label for="funnel-name">Save as</label>
      <input id="funnel-name" value={name} maxLength={80} required placeholder="Funnel name" onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      <label for="funnel-window">within</label>
      <input id="funnel-window" type="number" min={1} max={1440} step={1} value={windowMinutes} placeholder="any" class="window-input"
        onInput={(e) => setWindowMinutes((e.currentTarget as HTMLInputElement).value)} />
      <span>minutes</span>
      <button type="submit" class="button small">Save funnel</button>
      <span class="small" role="status">{status}</span>
    </form>
  )
}

/** A funnel of 2–8 saved goals, chosen here and kept in the URL (`funnel=id1,id2`). */
function FunnelBuilder({ state, onSaved }: { state: DashState; onSaved: (id: string) => void }) {
  const view = useView()
  const goals = useGoals(state)
  const chosen = (state.funnel ?? '').split(',').filter(Boolean)
  const [draft, setDraft] = useState<string[]>(chosen.length >= 2 ? chosen : ['', ''])
  if (goals.error instanceof ApiError && goals.error.status === 404) return <p class="empty">Funnels are not available on this server.</p>
  if (!goals.data) return <ListSkeleton />
  const list = goals.data.results
  if (list.length < 2) return <p class="empty">A funnel is made of saved goals: add at least two {view.readOnly ? '' : 'in Settings '}to see how visitors move through them.</p>
  const apply = (steps: string[]) => navigate(viewHref(view, state, { funnel: steps.filter(Boolean).join(',') || undefined }), { replace: true })
  return (
    <>
      <form class="funnel-form" onSubmit={(e) => { e.preventDefault(); apply(draft) }}>
        {draft.map((id, i) => (
          <label key={i} class="inline-select">
            <span>Step {i + 1}</span>
            <select value={id} onChange={(e) => setDraft(draft.map((d, j) => (j === i ? (e.currentTarget as HTMLSelectElement).value : d)))}>
              <option value="">Choose a goal…</option>
              {list.map((g) => <option key={g.id} value={g.id}>{g.goal}</option>)}
            </select>
          </label>
        ))}
        {draft.length < 8 && <button type="button" class="button small" onClick={() => setDraft([...draft, ''])}>+ Step</button>}
        <button type="submit" class="button small primary" disabled={draft.filter(Boolean).length < 2}>Show funnel</button>
      </form>
      {chosen.length >= 2 ? (
        <>
          {!view.readOnly && <SaveFunnelForm goalIds={chosen} onSaved={onSaved} />}
          <FunnelChart state={state} query={{ goals: chosen.join(',') }} />
        </>
      ) : <p class="empty">Choose two to eight goals, in the order visitors reach them.</p>}
    </>
  )
}

function Funnels({ state }: { state: DashState }) {
  const view = useView()
  const [version, setVersion] = useState(0)
  const saved = useFetch<{ funnels: SavedFunnel[] }>(`funnels:${view.site}:${version}`, (signal) => apiGet(view.cred, '/api/v1/funnels', { site: view.site }, signal))
  const reload = () => setVersion((v) => v + 1)
  const onSaved = (id: string) => {
    reload()
    navigate(viewHref(view, state, { savedFunnel: id, funnel: undefined }), { replace: true })
  }
  const chosen = saved.data?.funnels.some((f) => f.id === state.savedFunnel)
  return (
    <>
      <SavedFunnels state={state} saved={saved} onChanged={reload} />
      {!chosen && <FunnelBuilder state={state} onSaved={onSaved} />}
    </>
  )
}

export function FunnelPanel({ state }: { state: DashState }) {
  return <Panel id="funnels" title="Funnels" wide tabs={[{ id: 'funnel', label: 'Funnel', render: () => <Funnels state={state} /> }]} />
}
