import { codiceFiscaleValid, luhn, mod, spanishIdLetter, verhoeff } from './checksums.ts'
import type { IdentifierKind } from './kind.ts'

/** Numbers in their usual written groups only: an ungrouped 9-digit number is an order id as often as an SSN. */
const ALONE_BEFORE = String.raw`(?<!\w)(?<!\d[ .-])`
const ALONE_AFTER = String.raw`(?!\w)(?![ .-]\d)`
const WORD_BEFORE = '(?<![A-Za-z0-9])'
const WORD_AFTER = '(?![A-Za-z0-9])'

const digitsOf = (s: string) => s.replace(/\D/g, '')

/** `123-45-6789`: area 001–899 but 666, group not 00, serial not 0000 (the SSA's rules). */
export const US_SSN: IdentifierKind = {
  id: 'us-ssn',
  placeholder: '[national-id]',
  label: 'US Social Security numbers',
  hint: '[0-9]',
  pattern: new RegExp(String.raw`${ALONE_BEFORE}\d{3}([- ])\d{2}\1\d{4}${ALONE_AFTER}`, 'g'),
  accept: (candidate) => {
    const d = digitsOf(candidate)
    const area = Number(d.slice(0, 3))
    return area > 0 && area !== 666 && area < 900 && d.slice(3, 5) !== '00' && d.slice(5) !== '0000'
  },
}

/** `AB 12 34 56 C`: HMRC's prefix rules (no D, F, I, Q, U, V; no O second; not BG, GB, KN, NK, NT, TN, ZZ). */
export const UK_NINO: IdentifierKind = {
  id: 'uk-nino',
  placeholder: '[national-id]',
  label: 'UK National Insurance numbers',
  hint: '[0-9]',
  pattern: new RegExp(String.raw`${WORD_BEFORE}[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d]${WORD_AFTER}`, 'g'),
  accept: (candidate) => {
    const prefix = candidate.slice(0, 2).toUpperCase()
    return /^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]$/.test(prefix) && !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(prefix)
  },
}

/** `046 454 286`, grouped: Luhn-checked; 0 and 8 are not issued as first digits. */
export const CA_SIN: IdentifierKind = {
  id: 'ca-sin',
  placeholder: '[national-id]',
  label: 'Canadian Social Insurance numbers (Luhn-checked)',
  hint: '[0-9]',
  pattern: new RegExp(String.raw`${ALONE_BEFORE}[1-79]\d{2}([- ])\d{3}\1\d{3}${ALONE_AFTER}`, 'g'),
  accept: (candidate) => luhn(digitsOf(candidate)),
}

/** `2345 6789 0124`, grouped: Verhoeff-checked; the first digit is 2–9. */
export const IN_AADHAAR: IdentifierKind = {
  id: 'in-aadhaar',
  placeholder: '[national-id]',
  label: 'Indian Aadhaar numbers (Verhoeff-checked)',
  hint: '[0-9]',
  pattern: new RegExp(String.raw`${ALONE_BEFORE}[2-9]\d{3}([ -])\d{4}\1\d{4}${ALONE_AFTER}`, 'g'),
  accept: (candidate) => verhoeff(digitsOf(candidate)),
}

/** `1 85 05 78 006 084 36` or ungrouped: the last two digits are 97 − (the first 13 mod 97); Corsica's 2A/2B count as 19/18. */
export const FR_NIR: IdentifierKind = {
  id: 'fr-nir',
  placeholder: '[national-id]',
  label: 'French social security numbers (NIR, key-checked)',
  hint: '[0-9]',
  pattern: new RegExp(String.raw`${ALONE_BEFORE}[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}${ALONE_AFTER}`, 'g'),
  accept: (candidate) => {
    const s = candidate.replace(/ /g, '').toUpperCase()
    const body = s.slice(0, 13)
    const corsica = body.slice(5, 7)
    const n = corsica === '2A' ? body.replace('2A', '19') : corsica === '2B' ? body.replace('2B', '18') : body
    return 97 - mod(n, 97) === Number(s.slice(13))
  },
}

/** DNI `12345678Z` and NIE `X1234567L`: the letter is the number mod 23. */
export const ES_DNI: IdentifierKind = {
  id: 'es-dni',
  placeholder: '[national-id]',
  label: 'Spanish identity numbers (DNI and NIE, letter-checked)',
  hint: '[0-9]',
  pattern: new RegExp(String.raw`${WORD_BEFORE}(?:\d{8}|[XYZxyz]-?\d{7})-?[A-Za-z]${WORD_AFTER}`, 'g'),
  accept: (candidate) => {
    const s = candidate.replace(/-/g, '').toUpperCase()
    return spanishIdLetter(s.slice(0, -1)) === s.slice(-1)
  },
}

/** `RSSMRA85T10A562S`: the 16th letter checks the rest. */
export const IT_CODICE_FISCALE: IdentifierKind = {
  id: 'it-codice-fiscale',
  placeholder: '[national-id]',
  label: 'Italian tax codes (codice fiscale, check-letter validated)',
  hint: '[0-9]',
  pattern: new RegExp(String.raw`${WORD_BEFORE}[A-Za-z]{6}\d{2}[A-Za-z]\d{2}[A-Za-z]\d{3}[A-Za-z]${WORD_AFTER}`, 'g'),
  accept: (candidate) => codiceFiscaleValid(candidate.toUpperCase()),
}
