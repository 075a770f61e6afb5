/**
 * Money as the collector stores it and the aggregator shows it: both sides need the same
 * currency codes and the same unit, and neither may import the other.
 */

/**
 * Amounts are stored as whole ten-thousandths of their currency's unit (10.5 EUR is 105000):
 * sums stay exact, and no ISO 4217 currency has more than four minor digits.
 */
export const AMOUNT_SCALE = 10_000

/** The ISO 4217 codes in use, as the runtime's own ICU data lists them (162 on Node 20). */
const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'))

/** An ISO 4217 code in use (`EUR`), in upper case; null for anything else. */
export function currencyCode(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length !== 3) return null
  const code = raw.toUpperCase()
  return CURRENCIES.has(code) ? code : null
}
