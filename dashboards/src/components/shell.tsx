import type { ComponentChildren } from 'preact'
import type { Site } from '../lib/api.ts'
import { navigate, onLinkClick } from '../lib/router.ts'
import { minVisitorsOf, usePolicy } from '../lib/policy.ts'
import { RealtimePill } from './realtime-pill.tsx'

export function Logo({ href = '/' }: { href?: string }) {
  return (
    <a class="logo" href={href} onClick={onLinkClick} aria-label="Analytics home">
      <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true"><rect width="32" height="32" rx="8" fill="currentColor" /><path d="M8 22l5-6 4 3 7-9" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round" /></svg>
      <span>Analytics</span>
    </a>
  )
}

/** A site picker that keeps the current range and filters when switching sites. */
function SiteSwitcher({ sites, site }: { sites: Site[]; site?: string }) {
  return (
    <label class="site-switcher">
      <span class="visually-hidden">Site</span>
      <select
        value={site ?? ''}
        onChange={(e) => {
          const value = (e.currentTarget as HTMLSelectElement).value
          navigate(value === '+new' ? '/sites/new' : value ? `/sites/${encodeURIComponent(value)}${location.search}` : '/')
        }}
      >
        {!site && <option value="">All sites</option>}
        {sites.map((s) => <option value={s.domain} key={s.domain}>{s.domain}</option>)}
        <option value="+new">+ Add a site…</option>
      </select>
    </label>
  )
}

export function Shell({ sites, site, page, onSignOut, manage = true, children }: { sites: Site[]; site?: string; page?: string; onSignOut: () => void; manage?: boolean; children: ComponentChildren }) {
  const base = site ? `/sites/${encodeURIComponent(site)}` : ''
  const keep = page === 'dashboard' || page === 'realtime' ? location.search : ''
  return (
    <div class="shell">
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar">
        <div class="topbar-inner">
          <Logo />
          <SiteSwitcher sites={sites} site={site} />
          {site && <RealtimePill href={`${base}/realtime`} />}
          <nav class="topnav" aria-label="Site pages">
            {site && (
              <>
                <a href={base + keep} onClick={onLinkClick} aria-current={page === 'dashboard' ? 'page' : undefined}>Dashboard</a>
                <a href={`${base}/realtime`} onClick={onLinkClick} aria-current={page === 'realtime' ? 'page' : undefined}>Realtime</a>
                {manage && <a href={`${base}/settings`} onClick={onLinkClick} aria-current={page === 'settings' ? 'page' : undefined}>Settings</a>}
              </>
            )}
            <button type="button" class="link-button" onClick={onSignOut}>Sign out</button>
          </nav>
        </div>
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
      <PrivacyFooter site={site} />
    </div>
  )
}

/** What the policy promises, in one line, with the disclosure page one click away. */
export function PrivacyFooter({ site, shared = false }: { site?: string; shared?: boolean }) {
  const k = minVisitorsOf(usePolicy(site ?? ''), shared)
  return (
    <footer class="footer">
      <p>
        Privacy by construction: no cookies, no IP addresses stored.{' '}
        {k !== undefined && site ? <>Every number stands for at least {k} visitors; smaller groups are combined into <em>(other)</em> or shown as withheld, never as zero. </> : null}
        <a href={`/privacy${site ? `?site=${encodeURIComponent(site)}` : ''}`}>How visitors are counted</a>
      </p>
    </footer>
  )
}
