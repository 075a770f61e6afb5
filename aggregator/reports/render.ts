import { escapeHtml as esc } from '../../policy/privacy-page.ts'
import type { MetricValue } from '../stats/service.ts'
import type { Ranked, ReportContent } from './content.ts'

/** A report as an e-mail: its subject, a plain-text part and an HTML part saying the same. */
export interface ReportMessage {
  subject: string
  text: string
  html: string
}

const count = (n: number | null) => (n === null ? 'withheld' : n.toLocaleString('en-US'))
const change = (c: number | null) => (c === null ? '' : `${c > 0 ? '+' : c < 0 ? '−' : '±'}${Math.abs(c).toLocaleString('en-US')}%`)

const TOTALS: [keyof ReportContent['totals'], string, (v: number | null) => string][] = [
  ['visitors', 'Visitors', count],
  ['pageviews', 'Pageviews', count],
  ['bounce_rate', 'Bounce rate', (v) => (v === null ? 'withheld' : `${v}%`)],
]

const TITLES = { weekly: 'Weekly report', monthly: 'Monthly report', spike: 'Traffic spike' } as const
const COMPARED = { weekly: 'the week before', monthly: 'the month before', spike: 'the hour before' } as const

function subjectOf(c: ReportContent, threshold: number | null): string {
  if (c.kind === 'spike') return `Traffic spike on ${c.site}: ${count(c.totals.visitors.value)} visitors in the last hour (above ${threshold ?? 0})`
  return `${TITLES[c.kind]} for ${c.site}: ${c.label}`
}

const lists = (c: ReportContent): [string, Ranked[]][] => [
  ['Top pages', c.pages],
  ['Top sources', c.sources],
]

function textOf(c: ReportContent, threshold: number | null): string {
  const lines = [`${TITLES[c.kind]} for ${c.site}`, `${c.label}, compared with ${COMPARED[c.kind]}`, '']
  if (c.kind === 'spike') lines.push(`More than ${threshold ?? 0} visitors in the last hour, the threshold set for this alert.`, '')
  for (const [key, label, format] of TOTALS) {
    const v: MetricValue = c.totals[key]
    lines.push(`${label.padEnd(13)}${format(v.value).padStart(10)}   ${change(v.change)}`.trimEnd())
  }
  for (const [title, rows] of lists(c)) {
    lines.push('', title)
    if (rows.length === 0) lines.push('  none to show')
    for (const r of rows) lines.push(`  ${count(r.visitors).padStart(8)}  ${r.name}`)
  }
  if (c.goals.length) {
    lines.push('', 'Goals')
    for (const g of c.goals) lines.push(`  ${count(g.visitors).padStart(8)}  ${g.goal}${g.conversion_rate === null ? '' : ` (${g.conversion_rate}% converted)`}`)
  }
  lines.push('', ...footer(c))
  return lines.join('\n') + '\n'
}

function footer(c: ReportContent): string[] {
  return [
    ...(c.withheld ? [`Withheld: ${c.withheld}.`] : []),
    `These numbers follow the rules for shared links: a number drawn from too few visitors is withheld${c.noisy ? ', and counts carry a little noise' : ''}.`,
  ]
}

const cell = 'padding:4px 12px 4px 0;border-bottom:1px solid #e5e7eb'
const num = `${cell};text-align:right;font-variant-numeric:tabular-nums`

function htmlOf(c: ReportContent, threshold: number | null): string {
  const totals = TOTALS.map(([key, label, format]) => {
    const v = c.totals[key]
    return `<tr><td style="${cell}">${esc(label)}</td><td style="${num}"><strong>${esc(format(v.value))}</strong></td><td style="${num};color:#6b7280">${esc(change(v.change))}</td></tr>`
  }).join('')
  const table = (title: string, rows: { name: string; value: string }[]) =>
    `<h2 style="font-size:16px;margin:24px 0 8px">${esc(title)}</h2>` +
    (rows.length === 0
      ? '<p style="color:#6b7280">none to show</p>'
      : `<table style="border-collapse:collapse">${rows.map((r) => `<tr><td style="${num}">${esc(r.value)}</td><td style="${cell}">${esc(r.name)}</td></tr>`).join('')}</table>`)
  const ranked = lists(c).map(([title, rows]) => table(title, rows.map((r) => ({ name: r.name, value: count(r.visitors) })))).join('')
  const goals = c.goals.length
    ? table('Goals', c.goals.map((g) => ({ name: g.conversion_rate === null ? g.goal : `${g.goal} (${g.conversion_rate}% converted)`, value: count(g.visitors) })))
    : ''
  const alert = c.kind === 'spike' ? `<p>More than ${esc(threshold ?? 0)} visitors in the last hour, the threshold set for this alert.</p>` : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(subjectOf(c, threshold))}</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#111827;max-width:640px;margin:0 auto;padding:16px">
<h1 style="font-size:20px;margin:0 0 4px">${esc(TITLES[c.kind])} for ${esc(c.site)}</h1>
<p style="color:#6b7280;margin:0 0 16px">${esc(c.label)}, compared with ${esc(COMPARED[c.kind])}</p>
${alert}<table style="border-collapse:collapse">${totals}</table>
${ranked}${goals}
${footer(c).map((line) => `<p style="color:#6b7280;font-size:12px">${esc(line)}</p>`).join('\n')}
</body></html>
`
}

/** The e-mail of a report or alert; every value from the store is escaped in the HTML. */
export function renderReport(c: ReportContent, threshold: number | null = null): ReportMessage {
  return { subject: subjectOf(c, threshold), text: textOf(c, threshold), html: htmlOf(c, threshold) }
}
