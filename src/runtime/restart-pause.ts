// When to start a replacement for a thread that died. A thread that dies after it was up is
// replaced at once: the failure was its work's, and a new thread can take over. One that dies
// before it was up (or cannot be created at all) most likely cannot start or work here (a broken
// entry, no memory, no threads left, or an input that kills every thread at its first task), so
// each such failure in a row doubles the pause before the next try, from RESTART_PAUSE_MIN_MS to
// RESTART_PAUSE_MAX_MS, instead of a loop that spends a core creating threads. An owner that can
// tell (`signalsUp`) says when its thread is up (`up()`: the verify pool, at a worker's first
// answer; the archive writer, 10 s after its thread was ready); for the others a thread is up
// once it has lived QUICK_FAILURE_MS (the socket threads). It also keeps the restart's timer,
// so an owner only says what happened and cancels on close.

/** Without `signalsUp`, a thread that fails within this long of starting is restarted after a
 * pause. */
export const QUICK_FAILURE_MS = 1_000
export const RESTART_PAUSE_MIN_MS = 100
export const RESTART_PAUSE_MAX_MS = 30_000

export interface RestartPauseOptions {
  readonly now?: () => number
  /** The owner calls `up()` when its thread is up; time alone never counts then. */
  readonly signalsUp?: boolean
}

export class RestartPause {
  readonly #now: () => number
  readonly #signalsUp: boolean
  #startedAt = 0
  #up = false
  #quickFailures = 0
  #timer: NodeJS.Timeout | null = null

  constructor(options: RestartPauseOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#signalsUp = options.signalsUp ?? false
  }

  /** The thread started now. */
  started(): void {
    this.#startedAt = this.#now()
    this.#up = false
  }

  /** The thread is up (it has shown it works): a death from now on is its work's. */
  up(): void {
    this.#up = true
    this.#quickFailures = 0
  }

  /**
   * The thread died: `start` runs after the pause this returns (0: on the next turn of the event
   * loop, never from inside the caller, which is usually handling the old thread's death).
   */
  failed(start: () => void): number {
    const quick = !this.#up && (this.#signalsUp || this.#now() - this.#startedAt < QUICK_FAILURE_MS)
    this.#quickFailures = quick ? this.#quickFailures + 1 : 0
    return this.#schedule(start)
  }

  /** No thread could be created: `start` tries again after the pause this returns (never 0). */
  notCreated(start: () => void): number {
    this.#quickFailures++
    return this.#schedule(start)
  }

  /** Drops a restart still waiting (the owner is closing). */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #schedule(start: () => void): number {
    const pause =
      this.#quickFailures === 0
        ? 0
        : Math.min(RESTART_PAUSE_MAX_MS, RESTART_PAUSE_MIN_MS * 2 ** (this.#quickFailures - 1))
    this.cancel()
    // Does not keep the process alive: a relay that is stopping does not wait for it.
    this.#timer = setTimeout(() => {
      this.#timer = null
      start()
    }, pause)
    this.#timer.unref()
    return pause
  }
}
