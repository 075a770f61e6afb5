/** An instant in ISO form, UTC: `2026-05-16T12:00:00.000Z`. */
const iso = (at: Date | number): string => (typeof at === 'number' ? new Date(at) : at).toISOString()

/** `2026-05-16 12:00:00.000`: an instant as a {x:DateTime64(3, 'UTC')} parameter takes it. */
export function chTime(at: Date | number): string {
  return iso(at).replace('T', ' ').replace('Z', '')
}

/** The UTC day of an instant (now by default), as an ISO date: `2026-05-16` (the day lists of long ranges make many). */
export const utcDay = (at: Date | number = Date.now()): string => iso(at).slice(0, 10)
