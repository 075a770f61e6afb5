/**
 * Scrubbing is linear on any input (issue 13, point 3; issue 18, point 3). A path and a
 * referrer of `'a'×1990 + '@'` used to cost ~15 ms each in the e-mail pattern, so a few clients
 * could saturate the collector. fast-check builds pathological texts from fragments of every
 * kind's shape and feeds them to the scrubber and, as whole beacons, to the pipeline. Work is
 * bounded relative to a plain text (or beacon) of the same size measured in the same test, so a
 * loaded machine slows both sides alike; each side is the fastest of several runs.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { runPipeline } from '../../collector/pipeline/index.ts'
import { LIMITS } from '../../collector/pipeline/parse-beacon.ts'
import { scrubText } from '../../collector/privacy/pii.ts'
import { context, incoming } from '../collector/pipeline/context.ts'

const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261129)

/** The starts, middles and separators of every kind: what makes a backtracking pattern retry. */
const FRAGMENTS = [
  'a', '@', 'a@', '.', 'a.', '%40', '%2540', '1', '1 ', '1-', '1.', '+1', '+44 ', '00', '0', '(', ') ', '-', '_', '=', ' ', '/', ':', '::',
  'ff:', '1:', 'f', 'A1b', 'X', 'Z', 'eyJ', 'eyJa.', 'AKIA', 'sk-', 'ghp_', 'xoxb-', 'Mozilla/5.0 (', ';jsessionid=', 'sid=', '/sid/',
  'Bearer ', 'DE89', 'AB12', 'GB82 WEST ', '12345678', '4111 1111 ', '202-555-', '123-45-', 'RSSMRA85T10',
]

/** A text of exactly `length` characters: `unit` repeated (a repeated unit is what makes a pattern retry most). */
const repeated = (unit: string, length: number) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length)
const unit = fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 5 }).map((parts) => parts.join(''))
const PLAIN_UNIT = 'abcdefghij/'

/** The fastest of `runs` timings of `fn`, in milliseconds. */
function cost(fn: () => unknown, runs = 5): number {
  let best = Infinity
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    fn()
    best = Math.min(best, performance.now() - t)
  }
  return best
}

// A quadratic pattern costs hundreds of times the plain text at these sizes; a linear one a few times.
const TEXT_FACTOR = 40
const BEACON_FACTOR = 20
/** Timer resolution and a stray pause, in ms: never what decides. */
const SLACK_MS = 1

describe('scrubbing costs linear time on any input', () => {
  it("the finding's 'a'×n + '@': four times the length costs about four times as much, not sixteen", () => {
    const short = cost(() => scrubText(repeated('a', 1990) + '@'), 9)
    const long = cost(() => scrubText(repeated('a', 4 * 1990) + '@'), 9)
    expect(long).toBeLessThan(8 * short + SLACK_MS)
    expect(long).toBeLessThan(TEXT_FACTOR * cost(() => scrubText(repeated(PLAIN_UNIT, 4 * 1991)), 9) + SLACK_MS)
  })

  it('any text made of identifier fragments costs a bounded multiple of a plain text as long', () => {
    const length = 8192 // the largest beacon body
    fc.assert(
      fc.property(unit, (u) => {
        const text = repeated(u, length)
        const baseline = cost(() => scrubText(repeated(PLAIN_UNIT, length)))
        const took = cost(() => scrubText(text))
        expect(took, `${JSON.stringify(u)}: ${took.toFixed(2)} ms against ${baseline.toFixed(2)} ms`).toBeLessThan(TEXT_FACTOR * baseline + SLACK_MS)
      }),
      { seed: SEED, numRuns: 60 },
    )
  })

  it("a beacon's whole pipeline run with pathological path, referrer, name and props costs a bounded multiple of a plain one", () => {
    const beacon = (text: (n: number) => string) => ({
      name: text(LIMITS.name),
      url: `https://example.com/${text(LIMITS.url - 40)}?utm_campaign=${encodeURIComponent(text(200))}`,
      domain: 'example.com',
      referrer: `https://ref.example.net/${text(LIMITS.url - 40)}`,
      props: Object.fromEntries(Array.from({ length: LIMITS.props }, (_, i) => [`k${i}`, text(LIMITS.propValue)])),
    })
    const run = (body: unknown) => () => runPipeline(incoming(body), context())
    fc.assert(
      fc.property(unit, (u) => {
        const text = (n: number) => repeated(u, n)
        const plain = (n: number) => repeated(PLAIN_UNIT, n)
        const baseline = cost(run(beacon(plain)))
        const took = cost(run(beacon(text)))
        expect(took, `${JSON.stringify(u)}: ${took.toFixed(2)} ms against ${baseline.toFixed(2)} ms`).toBeLessThan(BEACON_FACTOR * baseline + SLACK_MS)
      }),
      { seed: SEED, numRuns: 30 },
    )
  })
})
