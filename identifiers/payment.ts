import { electronicFormatIBAN, isValidIBAN } from 'ibantools'
import { luhn } from './checksums.ts'
import type { IdentifierKind } from './kind.ts'

/** Issuer prefixes and the lengths their cards have (ISO/IEC 7812 ranges of the major networks). */
const ISSUERS: readonly [RegExp, readonly number[]][] = [
  [/^4/, [13, 16, 19]], // Visa
  [/^(?:5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720))/, [16]], // Mastercard
  [/^3[47]/, [15]], // American Express
  [/^(?:6011|64[4-9]|65)/, [16, 17, 18, 19]], // Discover
  [/^35(?:2[89]|[3-8]\d)/, [16, 17, 18, 19]], // JCB
  [/^3(?:0[0-5]|[689])/, [14, 15, 16, 17, 18, 19]], // Diners Club
  [/^62/, [16, 17, 18, 19]], // UnionPay
  [/^(?:50|5[6-9]|6\d)/, [12, 13, 14, 15, 16, 17, 18, 19]], // Maestro
]

/**
 * 12 to 19 digits, in groups or not, whose issuer prefix and length belong to a card network
 * and whose Luhn digit checks: one in ten random numbers passes Luhn, far fewer also fit an
 * issuer, and a 19-digit post id starting with 1 fits none.
 */
export const CARD: IdentifierKind = {
  id: 'card',
  placeholder: '[card]',
  label: 'Payment card numbers (Luhn-checked)',
  hint: '[0-9]',
  pattern: /(?<!\w)(?<!\d[ .-])\d(?:[ -]?\d){11,18}(?!\w)/g,
  accept: (candidate) => {
    const digits = candidate.replace(/\D/g, '')
    return ISSUERS.some(([prefix, lengths]) => prefix.test(digits) && lengths.includes(digits.length)) && luhn(digits)
  },
  shrink: true,
}

/** Country code, check digits and up to 30 letters or digits, in groups of four or not; `ibantools` checks length per country and mod 97. */
export const IBAN: IdentifierKind = {
  id: 'iban',
  placeholder: '[iban]',
  label: 'Bank account numbers (IBAN, checksum-validated)',
  hint: '[0-9]',
  pattern: /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])/g,
  accept: (candidate) => {
    const iban = electronicFormatIBAN(candidate.replace(/-/g, ''))
    return iban !== null && isValidIBAN(iban)
  },
  shrink: true,
}
