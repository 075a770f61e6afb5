import { networkHash } from '../network-hash.ts'
import { visitorHash } from '../salts.ts'
import type { Step } from './types.ts'

/**
 * The visitor hash and the network's (the address's /24 or /48, under the same salt), then
 * the IP and the User-Agent are forgotten: no later step, the spool, the store or a log line can see them.
 * Set to undefined rather than deleted: a `delete` turns the event into a dictionary object, and
 * every later step's reads and writes into hash look-ups.
 */
export const hashVisitor: Step = (event, ctx) => {
  if (!event.withoutHash) {
    const salt = ctx.salts.saltFor(event.ts, event.policy.saltPeriodHours, event.policy.persistSalt)
    event.visitorId = visitorHash(salt, event.site, event.ip ?? '', event.userAgent ?? '')
    event.networkId = networkHash(salt, event.site, event.ip ?? '')
  }
  event.ip = undefined
  event.userAgent = undefined
  return event
}
