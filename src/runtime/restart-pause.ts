// When to start a replacement for a thread that died. A thread that dies after it was up is
// replaced at once: the failure was its work's (a task that crashed it, say), and a new thread
// can take over. One that dies before it was up (or cannot be created at all) most likely cannot
// start here (a broken entry, no memory, no threads left), so each such failure in a row doubles
// the pause before the next try, from RESTART_PAUSE_MIN_MS to RESTART_PAUSE_MAX_MS, instead of a
// loop that spends a core creating threads. A thread is up once its owner says so (`up()`, when
// the thread has said it listens), or else once it has lived QUICK_FAILURE_MS. Bookkeeping, and
// `restartAfter` to act on it; the owner keeps the timer. Used by the verify pool and the socket
// threads.

/** A thread never said to be up that fails within this long of starting is restarted after a
 * pause. */
export const QUICK_FAILURE_MS = 1_000
export const RESTART_PAUSE_MIN_MS = 100
export const RESTART_PAUSE_MAX_MS = 30_000

export class RestartPause {
  readonly #now: () => number
  #startedAt = 0
  #up = false
  #quickFailures = 0

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** The thread started now. */
  started(): void {
    this.#startedAt = this.#now()
    this.#up = false
  }

  /** The thread is up (it has said it listens): a death from now on is its work's. */
  up(): void {
    this.#up = true
    this.#quickFailures = 0
  }

  /** The thread died: milliseconds to wait before starting its replacement (0: at once). */
  failed(): number {
    const quick = !this.#up && this.#now() - this.#startedAt < QUICK_FAILURE_MS
    this.#quickFailures = quick ? this.#quickFailures + 1 : 0
    return this.#pause()
  }

  /** No thread could be created: milliseconds to wait before trying again (never 0). */
  notCreated(): number {
    this.#quickFailures++
    return this.#pause()
  }

  #pause(): number {
    if (this.#quickFailures === 0) return 0
    return Math.min(RESTART_PAUSE_MAX_MS, RESTART_PAUSE_MIN_MS * 2 ** (this.#quickFailures - 1))
  }
}

/**
 * Calls `start` after `pauseMs` (0: on the next turn of the event loop, never from inside the
 * caller, which is usually handling the old thread's death) on a timer that does not keep the
 * process alive, returned for the owner to clear when it closes.
 */
export function restartAfter(pauseMs: number, start: () => void): NodeJS.Timeout {
  const timer = setTimeout(start, pauseMs)
  timer.unref()
  return timer
}
