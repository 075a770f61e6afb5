import type { IdentifierKind } from './kind.ts'

/**
 * A browser's User-Agent string (`Mozilla/5.0 (…) …`) sent as a prop or in a path: with the
 * address, what a fingerprint is made of. The collector keeps only names derived from it.
 * The comment in brackets is bounded, and so is what follows it, up to the end of the line.
 */
export const USER_AGENT: IdentifierKind = {
  id: 'user-agent',
  placeholder: '[user-agent]',
  label: 'Browser User-Agent strings',
  hint: 'mozilla/|opera/',
  pattern: /(?:Mozilla|Opera)\/\d{1,2}\.\d{1,2} \([^()\n]{1,300}\)[^\n]{0,600}/g,
}
