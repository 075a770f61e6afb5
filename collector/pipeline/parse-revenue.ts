import { AMOUNT_SCALE, currencyCode } from '../../money/currency.ts'
import type { Drop } from './types.ts'

/** What an event's revenue is stored as: ten-thousandths of the currency's unit (UInt64, decimal), and its ISO 4217 code. */
export interface Revenue {
  amount: string
  currency: string
}

export const NO_REVENUE: Readonly<Revenue> = Object.freeze({ amount: '0', currency: '' })

/** Above 100 billion units an amount is a mistake, not a sale (and ten-thousandths stay exact in a double). */
const MAX_UNITS = 1e11
const DECIMAL = /^(\d{1,12})(?:\.(\d{1,20}))?$/

const invalid = (detail: string): Drop => ({ drop: 'invalid', detail })

/** An amount in ten-thousandths, rounded half up; null when it is not a non-negative amount up to MAX_UNITS. */
function scaledAmount(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isFinite(raw) && raw >= 0 && raw <= MAX_UNITS ? Math.round(raw * AMOUNT_SCALE) : null
  if (typeof raw !== 'string') return null
  // a decimal string is read digit by digit, not through a double: "1322.22" is 13222200 exactly
  const m = DECIMAL.exec(raw.trim())
  if (!m) return null
  const fraction = (m[2] ?? '').padEnd(5, '0')
  const scaled = Number(m[1]) * AMOUNT_SCALE + Number(fraction.slice(0, 4)) + (Number(fraction[4]) >= 5 ? 1 : 0)
  return scaled <= MAX_UNITS * AMOUNT_SCALE ? scaled : null
}

/**
 * An event's revenue, in the shape of Plausible's Events API: `revenue` (or the tracker's `$`)
 * is `{"amount": 10.5 or "10.50", "currency": "EUR"}`, as an object or as its JSON text. Revenue
 * comes with a custom event (a revenue goal is an event goal); anything malformed is refused
 * with the reason, never dropped silently. Which currency a goal counts is the aggregator's
 * business: the collector does not know the site's goals, and a goal may be made later.
 */
export function parseRevenue(raw: unknown, kind: string): Revenue | Drop {
  if (raw === undefined || raw === null) return NO_REVENUE
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw)
    } catch {
      return invalid('revenue must be {"amount": ..., "currency": ...}')
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).some((k) => k !== 'amount' && k !== 'currency')) {
    return invalid('revenue must be {"amount": ..., "currency": ...}')
  }
  if (kind === 'pageview' || kind === 'engagement') return invalid('revenue goes with a custom event, not a pageview or an engagement')
  const { amount, currency } = raw as { amount?: unknown; currency?: unknown }
  const scaled = scaledAmount(amount)
  if (scaled === null) return invalid(`revenue.amount must be a number or decimal string from 0 to ${MAX_UNITS.toLocaleString('en')}`)
  const code = currencyCode(currency)
  if (!code) return invalid('revenue.currency must be an ISO 4217 currency code such as EUR or USD')
  return { amount: String(scaled), currency: code }
}
