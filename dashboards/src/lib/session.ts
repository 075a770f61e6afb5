/**
 * The admin token, or a signed-in user's session token, lives in sessionStorage only (gone when the tab closes; never a cookie,
 * never localStorage). A shared link's password likewise, per link.
 */
import type { Site } from './api.ts'

const TOKEN = 'analytics.token'
const SITES = 'analytics.sites'

/** Dispatched after a site is added: the site list is asked again. */
export const SITES_CHANGED = 'analytics:sites-changed'

function readSites(): Site[] | null {
  try {
    return JSON.parse(sessionStorage.getItem(SITES) ?? 'null') as Site[] | null
  } catch {
    return null
  }
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN),
  signIn: (token: string) => sessionStorage.setItem(TOKEN, token),
  signOut: () => {
    sessionStorage.removeItem(TOKEN)
    sessionStorage.removeItem(SITES)
  },
  sites: readSites,
  setSites: (sites: Site[]) => sessionStorage.setItem(SITES, JSON.stringify(sites)),
  sharePassword: (link: string): string | undefined => sessionStorage.getItem(`analytics.share.${link.slice(0, 20)}`) ?? undefined,
  setSharePassword: (link: string, password: string) => sessionStorage.setItem(`analytics.share.${link.slice(0, 20)}`, password),
}
