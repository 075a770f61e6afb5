import fs from 'node:fs'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { TRACKER_SOURCE, buildTracker } from '../../../collector/routes/tracker.ts'

describe('tracker script', () => {
  it('stays under 2 KB minified and gzipped', async () => {
    const { js, gz } = await buildTracker()
    console.log(`tracker: ${js.length} bytes minified, ${gz.length} bytes gzipped`)
    expect(js.length).toBeGreaterThan(500) // it was really built, not an empty file
    expect(zlib.gunzipSync(gz).equals(js)).toBe(true)
    expect(gz.length).toBeLessThan(2048)
  })

  it('writes nothing to the device but, where the collector allows it, a last-visit day', () => {
    const source = fs.readFileSync(TRACKER_SOURCE, 'utf8')
    expect(source).not.toMatch(/document\s*\.\s*cookie/)
    expect(source).not.toMatch(/sessionStorage|indexedDB/)
    // one write: today's date (never an id) under analytics_lv, only when the 202 says `lv`
    expect(source.match(/\.setItem\s*\(/g)).toHaveLength(1)
    expect(source).toMatch(/j\.lv \? localStorage\.setItem\(LV, today\) : localStorage\.removeItem\(LV\)/)
    expect(source).toMatch(/const LV = 'analytics_lv'/)
    expect(source).toMatch(/const today = new Date\(\)\.toISOString\(\)\.slice\(0, 10\)/)
    expect(source).not.toMatch(/localStorage\s*(\.\s*\w+|\[[^\]]+\])\s*=[^=]/) // no property writes either
    // it only ever reads the opt-out flag
    expect(source).toMatch(/localStorage\.analytics_ignore\s*==/)
  })
})
