import { isIPv4 } from 'node:net'
import ipaddr from 'ipaddr.js'
import { keyedId } from './salts.ts'

/**
 * The network a visitor writes from: its IPv4 /24 or IPv6 /48 (an IPv4-mapped IPv6 address is
 * its IPv4), the block one household, office or provider's customer usually holds. The
 * aggregator counts distinct networks beside distinct visitors, so that one address posing as
 * many browsers cannot fill a group (see README, "What the numbers guarantee").
 */
export function networkPrefix(ip: string): string {
  // a dotted quad as net.isIPv4 accepts it (no leading zeros) is already canonical: its first three parts
  if (isIPv4(ip)) return `4:${ip.slice(0, ip.lastIndexOf('.'))}`
  if (!ipaddr.isValid(ip)) return ''
  const addr = ipaddr.process(ip)
  const bytes = addr.toByteArray()
  return addr.kind() === 'ipv4' ? `4:${bytes.slice(0, 3).join('.')}` : `6:${Buffer.from(bytes.slice(0, 6)).toString('hex')}`
}

/**
 * The network's id: a keyed hash under the visitor hash's salt, so it rotates and is forgotten
 * with it; never the prefix itself. 0 stands for no address (and for rows stored before networks
 * were counted: each such visitor counts as a network of its own).
 */
export function networkHash(salt: Buffer, site: string, ip: string): string {
  const prefix = networkPrefix(ip)
  if (!prefix) return '0'
  return keyedId(salt, `network\0${site}\0${prefix}`)
}
