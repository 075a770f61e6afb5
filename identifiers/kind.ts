/**
 * One kind of identifier the collector removes and the audit looks for. Every kind is written
 * once, here, and used by both: what the audit can find is exactly what the scrubber removes.
 */
export type Placeholder = `[${string}]`

/** What one scan may still spend on costly checks (a phone-number library parse, ~20 µs). */
export interface ScanBudget {
  costlyChecks: number
}

export interface IdentifierKind {
  /** Stable name: in the audit's findings, the corpus figures and the disclosure (`email`, `iban`). */
  id: string
  /** What replaces a finding in stored text. Several kinds may share one (`[ip]`). */
  placeholder: Placeholder
  /** In plain words, for visitors (the disclosure page) and for the audit's report. */
  label: string
  /**
   * A text that holds this kind matches this, case-insensitively, in JavaScript and in RE2
   * (the store's `match`): the cheap test that skips the scan here and selects rows in the audit.
   */
  hint: string
  /**
   * Candidates (flag `g`). For a linear scan, each alternative is bounded in length or begins
   * with a look-behind that lets it start only where a run of its characters starts.
   */
  pattern: RegExp
  /** Whether a candidate is one: a checksum or a library's verdict. Absent: every candidate is. */
  accept?: (candidate: string, budget: ScanBudget) => boolean
  /** A rejected candidate is tried again without its last group (`4111 1111 1111 1111 12`). */
  shrink?: boolean
}

/** Candidates are short: a rejected one is tried again at most this many times, shorter each time. */
export const MAX_SHRINKS = 8
/** Parses with the phone library per scanned text; past it, a phone-shaped candidate is scrubbed unchecked. */
export const COSTLY_CHECKS_PER_SCAN = 24
