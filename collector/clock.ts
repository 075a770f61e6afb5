import { performance } from 'node:perf_hooks'

/** Within this much, the wall clock and the monotonic one are taken to agree (slow drift). */
const DRIFT_MS = 2_000
/** A jump that lasts this long is believed: the wall clock was corrected, not wrong. */
const BELIEVE_AFTER_MS = 3_600_000

export interface ClockJump {
  /** Positive: the wall clock moved ahead of the monotonic clock; negative: back. */
  ms: number
}

/**
 * The collector's time. The wall clock is compared with the monotonic one on every read: while
 * they agree (slow drift is absorbed), event times follow the wall clock. After a jump either
 * way, event times continue on the monotonic clock from where the two last agreed, so events
 * are neither reordered nor stamped hours off; a jump that has lasted an hour is believed (the
 * clock was corrected, not broken), and from then on event times follow the wall clock again,
 * but never go back: after a believed jump back they keep the latest time given until the
 * clock catches up. Retention asks `steady()` before it deletes anything by date.
 */
export class Clock {
  private last = 0
  /** wall − monotonic, as last agreed. */
  private offset: number
  /** When (monotonic ms) the current jump was first seen, if one is in progress. */
  private jumpSince: number | null = null

  constructor(
    private onJump: (jump: ClockJump) => void = () => {},
    private wall: () => number = () => Date.now(),
    private mono: () => number = () => performance.now(),
  ) {
    this.offset = wall() - mono()
  }

  /** The time to trust now, and whether the wall clock agrees with it. */
  private observe(): { time: number; steady: boolean } {
    const mono = this.mono()
    const wall = this.wall()
    const skew = wall - mono - this.offset
    if (Math.abs(skew) <= DRIFT_MS) {
      this.offset += skew
      this.jumpSince = null
      return { time: wall, steady: true }
    }
    if (this.jumpSince === null) {
      this.jumpSince = mono
      this.onJump({ ms: Math.round(skew) })
    }
    if (mono - this.jumpSince >= BELIEVE_AFTER_MS) {
      this.offset += skew
      this.jumpSince = null
      return { time: wall, steady: true }
    }
    // whole milliseconds: the store's DateTime64(3) takes no fraction beyond them
    return { time: Math.floor(this.offset + mono), steady: false }
  }

  /** The time to trust now (the wall clock, or the monotonic one while a jump is not believed). */
  now(): number {
    return this.observe().time
  }

  /** The time for an event received now: never earlier than the last one given. */
  eventTime(): number {
    const t = Math.max(this.observe().time, this.last)
    this.last = t
    return t
  }

  /** Whether the wall clock can be believed now (false during a jump of under an hour). */
  steady(): boolean {
    return this.observe().steady
  }
}
