import { describe, expect, it } from 'vitest'
import { NO_SCROLL_DEPTH, parseScrollDepth } from '../../../collector/pipeline/parse-scroll-depth.ts'
import { isDrop, type Drop } from '../../../collector/pipeline/types.ts'

const refused = (r: number | Drop) => (isDrop(r as object) ? (r as Drop).detail : `taken: ${r}`)

describe('parseScrollDepth: an engagement ping\'s deepest scroll', () => {
  it('is a whole percentage on engagement pings, at most 100', () => {
    expect(parseScrollDepth(54, 'engagement')).toBe(54)
    expect(parseScrollDepth('54.6', 'engagement')).toBe(55)
    expect(parseScrollDepth(0, 'engagement')).toBe(0)
    expect(parseScrollDepth(130, 'engagement')).toBe(100)
  })

  it('is none when absent or on any other event', () => {
    expect(parseScrollDepth(undefined, 'engagement')).toBe(NO_SCROLL_DEPTH)
    expect(parseScrollDepth(80, 'pageview')).toBe(NO_SCROLL_DEPTH)
    expect(parseScrollDepth(80, 'custom')).toBe(NO_SCROLL_DEPTH)
  })

  it('refuses what is not a percentage', () => {
    for (const raw of [-1, 'deep', {}, [50], Number.NaN]) expect(refused(parseScrollDepth(raw, 'engagement')), String(raw)).toMatch(/scroll_depth/)
  })
})
