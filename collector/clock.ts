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
 * The collector's time. Event times follow the wall clock but never go back: after the
 * system clock is set back, events keep the latest time given until the clock catches up,
 * so a jump neither reorders nor drops events. The monotonic clock tells a jump of the wall
 * clock from time passing; retention asks `steady()` before it deletes anything by date.
 */
export class Clock {
  private last = 0
  /** wall − monotonic, as last agreed. */
  private offset: number
  /** When (monotonic ms) the current jump was first seen, if one is in progress. */
  private jumpSince: number | null = null

  constructor(
    private onJump: (jump: ClockJump) => void = () => {},
    private wall: () => number = Date.now,
    private mono: () => number = () => performance.now(),
  ) {
    this.offset = wall() - mono()
  }

  /** The time for an event received now: the wall clock, never earlier than the last one. */
  eventTime(): number {
    const t = this.wall()
    if (t >= this.last) {
      this.last = t
      return t
    }
    if (this.last - t > DRIFT_MS) this.steady()
    return this.last
  }

  /**
   * Whether the wall clock agrees with the monotonic one (drift is absorbed). After a jump:
   * false, until the jump has lasted an hour, then it is believed and this is true again.
   */
  steady(): boolean {
    const mono = this.mono()
    const skew = this.wall() - mono - this.offset
    if (Math.abs(skew) <= DRIFT_MS) {
      this.offset += skew
      this.jumpSince = null
      return true
    }
    if (this.jumpSince === null) {
      this.jumpSince = mono
      this.onJump({ ms: Math.round(skew) })
    }
    if (mono - this.jumpSince >= BELIEVE_AFTER_MS) {
      this.offset += skew
      this.jumpSince = null
      return true
    }
    return false
  }
}
