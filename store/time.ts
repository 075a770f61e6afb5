/** `2026-05-16 12:00:00.000`: an instant as a {x:DateTime64(3, 'UTC')} parameter takes it. */
export function chTime(at: Date | number): string {
  return (typeof at === 'number' ? new Date(at) : at).toISOString().replace('T', ' ').replace('Z', '')
}
