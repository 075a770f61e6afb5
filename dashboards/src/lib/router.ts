import { useEffect, useState } from 'preact/hooks'

/** A tiny history router: the whole view state is the URL (path + query string). */
const listeners = new Set<() => void>()
const notify = () => listeners.forEach((l) => l())
addEventListener('popstate', notify)

export function navigate(href: string, opts: { replace?: boolean } = {}): void {
  // a shared link's token rides in the fragment (no request carries it): the shared dashboard's own links keep it
  if (/^\/share(?:[/?]|$)/.test(href) && !href.includes('#')) href += location.hash
  if (href === location.pathname + location.search + (href.includes('#') ? location.hash : '')) return
  if (opts.replace) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  notify()
}

export interface Loc {
  path: string
  params: URLSearchParams
}

const current = (): Loc => ({ path: location.pathname, params: new URLSearchParams(location.search) })

export function useLocation(): Loc {
  const [loc, setLoc] = useState(current)
  useEffect(() => {
    const update = () => setLoc(current())
    listeners.add(update)
    return () => void listeners.delete(update)
  }, [])
  return loc
}

/** Query strings that keep the filter syntax readable (`filters=country==DE;page==/blog`). */
export function buildQuery(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v!).replace(/%(3D|3B|2F|7C|3A|7E|2C)/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

/** Follows a same-origin link without reloading; modified clicks (new tab) are left to the browser. */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  const a = (e.currentTarget as HTMLAnchorElement)
  if (a.target || a.origin !== location.origin) return
  e.preventDefault()
  navigate(a.pathname + a.search)
}
