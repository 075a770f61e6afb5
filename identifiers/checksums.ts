/**
 * Check digits of the identifiers the catalogue knows. A checksum is what lets a detector
 * accept `4111 1111 1111 1111` and leave `/order/1234567812345678` alone: a loose pattern
 * would destroy ordinary numbers in paths.
 */

/** Luhn (ISO/IEC 7812): payment cards, Canadian SINs. `digits` holds digits only. */
export function luhn(digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]

/** Verhoeff: India's Aadhaar numbers. `digits` holds digits only, the check digit last. */
export function verhoeff(digits: string): boolean {
  let c = 0
  for (let i = 0; i < digits.length; i++) c = VERHOEFF_D[c][VERHOEFF_P[i % 8][digits.charCodeAt(digits.length - 1 - i) - 48]]
  return c === 0
}

/** The remainder of a decimal string of any length divided by `m` (no precision lost). */
export function mod(digits: string, m: number): number {
  let r = 0
  for (let i = 0; i < digits.length; i++) r = (r * 10 + digits.charCodeAt(i) - 48) % m
  return r
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE'

/** Spain's DNI (8 digits) and NIE (X, Y or Z and 7 digits): the letter is the number mod 23. */
export function spanishIdLetter(number: string): string {
  const n = number.replace(/^[XYZ]/i, (l) => String('XYZ'.indexOf(l.toUpperCase())))
  return DNI_LETTERS[mod(n, 23)]
}

const CF_ODD: Record<string, number> = Object.fromEntries(
  [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23].flatMap((v, i) => [
    [String.fromCharCode(65 + i), v],
    ...(i < 10 ? [[String(i), [1, 0, 5, 7, 9, 13, 15, 17, 19, 21][i]]] : []),
  ]),
)

/** Italy's codice fiscale: the 16th letter checks the first 15 characters (upper case). */
export function codiceFiscaleValid(cf: string): boolean {
  let sum = 0
  for (let i = 0; i < 15; i++) {
    const ch = cf[i]
    sum += i % 2 === 0 ? CF_ODD[ch] : /\d/.test(ch) ? Number(ch) : ch.charCodeAt(0) - 65
  }
  return String.fromCharCode(65 + (sum % 26)) === cf[15]
}
