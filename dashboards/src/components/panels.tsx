import { useState } from 'preact/hooks'
import { apiGet, type BreakdownRow } from '../lib/api.ts'
import { countryName } from '../lib/format.ts'
import { navigate } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { apiParams, useView, viewHref, type DashState } from '../lib/view.ts'
import { Breakdown, type BreakdownSpec } from './breakdown.tsx'
import { useGoals } from './goals.tsx'
import { hostFilter, HostSwitch } from './host-switch.tsx'
import { PageFlow } from './page-flow.tsx'
import { Panel } from './panel.tsx'
import { WorldMap } from './world-map.tsx'

const str = (row: BreakdownRow, key: string) => String(row[key] ?? '')
const V = { key: 'visitors', label: 'Visitors' }
const capitalise = (s: string) => (s.startsWith('(') ? s : s.charAt(0).toUpperCase() + s.slice(1))
/** Visits without a referrer or campaign: what Plausible calls Direct / None. */
const direct = (s: string) => (s === '(none)' ? 'Direct / None' : s)

/** A country code badge (flag emoji are missing on Windows and in many fonts). */
function Code({ code }: { code: string }) {
  return /^[A-Z]{2}$/.test(code) ? <span class="cc" aria-hidden="true">{code}</span> : null
}

function Country({ code }: { code: string }) {
  return <><Code code={code} />{code === '(none)' ? 'Unknown' : countryName(code)}</>
}

const tab = (state: DashState, id: string, label: string, spec: BreakdownSpec) => ({ id, label, render: () => <Breakdown key={id} spec={spec} state={state} /> })

/** Pages, and the hosts visits entered on: subdomains are kept apart, and one click filters by one. */
export function PagesPanel({ state }: { state: DashState }) {
  const view = useView()
  const host = hostFilter(state)?.values[0] ?? view.site
  const pageHref = (p: string) => (p.startsWith('/') ? `https://${host}${p}` : undefined)
  return (
    <Panel id="pages" title="Pages" lead={<HostSwitch state={state} />} tabs={[
      tab(state, 'top', 'Top pages', {
        property: 'page', title: 'Page', metrics: ['visitors', 'pageviews', 'time_on_page', 'scroll_depth'],
        columns: [V, { key: 'pageviews', label: 'Pageviews' }, { key: 'time_on_page', label: 'Time on page' }, { key: 'scroll_depth', label: 'Scroll depth' }],
        href: (r) => pageHref(str(r, 'page')),
      }),
      tab(state, 'entry', 'Entry pages', { property: 'entry_page', title: 'Entry page', metrics: ['visitors', 'visits', 'bounce_rate'], columns: [V, { key: 'visits', label: 'Entrances' }, { key: 'bounce_rate', label: 'Bounce' }], href: (r) => pageHref(str(r, 'entry_page')) }),
      tab(state, 'exit', 'Exit pages', { property: 'exit_page', title: 'Exit page', metrics: ['visitors', 'visits'], columns: [V, { key: 'visits', label: 'Exits' }], href: (r) => pageHref(str(r, 'exit_page')) }),
      tab(state, 'hostnames', 'Hostnames', { property: 'hostname', title: 'Hostname', metrics: ['visitors', 'pageviews'], columns: [V, { key: 'pageviews', label: 'Pageviews' }], href: (r) => (str(r, 'hostname').includes('.') ? `https://${str(r, 'hostname')}/` : undefined) }),
      { id: 'flow', label: 'Flow', render: () => <PageFlow state={state} /> },
    ]} />
  )
}

const UTM = [
  ['utm_source', 'UTM source'], ['utm_medium', 'UTM medium'], ['utm_campaign', 'UTM campaign'], ['utm_content', 'UTM content'], ['utm_term', 'UTM term'],
] as const

function Campaigns({ state }: { state: DashState }) {
  const [utm, setUtm] = useState<string>('utm_campaign')
  const label = UTM.find(([k]) => k === utm)?.[1] ?? utm
  return (
    <>
      <label class="inline-select">
        <span>Tag</span>
        <select value={utm} onChange={(e) => setUtm((e.currentTarget as HTMLSelectElement).value)}>
          {UTM.map(([k, l]) => <option key={k} value={k}>{l}</option>)}
        </select>
      </label>
      <Breakdown key={utm} state={state} spec={{ property: utm, title: label, metrics: ['visitors', 'bounce_rate'], columns: [V, { key: 'bounce_rate', label: 'Bounce' }], empty: 'No campaign-tagged visits in this period' }} />
    </>
  )
}

export function SourcesPanel({ state }: { state: DashState }) {
  const withBounce = { metrics: ['visitors', 'bounce_rate'], columns: [V, { key: 'bounce_rate', label: 'Bounce' }] }
  return (
    <Panel id="sources" title="Acquisition" tabs={[
      tab(state, 'channels', 'Channels', { property: 'channel', title: 'Channel', ...withBounce, label: (r) => direct(capitalise(str(r, 'channel'))) }),
      tab(state, 'sources', 'Sources', { property: 'source', title: 'Source', ...withBounce, label: (r) => direct(str(r, 'source')) }),
      tab(state, 'referrers', 'Referrers', { property: 'referrer', title: 'Referrer', ...withBounce, label: (r) => direct(str(r, 'referrer')), href: (r) => (str(r, 'referrer').includes('.') ? `https://${str(r, 'referrer')}` : undefined) }),
      { id: 'campaigns', label: 'Campaigns', render: () => <Campaigns state={state} /> },
    ]} />
  )
}

export function LocationsPanel({ state }: { state: DashState }) {
  return (
    <Panel id="locations" title="Locations" tabs={[
      { id: 'map', label: 'Map', render: () => <WorldMap state={state} /> },
      tab(state, 'countries', 'Countries', { property: 'country', title: 'Country', metrics: ['visitors'], columns: [V], label: (r) => <Country code={str(r, 'country')} /> }),
      tab(state, 'regions', 'Regions', { property: 'region', title: 'Region', metrics: ['visitors'], columns: [V], label: (r) => <><Code code={str(r, 'country')} />{str(r, 'region') === '(none)' ? 'Unknown' : str(r, 'region')}</> }),
      tab(state, 'cities', 'Cities', { property: 'city', title: 'City', metrics: ['visitors'], columns: [V], label: (r) => <><Code code={str(r, 'country')} />{str(r, 'city') === '(none)' ? 'Unknown' : str(r, 'city')}</> }),
    ]} />
  )
}

export function TechnologyPanel({ state }: { state: DashState }) {
  const pct = { metrics: ['visitors'], columns: [V] }
  return (
    <Panel id="technology" title="Technology" tabs={[
      tab(state, 'browser', 'Browser', { property: 'browser', title: 'Browser', ...pct }),
      tab(state, 'os', 'OS', { property: 'os', title: 'Operating system', ...pct }),
      tab(state, 'device', 'Device', { property: 'device', title: 'Device', ...pct }),
      tab(state, 'screen', 'Screen', { property: 'screen', title: 'Screen size', ...pct }),
    ]} />
  )
}

/**
 * Custom event props: the keys sent in the range (by at least k visitors) to pick from, or
 * one named by hand; the chosen key's values are broken down.
 */
function Properties({ state }: { state: DashState }) {
  const view = useView()
  const [draft, setDraft] = useState(state.prop ?? '')
  const key = state.prop && /^[A-Za-z0-9_.:-]{1,64}$/.test(state.prop) ? state.prop : ''
  const params = apiParams(view, state)
  const keys = useFetch<{ keys: string[] }>(`props:${JSON.stringify(params)}`, (signal) => apiGet(view.cred, '/api/v1/stats/properties', params, signal))
  const pick = (k: string) => navigate(viewHref(view, state, { prop: k }), { replace: true })
  return (
    <>
      {keys.data && keys.data.keys.length > 0 && (
        <div class="tabs prop-keys" role="group" aria-label="Properties sent with events">
          {keys.data.keys.map((k) => (
            <button type="button" key={k} aria-pressed={k === key} onClick={() => pick(k)}>{k}</button>
          ))}
        </div>
      )}
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); navigate(viewHref(view, state, { prop: draft.trim() || undefined }), { replace: true }) }}>
        <label for="prop-key">Property</label>
        <input id="prop-key" value={draft} placeholder="e.g. plan" pattern="[A-Za-z0-9_.:\-]{1,64}" spellcheck={false}
          onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit" class="button small">Show</button>
      </form>
      {key ? (
        <Breakdown key={key} state={state} spec={{ property: `prop:${key}`, title: key, metrics: ['visitors', 'events'], columns: [V, { key: 'events', label: 'Events' }], empty: `No events carry the property “${key}” in this period` }} />
      ) : (
        <p class="empty">Name a custom property sent with events (for example <code>plan</code>) to see its values. Click an event first to see the properties of that event only.</p>
      )}
    </>
  )
}

export function EventsPanel({ state, goalsTab }: { state: DashState; goalsTab?: { id: string; label: string; render: () => preact.ComponentChildren } }) {
  // out of every visitor the filters other than goal and event keep, as the goals panel counts
  // (out of the filtered total, filtering by an event would show it converting 100 %)
  const base = useGoals(state).data?.visitors ?? null
  const cr = { key: 'conversion_rate', label: 'CR', value: (r: BreakdownRow) => (base ? Math.round((Number(r.visitors) / base) * 1000) / 10 : null) }
  return (
    <Panel id="events" title="Goals & events" tabs={[
      ...(goalsTab ? [goalsTab] : []),
      tab(state, 'custom', 'Custom events', { property: 'event', title: 'Event', metrics: ['visitors', 'events'], columns: [V, { key: 'events', label: 'Events' }, cr], empty: 'No custom events in this period' }),
      { id: 'props', label: 'Properties', render: () => <Properties state={state} /> },
    ]} />
  )
}

export function LinksPanel({ state }: { state: DashState }) {
  const spec = { metrics: ['visitors', 'events'], columns: [V, { key: 'events', label: 'Clicks' }] }
  return (
    <Panel id="links" title="Outbound links & downloads" tabs={[
      tab(state, 'outbound', 'Outbound links', { property: 'outbound', title: 'Link', ...spec, href: (r) => (/^https?:\/\//.test(str(r, 'outbound')) ? str(r, 'outbound') : undefined), empty: 'No outbound link clicks in this period' }),
      tab(state, 'downloads', 'File downloads', { property: 'download', title: 'File', ...spec, empty: 'No file downloads in this period' }),
    ]} />
  )
}
