import { useState } from 'preact/hooks'

/** The tag to paste into a site's pages, with a copy button. */
export function Snippet({ domain }: { domain: string }) {
  const code = `<script defer data-domain="${domain}" src="${location.origin}/t.js"></script>`
  const [copied, setCopied] = useState(false)
  return (
    <div class="snippet">
      <pre><code>{code}</code></pre>
      <button type="button" class="button" onClick={() => navigator.clipboard?.writeText(code).then(() => setCopied(true))} aria-live="polite">
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  )
}
