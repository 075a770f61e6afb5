import crypto from 'node:crypto'
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

  it('keeps the minified code beside the bundle under its source\'s hash, and minifies again when the source changed', async () => {
    const kept = new URL('../../../.build/tracker.min.json', import.meta.url)
    const source = fs.readFileSync(TRACKER_SOURCE, 'utf8')
    const { js } = await buildTracker()
    const saved = JSON.parse(fs.readFileSync(kept, 'utf8'))
    expect(saved.sha256).toBe(crypto.hash('sha256', source))
    expect(saved.code).toBe(js.toString())
    // what another source minified to is not served for this one
    fs.writeFileSync(kept, JSON.stringify({ sha256: crypto.hash('sha256', 'an older tracker'), code: 'stale()' }))
    const again = await buildTracker()
    expect(again.js.toString()).toBe(js.toString())
    expect(JSON.parse(fs.readFileSync(kept, 'utf8')).sha256).toBe(saved.sha256)
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
