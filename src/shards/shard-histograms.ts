// The hot-path histograms an account shard observes (its verifications, loans to other shards
// included, and its identity resolutions), counted here and sent to the main thread as totals
// at most once a second, on a timer of their own: the main thread adds them to its own
// observations at scrape time (observability/summed-histogram.ts), so the relay's histograms
// read the same with shards as without.
// Deliberately not here: the database batch histogram (the main thread times each checkpoint,
// the shards' saves included).
import { HistogramCounts, type HistogramTotals } from '../observability/histogram-counts.ts'
import {
  IDENTITY_BUCKETS,
  IDENTITY_HISTOGRAM,
  type TimedResolver,
  timedResolver,
  VERIFY_BUCKETS,
  VERIFY_HISTOGRAM,
} from '../observability/thread-histograms.ts'

/** The least time between two sends of the totals. */
const HISTOGRAMS_EVERY_MS = 1000

export class ShardHistograms {
  readonly #verify = new HistogramCounts(VERIFY_BUCKETS)
  readonly #identity = new HistogramCounts(IDENTITY_BUCKETS)
  readonly #send: (totals: HistogramTotals) => void
  #sentAt = Number.NEGATIVE_INFINITY
  #timer: NodeJS.Timeout | undefined

  /** `send` posts the totals to the main thread. */
  constructor(send: (totals: HistogramTotals) => void) {
    this.#send = send
  }

  /** Runs a verification, timed. */
  timeVerify<T>(run: () => Promise<T>): Promise<T> {
    const start = performance.now()
    return run().finally(() => {
      this.#verify.observe((performance.now() - start) / 1000)
      this.#changed()
    })
  }

  /** `resolver` with each resolution timed by result. */
  timeIdentity = <T>(resolver: TimedResolver<T>): TimedResolver<T> =>
    timedResolver(resolver, (seconds, result) => {
      this.#identity.observe(seconds, result)
      this.#changed()
    })

  /** Sends what is left unsent now (the thread is ending). */
  close(): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#sendNow()
  }

  #changed(): void {
    if (this.#timer !== undefined) return
    const wait = Math.max(0, this.#sentAt + HISTOGRAMS_EVERY_MS - performance.now())
    this.#timer = setTimeout(() => this.#sendNow(), wait)
    this.#timer.unref()
  }

  #sendNow(): void {
    this.#timer = undefined
    this.#sentAt = performance.now()
    this.#send({
      [VERIFY_HISTOGRAM]: this.#verify.totals(),
      [IDENTITY_HISTOGRAM]: this.#identity.totals(),
    })
  }
}
