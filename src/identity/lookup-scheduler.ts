// Scheduling of upstream lookups by key: one lookup per key at a time (later callers join it),
// at most `maxConcurrent` running, a FIFO wait queue of at most `maxQueue`, and cancellation
// when every caller waiting on a lookup has aborted (dequeued if queued, its signal aborted if
// running). A lookup can be detached (purge): it keeps answering its own waiters, new callers
// start a fresh one, and its settle step is told so it can avoid caching an outdated answer.
//
// Deliberately not here: caching, TTLs and refusal policy. `isFull()` says when a new lookup
// would exceed the queue; the caller decides what to do (cache.ts refuses or serves stale).
// `run()` itself never refuses.

export type Outcome<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly error: unknown }

export interface LookupSchedulerOptions<R, T> {
  readonly maxConcurrent: number
  readonly maxQueue: number
  /** The upstream work; must honour `signal`. */
  readonly fetch: (key: string, signal: AbortSignal) => Promise<R>
  /**
   * Turns the upstream outcome into what the waiters get (return) or fail with (throw). Runs
   * once per lookup that still has waiters, after the lookup stopped being joinable. `detached`
   * is true when the lookup was detached while running.
   */
  readonly settle: (key: string, outcome: Outcome<R>, detached: boolean) => T
  /** What a waiter whose own signal aborted is rejected with. */
  readonly aborted: (key: string, signal: AbortSignal) => unknown
}

interface Lookup<T> {
  readonly key: string
  readonly promise: Promise<T>
  readonly resolve: (value: T) => void
  readonly reject: (reason: unknown) => void
  readonly controller: AbortController
  state: 'queued' | 'running' | 'done'
  /** Waiters still interested; signal-less waiters never leave. */
  waiters: number
  detached: boolean
  /** Every waiter aborted: nobody listens, settle is skipped. */
  abandoned: boolean
}

export class LookupScheduler<R, T> {
  readonly #options: LookupSchedulerOptions<R, T>
  readonly #joinable = new Map<string, Lookup<T>>()
  readonly #queue = new Set<Lookup<T>>() // insertion order = FIFO, O(1) removal on abandon
  #running = 0

  constructor(options: LookupSchedulerOptions<R, T>) {
    this.#options = options
  }

  get running(): number {
    return this.#running
  }

  get queued(): number {
    return this.#queue.size
  }

  /** A lookup for `key` is queued or running and can be joined. */
  has(key: string): boolean {
    return this.#joinable.has(key)
  }

  /** Starting one more lookup now would exceed the wait queue. */
  isFull(): boolean {
    return (
      this.#running >= this.#options.maxConcurrent && this.#queue.size >= this.#options.maxQueue
    )
  }

  /** Joins the lookup for `key`, or starts one (running now or queued). */
  run(key: string, signal?: AbortSignal): Promise<T> {
    const lookup = this.#joinable.get(key) ?? this.#start(key)
    lookup.waiters++
    if (signal === undefined) return lookup.promise
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        reject(this.#options.aborted(key, signal))
        this.#leave(lookup)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      lookup.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort)
          resolve(value)
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        },
      )
    })
  }

  /** New callers for `key` start afresh; a running lookup is settled as detached. */
  detach(key: string): void {
    const lookup = this.#joinable.get(key)
    if (lookup?.state !== 'running') return // a queued lookup has not asked anything yet: keep it
    lookup.detached = true
    this.#joinable.delete(key)
  }

  #start(key: string): Lookup<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>()
    promise.catch(() => {}) // an abandoned lookup has no listener left
    const lookup: Lookup<T> = {
      key,
      promise,
      resolve,
      reject,
      controller: new AbortController(),
      state: 'queued',
      waiters: 0,
      detached: false,
      abandoned: false,
    }
    this.#joinable.set(key, lookup)
    if (this.#running < this.#options.maxConcurrent) void this.#execute(lookup)
    else this.#queue.add(lookup)
    return lookup
  }

  async #execute(lookup: Lookup<T>): Promise<void> {
    lookup.state = 'running'
    this.#running++
    let outcome: Outcome<R>
    try {
      outcome = { ok: true, value: await this.#options.fetch(lookup.key, lookup.controller.signal) }
    } catch (error) {
      outcome = { ok: false, error }
    }
    lookup.state = 'done'
    this.#running--
    this.#unjoin(lookup)
    if (!lookup.abandoned) {
      try {
        lookup.resolve(this.#options.settle(lookup.key, outcome, lookup.detached))
      } catch (err) {
        lookup.reject(err)
      }
    }
    this.#pump()
  }

  #pump(): void {
    while (this.#running < this.#options.maxConcurrent) {
      const next = this.#queue.values().next()
      if (next.done) return
      this.#queue.delete(next.value)
      void this.#execute(next.value)
    }
  }

  /** A waiter aborted; when it was the last one, drop the lookup. */
  #leave(lookup: Lookup<T>): void {
    lookup.waiters--
    if (lookup.waiters > 0 || lookup.state === 'done') return
    lookup.abandoned = true
    this.#unjoin(lookup)
    if (lookup.state === 'queued') this.#queue.delete(lookup)
    else lookup.controller.abort()
  }

  #unjoin(lookup: Lookup<T>): void {
    if (this.#joinable.get(lookup.key) === lookup) this.#joinable.delete(lookup.key)
  }
}
