import type { Drop } from './types.ts'

/** What an event stores when it reports no scroll depth (see migration 021): never averaged as 0. */
export const NO_SCROLL_DEPTH = 255

/**
 * An engagement ping's scroll depth (Plausible's `sd`): the deepest scroll of its page view so
 * far, in percent. A rounding past 100 is 100; other events report none, whatever they carry.
 */
export function parseScrollDepth(raw: unknown, kind: string): number | Drop {
  if (raw === undefined || raw === null || kind !== 'engagement') return NO_SCROLL_DEPTH
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return { drop: 'invalid', detail: 'scroll_depth must be a percentage from 0 to 100' }
  return Math.min(100, Math.round(n))
}
