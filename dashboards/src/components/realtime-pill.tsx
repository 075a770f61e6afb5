import { apiGet, type RealtimeAnswer } from '../lib/api.ts'
import { onLinkClick } from '../lib/router.ts'
import { useFetch } from '../lib/use-fetch.ts'
import { useView } from '../lib/view.ts'

/** "● 12 current visitors", refreshed every 30 s, linking to the realtime view. */
export function RealtimePill({ href }: { href: string }) {
  const view = useView()
  const rt = useFetch<RealtimeAnswer>(`rt-pill:${view.site}`, (signal) => apiGet(view.cred, '/api/v1/stats/realtime', { site: view.site }, signal), 30_000)
  const count = rt.data === undefined ? '…' : rt.data.visitors === null ? `< ${kOf(rt.data.withheld)}` : String(rt.data.visitors)
  const words = rt.data?.visitors === 1 ? 'current visitor' : 'current visitors'
  return (
    <a class="realtime-pill" href={href} onClick={onLinkClick} title="Visitors in the last 5 minutes">
      <span class="pulse" aria-hidden="true" />
      <span>{count} <span class="pill-words">{words}</span></span>
    </a>
  )
}

/** The k in "fewer than k visitors". */
export const kOf = (withheld?: string) => /(\d+)/.exec(withheld ?? '')?.[1] ?? 'k'
