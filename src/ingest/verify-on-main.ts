// Whether the main thread verifies the events itself, while ingest runs there (no account
// shards), or hands them to the verify workers. A verification handed to a worker costs the
// relay more CPU in all than the same verification on the main thread: the task and its answer
// are posted, a sleeping worker is woken, and the threads preempt each other on a small
// machine. On the development box (two cores) the relay used a quarter less CPU at 1,000–2,000
// commits/s with every event verified on the main thread (BENCHMARKS.md, session 21). But the
// main thread is one core and caps near 3,500 commits/s alone, and sharing the events between
// it and the workers was worse than either: the workers, given fewer tasks, were woken as often
// for each, and the main thread ran near full. So it is one or the other:
// - on the main thread, until two 100 ms windows in a row find its event loop busier than the
//   target (one alone may be a collection or a checkpoint); then to the workers;
// - in the workers for a while, then tried on the main thread again. The while is 5 s, doubled
//   each time a try ends within 30 s (the rate is still too high), up to 5 minutes, and back to
//   5 s after a stay of 30 s or more. A try that fails costs two windows on a busy main thread:
//   a few tens of milliseconds of delay, at most once in 5 minutes at a steady rate it cannot
//   carry. What kept the main thread busy besides verifying (a restart's new identities, a
//   replay) sends the events to the workers only until the next try.
// Busy time rather than CPU: it is what the events wait behind (CPU leaves out the time the
// thread waits for a core on a busy machine).
// Pure: the caller gives the clock and the reading of the event loop. Deliberately not here:
// running a verification (event-verification.ts); whole repos (a resync's, seconds of CPU),
// which always go to a worker.

/** A window's length: the place is decided once per window, from that window's reading. */
export const PLACE_WINDOW_MS = 100
/** The first wait in the workers before the main thread is tried again. */
export const FIRST_WAIT_MS = 5_000
/** The longest wait. */
export const LONGEST_WAIT_MS = 300_000
/** A stay on the main thread this long counts as a success: the wait goes back to the first. */
export const GOOD_STAY_MS = 30_000
/**
 * How long the verify workers are kept with no event to verify while the main thread keeps them
 * all; they start again when it next hands them over. As long as the longest wait: where the
 * tries keep failing the workers always have events, and where the main thread has carried the
 * rate that long two idle isolates (~20 MB each) are not worth keeping. Much shorter was
 * measured worse: ended 30 s after their last task, the workers had to start each time the main
 * thread handed the events over, which lengthened the busy windows that sent them
 * (BENCHMARKS.md, session 21).
 */
export const IDLE_WORKERS_MS = LONGEST_WAIT_MS

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
  #windowStart: number
  /** Whether the last window on the main thread was over the target. */
  #over = false
  /** When the current place began. */
  #since: number
  /** How long the workers keep the events before the next try. */
  #wait = FIRST_WAIT_MS
  /** The current stay on the main thread is a try (it came back from the workers). */
  #trying = false

  constructor(opts: VerifyOnMainOptions) {
    this.#target = Math.min(1, Math.max(0, opts.target))
    this.#busySinceLast = opts.busySinceLast
    this.#now = opts.now
    this.#onMain = this.#target >= 1
    this.#windowStart = this.#now()
    this.#since = this.#windowStart
    // A steered relay starts on the main thread (a restart's catch-up that it cannot carry goes
    // to the workers after two windows); the first window's reading starts now.
    if (this.#steered) {
      this.#onMain = true
      this.#busySinceLast()
    }
  }

  /** Whether the main thread verifies events now. */
  get onMain(): boolean {
    return this.#onMain
  }

  /** How long the workers keep the events, once sent there, before the next try. */
  get waitMs(): number {
    return this.#wait
  }

  /** Whether this thread verifies the next event; called once per event. */
  take(): boolean {
    if (this.#steered) {
      const now = this.#now()
      if (now - this.#windowStart >= PLACE_WINDOW_MS) {
        this.decide(now, this.#busySinceLast())
        this.#windowStart = now
      }
    }
    return this.#onMain
  }

  /** A window ended at `now` with the event loop this busy (0 to 1): where the next go. */
  decide(now: number, busy: number): void {
    if (!this.#steered) return
    if (!this.#onMain) {
      if (now - this.#since < this.#wait) return
      this.#onMain = true
      this.#trying = true
      this.#since = now
      this.#over = false
      return
    }
    const over = busy > this.#target
    if (!(over && this.#over)) {
      this.#over = over
      return
    }
    // A try that ended soon: the rate is still more than the main thread carries; wait longer
    // next time. A long stay: start again from the first wait.
    const stayed = now - this.#since
    if (stayed >= GOOD_STAY_MS) this.#wait = FIRST_WAIT_MS
    else if (this.#trying) this.#wait = Math.min(LONGEST_WAIT_MS, 2 * this.#wait)
    this.#onMain = false
    this.#since = now
    this.#over = false
  }

  /** With a target of 0 or 1 the place is fixed. */
  get #steered(): boolean {
    return this.#target > 0 && this.#target < 1
  }
}
