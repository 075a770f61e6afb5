import { RE2JS } from 're2js'
import type { OnFound } from './catalogue.ts'
import type { Placeholder } from './kind.ts'

/** A site's own identifier (a customer-number format, say) from the policy's `scrub.patterns`. */
export interface SitePatternInput {
  name: string
  pattern: string
  label?: string
}

export interface SitePattern {
  id: string
  placeholder: Placeholder
  label: string
  /** The RE2 source, for the store's `match` in the audit. */
  source: string
  scrub(text: string, onFound?: OnFound): string
}

/**
 * RE2 runs in time linear in the text times the size of the compiled pattern, so bounding that
 * size bounds the cost per character of any site pattern. (`a{1000}` compiles to about 1,000.)
 */
export const MAX_PROGRAM_SIZE = 2000

/**
 * Why a site pattern cannot be used, or null. Patterns are RE2 (the syntax of Go and of
 * ClickHouse's `match`), compiled by `re2js`, a JavaScript port of RE2 that matches in linear
 * time whatever the pattern: back-references and look-arounds, which need backtracking, are not
 * RE2 and are refused here, and so is a pattern that matches the empty text (it would put
 * placeholders between every two characters) or compiles too large.
 */
export function sitePatternProblem(pattern: string): string | null {
  let re: RE2JS
  try {
    re = RE2JS.compile(pattern)
  } catch (err) {
    return `is not an RE2 pattern (${(err as Error).message.replace(/^error parsing regexp: /, '')}; RE2 has no back-references or look-arounds)`
  }
  if (re.matcher('').find()) return 'matches the empty text'
  if (re.programSize() > MAX_PROGRAM_SIZE) return `compiles too large (${re.programSize()} > ${MAX_PROGRAM_SIZE} instructions); use smaller repeat counts`
  return null
}

/** Compiles patterns `sitePatternProblem` has accepted (the policy checks them at load). */
export function compileSitePatterns(inputs: readonly SitePatternInput[]): SitePattern[] {
  return inputs.map(({ name, pattern, label }) => {
    const re = RE2JS.compile(pattern)
    const info = { id: name, placeholder: `[${name}]` as Placeholder, label: label ?? `The site's own identifiers (${name})` }
    return {
      ...info,
      source: pattern,
      scrub(text: string, onFound?: OnFound): string {
        const m = re.matcher(text)
        let out = ''
        let last = 0
        while (m.find()) {
          onFound?.(info, text.slice(m.start(), m.end()))
          out += text.slice(last, m.start()) + info.placeholder
          last = m.end()
        }
        return last === 0 ? text : out + text.slice(last)
      },
    }
  })
}
