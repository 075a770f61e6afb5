import { truncateIp } from '../lookups/geo.ts'
import type { Step } from './types.ts'

/**
 * Geography from the IP at the policy's precision, and the network (ISP) where the policy
 * allows it; the IP is truncated first when the policy says so.
 */
export const locateIp: Step = (event, ctx) => {
  if (!event.ip) return event
  const ip = event.policy.truncateIp ? truncateIp(event.ip) : event.ip
  if (ctx.networks && event.policy.dimensions.has('network')) event.network = ctx.networks.locate(ip)
  const precision = event.policy.geoPrecision
  if (precision === 'none') return event
  const place = ctx.geo.locate(ip)
  event.country = place.country
  if (precision === 'region' || precision === 'city') event.region = place.region
  if (precision === 'city') event.city = place.city
  return event
}
