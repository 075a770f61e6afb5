import { isIPv6 } from 'node:net'
import type { IdentifierKind } from './kind.ts'

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)'

/** Four octets, not part of a longer dotted number (`1.2.3.4.5` is a version, not an address). */
export const IPV4: IdentifierKind = {
  id: 'ipv4',
  placeholder: '[ip]',
  label: 'IP addresses (IPv4)',
  hint: '[0-9][.][0-9]',
  pattern: new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, 'g'),
}

/**
 * A run of hex digits, colons and dots (an embedded IPv4 tail) of at most 45 characters, which
 * Node's own parser accepts as IPv6 and which holds a digit: `10:30:00` and `std::map` are not.
 */
export const IPV6: IdentifierKind = {
  id: 'ipv6',
  placeholder: '[ip]',
  label: 'IP addresses (IPv6)',
  hint: ':',
  pattern: /(?<![\w:.])[0-9A-Fa-f:][0-9A-Fa-f:.]{1,44}(?![\w:])/g,
  accept: (candidate) => candidate.length >= 6 && /\d/.test(candidate) && isIPv6(candidate),
  shrink: true,
}
