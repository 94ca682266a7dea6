// Histogram counts kept by a thread without a registry of its own (an account shard): the same
// buckets as the main thread's histogram of that name, counted per observation here and sent
// to the main thread as totals now and then, which it adds to its own observations at scrape
// time (summed-histogram.ts). Plain counters, no labels object per observation: this runs for
// every event.
// Deliberately not here: sending the totals (the shard decides when).

/** One series' totals: observations per bucket (not cumulative; the last is above every bound). */
export interface BucketTotals {
  readonly buckets: readonly number[]
  readonly sum: number
  readonly count: number
}

/** Per metric name, per value of its one label ('' for a histogram without labels). */
export type HistogramTotals = Readonly<Record<string, Readonly<Record<string, BucketTotals>>>>

interface Series {
  readonly buckets: number[]
  sum: number
  count: number
}

export class HistogramCounts {
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, Series>()

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
  }

  /** Counts `value` (seconds) in the series of `label`. */
  observe(value: number, label = ''): void {
    let s = this.#series.get(label)
    if (s === undefined) {
      s = { buckets: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 }
      this.#series.set(label, s)
    }
    // The first bound at or above the value, as prom-client counts it.
    let i = 0
    while (i < this.#bounds.length && value > this.#bounds[i]!) i++
    s.buckets[i]!++
    s.sum += value
    s.count++
  }

  totals(): Record<string, BucketTotals> {
    const out: Record<string, BucketTotals> = {}
    for (const [label, s] of this.#series) {
      out[label] = { buckets: [...s.buckets], sum: s.sum, count: s.count }
    }
    return out
  }
}
