import { isReferrerSpam } from '../lookups/referrer-spam.ts'
import { referrerUrl } from './classify-referrer.ts'
import type { Step } from './types.ts'

/** Crawlers, headless browsers, empty User-Agents and referrer spam never count as visitors. */
export const dropBots: Step = (event, ctx) => {
  if (!event.policy.dropBots) return event
  if ((event.parsedAgent = ctx.userAgents.parse(event.userAgent ?? '')).bot) return { drop: 'bot' }
  // an unparseable referrer is handled (ignored) by classifyReferrer
  const ref = referrerUrl(event)
  if (ref && isReferrerSpam(ref.hostname, ctx.referrerSpam)) return { drop: 'referrer_spam' }
  return event
}
