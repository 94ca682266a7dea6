// Whether the main thread verifies the events itself, while ingest runs there (no account
// shards), or hands them to the verify workers. A verification handed to a worker costs the
// relay more CPU in all than the same verification on the main thread: the task and its answer
// are posted, a sleeping worker is woken, and the threads preempt each other on a small
// machine. On the development box (two cores) the relay used a quarter less CPU at 1,000–2,000
// commits/s with every event verified on the main thread (BENCHMARKS.md, session 21). But the
// main thread is one core and caps near 3,500 commits/s alone, and sharing the events between
// it and the workers was worse than either: the workers, given fewer tasks, were woken as often
// for each, and the main thread ran near full. So it is one or the other, decided once a window
// from what the window showed:
// - on the main thread, until two windows in a row find its event loop busier than the target
//   (one alone may be a collection or a checkpoint); then to the workers;
// - in the workers, until the main thread would carry the window's events with room to spare:
//   its busy fraction in that window, plus the window's events times what a verification on the
//   main thread took (measured while it verified, an average of the recent ones), under the
//   target less a 10% margin; then back. Before any verification has been measured, the first
//   window moves it. What kept the main thread busy besides verifying (a restart's new
//   identities, a replay) counts in the reading, so the events come back once it has passed.
// Pure: the caller gives the clock and the reading of the event loop. Deliberately not here:
// running a verification (event-verification.ts); whole repos (a resync's, seconds of CPU),
// which always go to a worker.

/** A window's length: the place is decided once per window, from that window's reading. */
export const PLACE_WINDOW_MS = 100

/** The events come back when the main thread would be busy at most this share of the target. */
const MARGIN = 0.9
/** Weight of each new measurement in the average cost of a verification on the main thread. */
const COST_WEIGHT = 0.02

export interface VerifyOnMainOptions {
  /**
   * The busy fraction of the event loop (0 to 1) over which the main thread hands the events to
   * the workers. 0: it never verifies them; 1: always (no workers for events).
   */
  readonly target: number
  /** The event loop's busy fraction since the previous call (runtime/thread-busy.ts). */
  readonly busySinceLast: () => number
  readonly now: () => number
}

export class VerifyOnMain {
  readonly #target: number
  readonly #busySinceLast: () => number
  readonly #now: () => number
  #onMain: boolean
  /** Milliseconds a verification takes the main thread, averaged; 0: none measured yet. */
  #costMs = 0
  #windowStart: number
  #events = 0
  /** Whether the last window on the main thread was over the target. */
  #over = false

  constructor(opts: VerifyOnMainOptions) {
    this.#target = Math.min(1, Math.max(0, opts.target))
    this.#busySinceLast = opts.busySinceLast
    this.#now = opts.now
    // A steered relay starts in the workers: a restart's catch-up must not land on the main
    // thread first (it moves after one window if the rate allows).
    this.#onMain = this.#target >= 1
    this.#windowStart = this.#now()
    // The first window's reading starts now.
    if (this.#steered) this.#busySinceLast()
  }

  /** Whether the main thread verifies events now. */
  get onMain(): boolean {
    return this.#onMain
  }

  /** Milliseconds a verification takes the main thread, averaged (0: none measured yet). */
  get costMs(): number {
    return this.#costMs
  }

  /** A verification on the main thread took this long (its own work, not what ran between). */
  ran(ms: number): void {
    this.#costMs = this.#costMs === 0 ? ms : this.#costMs + COST_WEIGHT * (ms - this.#costMs)
  }

  /** Whether this thread verifies the next event; called once per event. */
  take(): boolean {
    if (this.#steered) {
      const now = this.#now()
      const elapsed = now - this.#windowStart
      if (elapsed >= PLACE_WINDOW_MS) {
        this.decide((this.#events * 1000) / elapsed, this.#busySinceLast())
        this.#windowStart = now
        this.#events = 0
      }
      this.#events++
    }
    return this.#onMain
  }

  /** One window's rate (events a second) and busy fraction: where the next window's go. */
  decide(rate: number, busy: number): void {
    if (!this.#steered) return
    if (this.#onMain) {
      const over = busy > this.#target
      const twice = over && this.#over
      this.#over = over && !twice
      if (twice) this.#onMain = false
      return
    }
    const predicted = busy + (rate * this.#costMs) / 1000
    if (predicted <= MARGIN * this.#target) this.#onMain = true
  }

  /** With a target of 0 or 1 the place is fixed. */
  get #steered(): boolean {
    return this.#target > 0 && this.#target < 1
  }
}
