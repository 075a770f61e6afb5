import type { Step } from './types.ts'

/** A dimension the policy does not allow is emptied here, so its column stays empty. */
export const keepAllowedDimensions: Step = (event) => {
  const allowed = event.policy.dimensions
  if (!allowed.has('path')) event.pathname = ''
  if (!allowed.has('referrer_host')) event.referrerHost = ''
  if (!allowed.has('referrer_path')) event.referrerPath = ''
  if (!allowed.has('source')) event.source = ''
  if (!allowed.has('channel')) event.channel = ''
  if (!allowed.has('utm')) {
    for (const k of Object.keys(event.utm) as (keyof typeof event.utm)[]) event.utm[k] = ''
    event.query = ''
  }
  if (!allowed.has('browser')) event.browser = ''
  if (!allowed.has('browser_version')) event.browserVersion = ''
  if (!allowed.has('os')) event.os = ''
  if (!allowed.has('os_version')) event.osVersion = ''
  if (!allowed.has('device')) event.device = ''
  if (!allowed.has('screen')) event.screen = ''
  if (!allowed.has('country')) event.country = ''
  if (!allowed.has('region')) event.region = ''
  if (!allowed.has('city')) event.city = ''
  if (!allowed.has('network')) event.network = ''
  if (!event.policy.lastVisitDay) event.returning = 2
  return event
}
