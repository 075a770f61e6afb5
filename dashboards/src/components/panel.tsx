import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'

export interface Tab {
  id: string
  label: string
  render: () => ComponentChildren
}

const remembered = (panel: string) => {
  try {
    return localStorage.getItem(`analytics.tab.${panel}`)
  } catch {
    return null
  }
}

/**
 * A titled card with tabs (an ARIA tab list: arrow keys, Home, End); the chosen tab is remembered.
 * `lead` goes above every tab's content (it stays put when the tab changes).
 */
export function Panel({ id, title, tabs, actions, lead, wide }: { id: string; title: string; tabs: Tab[]; actions?: ComponentChildren; lead?: ComponentChildren; wide?: boolean }) {
  const [active, setActive] = useState(() => {
    const saved = remembered(id)
    return tabs.some((t) => t.id === saved) ? saved! : tabs[0].id
  })
  const current = tabs.find((t) => t.id === active) ?? tabs[0]
  const choose = (tab: string, focus = false) => {
    setActive(tab)
    try {
      localStorage.setItem(`analytics.tab.${id}`, tab)
    } catch {
      /* private mode */
    }
    if (focus) requestAnimationFrame(() => document.getElementById(`${id}-tab-${tab}`)?.focus())
  }
  const onKey = (e: KeyboardEvent, i: number) => {
    const n = tabs.length
    const next = e.key === 'ArrowRight' ? (i + 1) % n : e.key === 'ArrowLeft' ? (i - 1 + n) % n : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : -1
    if (next < 0) return
    e.preventDefault()
    choose(tabs[next].id, true)
  }
  return (
    <section class={`panel${wide ? ' wide' : ''}`} aria-labelledby={`${id}-title`} data-panel={id}>
      <header class="panel-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {tabs.length > 1 && (
          <div class="tabs" role="tablist" aria-label={`${title} views`}>
            {tabs.map((t, i) => (
              <button
                type="button" role="tab" id={`${id}-tab-${t.id}`} key={t.id} aria-selected={t.id === current.id} aria-controls={`${id}-panel`}
                tabIndex={t.id === current.id ? 0 : -1} onClick={() => choose(t.id)} onKeyDown={(e) => onKey(e, i)}
              >
                {t.label}
              </button>
            ))}
          </div>
        )}
        {actions}
      </header>
      <div role="tabpanel" id={`${id}-panel`} aria-labelledby={`${id}-tab-${current.id}`} class="panel-body">
        {lead}
        {current.render()}
      </div>
    </section>
  )
}
