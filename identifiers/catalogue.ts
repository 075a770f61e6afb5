import { EMAIL, PHONE_INTERNATIONAL, PHONE_NATIONAL } from './contact.ts'
import { COSTLY_CHECKS_PER_SCAN, MAX_SHRINKS, type IdentifierKind, type Placeholder, type ScanBudget } from './kind.ts'
import { CA_SIN, ES_DNI, FR_NIR, IN_AADHAAR, IT_CODICE_FISCALE, UK_NINO, US_SSN } from './national.ts'
import { IPV4, IPV6 } from './network.ts'
import { CARD, IBAN } from './payment.ts'
import { API_KEY, BASE64_TOKEN, BEARER, HEX_TOKEN, JWT, SESSION_PARAMETER, SESSION_PATH, UUID } from './secrets.ts'
import type { SitePattern } from './site-patterns.ts'
import { USER_AGENT } from './user-agent.ts'

/**
 * Every kind of identifier, in the order a text is scanned: the most specific shapes first, so
 * that a kind's placeholder is in place before a looser kind could claim part of it (a UUID
 * before hex tokens, an IBAN and the checksummed numbers before phone numbers, base64 last).
 */
export const CATALOGUE: readonly IdentifierKind[] = [
  USER_AGENT,
  JWT,
  API_KEY,
  BEARER,
  SESSION_PARAMETER,
  SESSION_PATH,
  EMAIL,
  UUID,
  IBAN,
  UK_NINO,
  ES_DNI,
  IT_CODICE_FISCALE,
  IPV4,
  IPV6,
  CARD,
  US_SSN,
  CA_SIN,
  IN_AADHAAR,
  FR_NIR,
  PHONE_INTERNATIONAL,
  PHONE_NATIONAL,
  HEX_TOKEN,
  BASE64_TOKEN,
]

/** What a finding is, as the audit reports it: a kind of the catalogue or one of the policy's own patterns. */
export interface KindInfo {
  id: string
  placeholder: Placeholder
  label: string
}

export type OnFound = (kind: KindInfo, value: string) => void

const HINTS = new Map(CATALOGUE.map((k) => [k, new RegExp(k.hint, 'i')]))

/** A rejected candidate without its last group (after its last space, dash or dot), or null. */
function shorter(candidate: string): string | null {
  const cut = Math.max(candidate.lastIndexOf(' '), candidate.lastIndexOf('-'), candidate.lastIndexOf('.'))
  return cut > 0 ? candidate.slice(0, cut).replace(/[ .-]+$/, '') : null
}

/** The candidate's longest accepted prefix (the candidate itself first), or null. */
function accepted(kind: IdentifierKind, candidate: string, budget: ScanBudget): string | null {
  if (!kind.accept) return candidate
  let c: string | null = candidate
  for (let tries = 0; c && tries <= (kind.shrink ? MAX_SHRINKS : 0); tries++, c = shorter(c)) {
    if (kind.accept(c, budget)) return c
  }
  return null
}

/**
 * Replaces every identifier in `text` by its kind's placeholder, the site's own patterns last,
 * and tells `onFound` what it replaced. Linear in the length of `text`: each kind is one pass of
 * a pattern built to scan linearly (see `IdentifierKind.pattern`), each candidate is bounded or
 * read once, and the costly checks one text may cause are capped.
 */
export function scrubIdentifiers(text: string, site: readonly SitePattern[] = [], onFound?: OnFound): string {
  let s = text
  const budget: ScanBudget = { costlyChecks: COSTLY_CHECKS_PER_SCAN }
  for (const kind of CATALOGUE) {
    if (!HINTS.get(kind)!.test(s)) continue
    s = s.replace(kind.pattern, (candidate) => {
      const found = accepted(kind, candidate, budget)
      if (found === null) return candidate
      onFound?.(kind, found)
      return kind.placeholder + candidate.slice(found.length)
    })
  }
  for (const p of site) s = p.scrub(s, onFound)
  return s
}

/** The kinds scrubbed, one line each: for the disclosure. */
export function scrubbedKinds(site: readonly SitePattern[] = []): KindInfo[] {
  return [...CATALOGUE, ...site].map(({ id, placeholder, label }) => ({ id, placeholder, label }))
}
