// Prometheus counters and gauges whose values are read from the relay at scrape time (prom-client
// `collect`), so the per-event hot path never touches them: each scrape resets the metric and
// writes what `read` emits. Also a per-scrape memo, for work several metrics share.
// Deliberately not here: hot-path metrics (histograms are observed where the work happens).
import { Counter, Gauge, type Registry } from 'prom-client'

export type Labels<L extends string> = Partial<Record<L, string | number>>

/** Emits one value (with its labels, when the metric has label names). */
export type Emit<L extends string> = (value: number, labels?: Labels<L>) => void

export interface ScrapeMetricSpec<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames?: readonly L[]
  readonly read: (emit: Emit<L>) => void
}

/** A counter read at scrape time: `read` emits cumulative values that only grow. */
export function scrapeCounter<L extends string = never>(
  registry: Registry,
  spec: ScrapeMetricSpec<L>,
): Counter<L> {
  return new Counter<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    collect(this: Counter<L>) {
      this.reset()
      spec.read((value, labels) => this.inc(labels ?? {}, Math.max(0, value)))
    },
  })
}

/** A gauge read at scrape time. */
export function scrapeGauge<L extends string = never>(
  registry: Registry,
  spec: ScrapeMetricSpec<L>,
): Gauge<L> {
  return new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    collect(this: Gauge<L>) {
      this.reset()
      spec.read((value, labels) => this.set(labels ?? {}, value))
    },
  })
}

/**
 * A value computed at most once per scrape: every `collect` of one scrape runs in the same
 * synchronous pass (prom-client calls them all before awaiting), and the memo is cleared in a
 * microtask, after that pass.
 */
export class ScrapeMemo<T> {
  readonly #compute: () => T
  #value: { v: T } | undefined

  constructor(compute: () => T) {
    this.#compute = compute
  }

  get(): T {
    if (this.#value === undefined) {
      this.#value = { v: this.#compute() }
      queueMicrotask(() => {
        this.#value = undefined
      })
    }
    return this.#value.v
  }
}
