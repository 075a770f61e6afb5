import { describe, expect, it } from 'vitest'
import { UserAgentParser } from '../../../collector/lookups/user-agents.ts'
import { UA } from '../pipeline/context.ts'

describe('UserAgentParser', () => {
  it('the cache returns the same object for a repeated User-Agent', () => {
    const parser = new UserAgentParser()
    const first = parser.parse(UA.iphone)
    expect(parser.parse(UA.iphone)).toBe(first)
    expect(parser.parse(UA.android)).not.toBe(first)
  })
})
