import { truncateIp } from '../geo/geo.ts'
import type { Step } from './types.ts'

/** Geography from the IP at the policy's precision (the IP optionally truncated first). */
export const locateIp: Step = (event, ctx) => {
  const precision = event.policy.geoPrecision
  if (precision === 'none' || !event.ip) return event
  const place = ctx.geo.locate(event.policy.truncateIp ? truncateIp(event.ip) : event.ip)
  event.country = place.country
  if (precision === 'region' || precision === 'city') event.region = place.region
  if (precision === 'city') event.city = place.city
  return event
}
