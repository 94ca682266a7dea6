// How many of the events the main thread verifies itself, while ingest runs there (no account
// shards). A verification handed to a verify worker costs the relay more CPU in all than the
// same verification on the main thread: the task and its answer are posted, a sleeping worker
// is woken, and the two threads preempt each other on a small machine. On the development box
// (two cores) the relay used ~0.79 cores at 3,000 commits/s verifying every event on the main
// thread against ~1.15 with workers (BENCHMARKS.md, session 21). But the main thread is one
// core: verifying everything there caps the relay near 3,500 commits/s where the workers carry
// ~5,000. So the main thread takes a share of the events, steered by how busy its event loop
// was over the last window: towards more while it was under the target, towards fewer (four
// times as fast) while it was over, so a burst hands the work back to the workers within a few
// windows and the main thread keeps room for the log and fan-out.
// Pure: the caller gives the clock and the reading of the event loop. Deliberately not here:
// running a verification (event-verification.ts); whole repos (a resync's, seconds of CPU),
// which always go to a worker.

/** A window's length: the share is steered once per window, from that window's reading. */
export const SHARE_WINDOW_MS = 100

/** Share gained per window for each point the event loop was under the target. */
const RISE = 0.5
/** Share lost per window for each point it was over: a burst must not wait for the main thread. */
const FALL = 2

export interface InlineShareOptions {
  /**
   * The busy fraction of the event loop (0 to 1) the share steers towards. 0: the main thread
   * verifies nothing; 1: everything (no workers for events).
   */
  readonly target: number
  /** The event loop's busy fraction since the previous call (runtime/thread-busy.ts). */
  readonly busySinceLast: () => number
  readonly now: () => number
}

export class InlineShare {
  readonly #target: number
  readonly #busySinceLast: () => number
  readonly #now: () => number
  /** The fraction of events this thread takes, 0 to 1. */
  #share: number
  /** Events owed to this thread: it takes one each time this reaches 1. */
  #credit = 0
  #windowEnd: number

  constructor(opts: InlineShareOptions) {
    this.#target = Math.min(1, Math.max(0, opts.target))
    this.#busySinceLast = opts.busySinceLast
    this.#now = opts.now
    // Starts with none: a restart's catch-up must not land on the main thread first.
    this.#share = this.#target >= 1 ? 1 : 0
    this.#windowEnd = this.#now() + SHARE_WINDOW_MS
    // The first window's reading starts now.
    if (this.#steered) this.#busySinceLast()
  }

  /** The fraction of events the main thread takes now. */
  get share(): number {
    return this.#share
  }

  /** Whether this thread verifies the next event; called once per event. */
  take(): boolean {
    if (this.#steered) {
      const now = this.#now()
      if (now >= this.#windowEnd) {
        this.steer(this.#busySinceLast())
        this.#windowEnd = now + SHARE_WINDOW_MS
      }
    }
    this.#credit += this.#share
    if (this.#credit < 1) return false
    this.#credit -= 1
    return true
  }

  /** One window's reading of the event loop (busy fraction, 0 to 1): the share moves with it. */
  steer(busy: number): void {
    if (!this.#steered) return
    const off = this.#target - busy
    const next = this.#share + (off >= 0 ? RISE : FALL) * off
    this.#share = Math.min(1, Math.max(0, next))
  }

  /** With a target of 0 or 1 the share is fixed. */
  get #steered(): boolean {
    return this.#target > 0 && this.#target < 1
  }
}
