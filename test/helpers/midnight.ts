/**
 * For the few tests whose whole run must fall on one day: a visitor's live beacons under one
 * daily salt (the salts change at midnight UTC), today's beacons on the day the test named at its
 * start, "now" events that must not fall on yesterday. Such a test, started too near a midnight,
 * waits here until it is clear of it: while the wall-clock time in any of `zones` is within the
 * last `before` ms of a day, or the first `after` ms of one. So it waits at most `before + after`,
 * and only in those minutes of the day.
 */
export async function awayFromMidnight({ before = 0, after = 0, zones = ['UTC'] }: { before?: number; after?: number; zones?: string[] }): Promise<void> {
  for (;;) {
    const now = Date.now()
    const waits = zones.map((tz) => {
      const into = msIntoDay(now, tz)
      if (into < after) return after - into
      if (DAY - into < before) return DAY - into + after
      return 0
    })
    const wait = Math.max(...waits)
    if (wait === 0) return
    await new Promise((r) => setTimeout(r, wait + 100))
  }
}

const DAY = 86_400_000

/** How far into its local day (wall clock) an instant is, in ms. */
function msIntoDay(ms: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(ms)
  const p = Object.fromEntries(parts.map((x) => [x.type, Number(x.value)]))
  return ((p.hour * 60 + p.minute) * 60 + p.second) * 1000 + (ms % 1000)
}
