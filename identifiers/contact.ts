import { parsePhoneNumberFromString } from 'libphonenumber-js/min'
import type { IdentifierKind } from './kind.ts'

/** RFC 5322 `atext` and `.`, but `/`: a path before an address is kept. `%` lets `%40` in. */
const ATEXT = "A-Za-z0-9!#$%&'*+=?^_`{|}~.-"

/**
 * The local part (possibly empty: `/@a.example` loses `@a.example`) may start only where a run
 * of its characters starts, so `'a'×1990 + '@'` is read once, not once per `a`; the domain is
 * bounded (10 labels of 63). Percent-encoded `@` (`%40`, or `%2540` encoded twice) counts.
 */
export const EMAIL: IdentifierKind = {
  id: 'email',
  placeholder: '[email]',
  label: 'E-mail addresses (also percent-encoded)',
  hint: '@|%40|%2540',
  pattern: new RegExp(`(?<![${ATEXT}])[${ATEXT}]*(?:@|%40|%2540)(?:[A-Za-z0-9-]{1,63}\\.){1,10}[A-Za-z]{2,24}(?![A-Za-z0-9-])`, 'g'),
}

const DATE = /^(?:\d{4}[-/. ]\d{1,2}[-/. ]\d{1,2}|\d{1,2}[-/. ]\d{1,2}[-/. ]\d{4})$/

/** Digits that stand alone: not the tail of a longer number (`12 0171…`) nor glued to a word. */
const ALONE_BEFORE = String.raw`(?<![\w+])(?<!\d[ .-])`
const ALONE_AFTER = String.raw`(?!\w)`

/**
 * `+` or `00` and a country code: the phone-number library (Google's metadata) says whether
 * the country code and the length fit. Past the scan's budget of costly checks, the shape alone
 * (8 to 15 digits) decides, so a text full of candidates costs a bounded time.
 */
export const PHONE_INTERNATIONAL: IdentifierKind = {
  id: 'phone-international',
  placeholder: '[phone]',
  label: 'Phone numbers in international format (+44 20 7946 0958)',
  hint: '[0-9]',
  pattern: new RegExp(`${ALONE_BEFORE}(?:\\+|00)[1-9][\\d .()-]{5,20}\\d${ALONE_AFTER}`, 'g'),
  accept: (candidate, budget) => {
    const digits = candidate.replace(/\D/g, '').replace(/^00/, '')
    if (digits.length < 8 || digits.length > 15) return false
    if (budget.costlyChecks <= 0) return true
    budget.costlyChecks--
    return parsePhoneNumberFromString('+' + digits)?.isValid() ?? false
  },
  shrink: true,
}

/**
 * National formats, by shape: a trunk `0` and groups (`0171 1234567`, `020 7946 0958`,
 * `06 12 34 56 78`), an area code in brackets (`(202) 555-0143`), North America's 3-3-4
 * (`202-555-0143`), or ten or eleven digits after a trunk `0`, or ten in North America's plan
 * that the phone library accepts for the US (its assigned area codes).
 * Without a country there is no library verdict for these (one would accept `/product/12345678`
 * in some country), so the shape is strict instead; dates are never phones.
 */
export const PHONE_NATIONAL: IdentifierKind = {
  id: 'phone-national',
  placeholder: '[phone]',
  label: 'Phone numbers in national formats (020 7946 0958, (202) 555-0143)',
  hint: '[0-9]',
  pattern: new RegExp(
    ALONE_BEFORE +
      '(?:' +
      [
        String.raw`\(\d{2,5}\) ?\d{2,4}(?:[ .-]\d{2,4}){1,3}`,
        String.raw`0\d{1,4}[ .-]\d{2,8}(?:[ .-]\d{2,4}){0,3}`,
        String.raw`[2-9]\d{2}[ .-]\d{3}[ .-]\d{4}`,
        String.raw`0\d{9,10}`,
        String.raw`[2-9]\d{2}[2-9]\d{6}`,
      ].join('|') +
      ')' +
      String.raw`(?![\w.-]?\d)` +
      ALONE_AFTER,
    'g',
  ),
  accept: (candidate, budget) => {
    const digits = candidate.replace(/\D/g, '').length
    if (digits < 7 || digits > 13 || DATE.test(candidate)) return false
    // ten bare digits are as often an order id: the plan's assigned area codes must fit too
    if (!/^[2-9]\d{9}$/.test(candidate) || budget.costlyChecks <= 0) return true
    budget.costlyChecks--
    return parsePhoneNumberFromString(candidate, 'US')?.isValid() ?? false
  },
}
