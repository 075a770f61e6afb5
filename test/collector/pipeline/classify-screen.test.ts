import { describe, expect, it } from 'vitest'
import { classifyScreen, screenClass } from '../../../collector/pipeline/classify-screen.ts'
import { base, makeEvent, through } from './context.ts'

describe('classifyScreen', () => {
  it.each([
    [0, ''],
    [320, 'Mobile'],
    [575, 'Mobile'],
    [576, 'Tablet'],
    [991, 'Tablet'],
    [992, 'Laptop'],
    [1439, 'Laptop'],
    [1440, 'Desktop'],
    [3840, 'Desktop'],
  ])('width %i is %j', (width, screen) => {
    expect(screenClass(width)).toBe(screen)
    expect(through(makeEvent({ w: width }), base, classifyScreen).screen).toBe(screen)
  })
})
