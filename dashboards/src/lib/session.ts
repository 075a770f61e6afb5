/**
 * The admin token lives in sessionStorage only (gone when the tab closes; never a cookie,
 * never localStorage). A shared link's password likewise, per link.
 */
const TOKEN = 'analytics.token'

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN),
  signIn: (token: string) => sessionStorage.setItem(TOKEN, token),
  signOut: () => sessionStorage.removeItem(TOKEN),
  sharePassword: (link: string): string | undefined => sessionStorage.getItem(`analytics.share.${link.slice(0, 20)}`) ?? undefined,
  setSharePassword: (link: string, password: string) => sessionStorage.setItem(`analytics.share.${link.slice(0, 20)}`, password),
}
