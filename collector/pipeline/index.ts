import { performance } from 'node:perf_hooks'
import { applyConsentSignals } from './apply-consent.ts'
import { applyEventPolicy } from './apply-event-policy.ts'
import { assignVisit } from './assign-visit.ts'
import { classifyReferrer } from './classify-referrer.ts'
import { classifyScreen } from './classify-screen.ts'
import { dropBots } from './drop-bots.ts'
import { hashVisitor } from './hash-visitor.ts'
import { keepAllowedDimensions } from './keep-allowed-dimensions.ts'
import { knownSite } from './known-site.ts'
import { locateIp } from './locate-ip.ts'
import { parseBeacon } from './parse-beacon.ts'
import { parseUserAgent } from './parse-user-agent.ts'
import { scrubProps } from './scrub-props.ts'
import { scrubUrl } from './scrub-url.ts'
import { toRow } from './to-row.ts'
import { isDrop, type Drop, type EventRow, type Incoming, type PipelineContext, type Step } from './types.ts'

/**
 * The ingestion path, in order. `parseBeacon` comes first and `toRow` last; each step in
 * between returns the event or a typed drop reason, and the first drop ends the run.
 * Steps fill fields of one event value in place (no copies on the hot path).
 */
export const STEPS: readonly (readonly [string, Step])[] = [
  ['knownSite', knownSite],
  ['dropBots', dropBots],
  ['applyConsentSignals', applyConsentSignals],
  ['scrubUrl', scrubUrl],
  ['applyEventPolicy', applyEventPolicy],
  ['scrubProps', scrubProps],
  ['classifyReferrer', classifyReferrer],
  ['parseUserAgent', parseUserAgent],
  ['classifyScreen', classifyScreen],
  ['locateIp', locateIp],
  ['hashVisitor', hashVisitor],
  ['assignVisit', assignVisit],
  ['keepAllowedDimensions', keepAllowedDimensions],
]

export function runPipeline(input: Incoming, ctx: PipelineContext): EventRow | Drop {
  const first = parseBeacon(input, ctx)
  if (isDrop(first)) return first
  let event = first
  for (const [, step] of STEPS) {
    const next = step(event, ctx)
    if (isDrop(next)) return next
    event = next
  }
  return toRow(event)
}

/** The same run with the time spent in each step added to `timings` (ns): for the benchmark. */
export function runPipelineTimed(input: Incoming, ctx: PipelineContext, timings: Map<string, number>): EventRow | Drop {
  let t = performance.now()
  const first = parseBeacon(input, ctx)
  const lap = (name: string) => {
    const now = performance.now()
    timings.set(name, (timings.get(name) ?? 0) + (now - t) * 1e6)
    t = now
  }
  lap('parseBeacon')
  if (isDrop(first)) return first
  let event = first
  for (const [name, step] of STEPS) {
    const next = step(event, ctx)
    lap(name)
    if (isDrop(next)) return next
    event = next
  }
  const row = toRow(event)
  lap('toRow')
  return row
}

export { isDrop }
export type { Drop, EventRow, Incoming, PipelineContext }
