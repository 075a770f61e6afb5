import type { Step } from './types.ts'

/** A width class, never the exact width: too fine a width helps fingerprinting. */
export function screenClass(width: number): string {
  if (!width) return ''
  if (width < 576) return 'Mobile'
  if (width < 992) return 'Tablet'
  if (width < 1440) return 'Laptop'
  return 'Desktop'
}

export const classifyScreen: Step = (event) => {
  event.screen = screenClass(event.screenWidth)
  return event
}
