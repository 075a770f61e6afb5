import type { Step } from './types.ts'

/** Browser and major version, OS and version, device type. */
export const parseUserAgent: Step = (event, ctx) => {
  const a = event.parsedAgent ?? ctx.userAgents.parse(event.userAgent ?? '')
  event.browser = a.browser
  event.browserVersion = a.browserVersion
  event.os = a.os
  event.osVersion = a.osVersion
  event.device = a.device
  return event
}
