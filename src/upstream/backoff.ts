// Reconnect delays for one upstream host: exponential growth with "full jitter" (each delay is
// uniform in [0, min(max, initial * 2^attempt)]), so thousands of hosts that dropped together do
// not reconnect in lockstep. `reset()` after a connection proved healthy.
// Deliberately not here: timers and deciding when a connection counts as healthy (the caller).

export interface BackoffOptions {
  readonly initialMs: number
  readonly maxMs: number
  /** Uniform in [0, 1); injectable for tests. */
  readonly random?: () => number
}

export class Backoff {
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #random: () => number
  #attempt = 0

  constructor(opts: BackoffOptions) {
    if (!(opts.initialMs > 0) || !(opts.maxMs >= opts.initialMs)) {
      throw new RangeError('backoff needs 0 < initialMs <= maxMs')
    }
    this.#initialMs = opts.initialMs
    this.#maxMs = opts.maxMs
    this.#random = opts.random ?? Math.random
  }

  /** Failures since the last reset. */
  get attempt(): number {
    return this.#attempt
  }

  /** The cap of the next delay (before jitter). */
  get ceilingMs(): number {
    // 2^attempt overflows to Infinity long after the cap is reached; min() keeps it finite.
    return Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 64))
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const delay = Math.floor(this.#random() * this.ceilingMs)
    this.#attempt++
    return delay
  }

  reset(): void {
    this.#attempt = 0
  }
}
