/** `2026-05-16 12:00:00.000`: an instant as a {x:DateTime64(3, 'UTC')} parameter takes it. */
export function chTime(at: Date | number): string {
  return (typeof at === 'number' ? new Date(at) : at).toISOString().replace('T', ' ').replace('Z', '')
}

/** The UTC day of an instant (now by default), as an ISO date: `2026-05-16`. */
export const utcDay = (at: Date | number = Date.now()): string => (typeof at === 'number' ? new Date(at) : at).toISOString().slice(0, 10)
