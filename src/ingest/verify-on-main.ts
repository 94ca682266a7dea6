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
//   (one alone may be a collection or a checkpoint); then to the workers, and the rate the main
//   thread could carry is worked out from those windows (busy time taken as proportional to the
//   rate, with a margin): the ceiling;
// - in the workers, until a window's rate is under that ceiling; then back. The ceiling creeps
//   up by ~12% a minute meanwhile, so a main thread that got faster (a lighter mix of commits), or
//   a ceiling set low by something else keeping the main thread busy, is tried again: a try that
//   fails costs two windows on a busy main thread.
// Pure: the caller gives the clock and the reading of the event loop. Deliberately not here:
// running a verification (event-verification.ts); whole repos (a resync's, seconds of CPU),
// which always go to a worker.

/** A window's length: the place is decided once per window, from that window's reading. */
export const PLACE_WINDOW_MS = 100

/** The ceiling is this share of the rate the main thread would carry at the target. */
const MARGIN = 0.9
/** The ceiling's growth per window in the workers (~12% a minute: 600 windows). */
const CREEP = 1.0002

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
  /** Events per second the main thread is thought to carry alone; unknown at first. */
  #ceiling = Number.POSITIVE_INFINITY
  #windowStart: number
  #events = 0
  /** The last window on the main thread, when it was over the target (rate, busy). */
  #over: { rate: number; busy: number } | null = null

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

  /** The rate the main thread is thought to carry alone (events a second; Infinity: unknown). */
  get ceiling(): number {
    return this.#ceiling
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
      const over = busy > this.#target ? { rate, busy } : null
      const before = this.#over
      this.#over = over
      if (over === null || before === null) return
      this.#onMain = false
      this.#over = null
      this.#ceiling = (MARGIN * this.#target * (before.rate + rate)) / (before.busy + busy)
      return
    }
    if (rate < this.#ceiling) this.#onMain = true
    else this.#ceiling *= CREEP
  }

  /** With a target of 0 or 1 the place is fixed. */
  get #steered(): boolean {
    return this.#target > 0 && this.#target < 1
  }
}
