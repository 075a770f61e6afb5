import { useState } from 'preact/hooks'
import { apiGet, ApiError } from '../lib/api.ts'
import { formatFull } from '../lib/format.ts'
import { navigate } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { apiParams, useView, viewHref, type DashState } from '../lib/view.ts'
import { ListSkeleton, Withheld } from './breakdown.tsx'
import { useGoals } from './goals.tsx'
import { Panel } from './panel.tsx'

/** GET /api/v1/funnel (the aggregator's funnels): steps are saved goals, in order. */
interface FunnelAnswer {
  steps: { label: string; visitors: number | null; conversion_rate: number | null; dropoff: number | null; dropoff_rate: number | null; withheld?: string }[]
  withheld?: string
}

function FunnelChart({ state, goals }: { state: DashState; goals: string[] }) {
  const view = useView()
  const params = { ...apiParams(view, state), goals: goals.join(',') }
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

/** A funnel of 2–8 saved goals, chosen here and kept in the URL (`funnel=id1,id2`). */
function FunnelBuilder({ state }: { state: DashState }) {
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
      {chosen.length >= 2 ? <FunnelChart state={state} goals={chosen} /> : <p class="empty">Choose two to eight goals, in the order visitors reach them.</p>}
    </>
  )
}

export function FunnelPanel({ state }: { state: DashState }) {
  return <Panel id="funnels" title="Funnels" wide tabs={[{ id: 'funnel', label: 'Funnel', render: () => <FunnelBuilder state={state} /> }]} />
}
