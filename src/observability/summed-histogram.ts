// A histogram observed in several threads, served as one: the main thread's own observations (a
// prom-client histogram in no registry) plus the totals each account shard last sent
// (histogram-counts.ts), summed series by series and bucket by bucket at scrape time. A shard's
// totals only grow, and the last ones it sent are kept, so the sum never goes back (Prometheus
// would read that as a counter reset).
// Deliberately not here: observing (the threads do), which shards exist (the sources say).
import { Histogram, type Metric, type MetricValue, type Registry } from 'prom-client'
import type { BucketTotals, HistogramTotals } from './histogram-counts.ts'

export interface SummedHistogramSpec<L extends string> {
  readonly name: string
  readonly help: string
  /** The one label name, for a labelled histogram. */
  readonly label?: L
  readonly bounds: readonly number[]
  /** The other threads' totals, each the last a thread sent. */
  readonly others: () => readonly HistogramTotals[]
}

type Value = MetricValue<string> & { metricName?: string }

/** Registers the summed histogram; returns this thread's own, to observe into. */
export function registerSummedHistogram<L extends string = never>(
  registry: Registry,
  spec: SummedHistogramSpec<L>,
): Histogram<L> {
  // This thread's observations: a histogram registered nowhere, read by the summed one.
  const local = new Histogram<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.label ? [spec.label] : [],
    buckets: [...spec.bounds],
    registers: [],
  })
  const metric = {
    name: spec.name,
    help: spec.help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const own = await local.get()
      const sums = new Map<string, Value>()
      const add = (v: Value) => {
        const key = seriesKey(v)
        const seen = sums.get(key)
        if (seen) seen.value += v.value
        else sums.set(key, { ...v, labels: { ...v.labels } })
      }
      for (const v of own.values as Value[]) add(v)
      for (const totals of spec.others()) {
        const series = totals[spec.name]
        if (!series) continue
        for (const [label, t] of Object.entries(series)) {
          for (const v of seriesValues(spec, label, t)) add(v)
        }
      }
      return {
        name: spec.name,
        help: spec.help,
        type: 'histogram',
        aggregator: 'sum',
        values: [...sums.values()],
      }
    },
    reset: () => local.reset(),
  }
  // prom-client formats any registered object with a name and a `get` like its own histograms.
  registry.registerMetric(metric as unknown as Metric<string>)
  return local
}

function seriesKey(v: Value): string {
  const labels = Object.entries(v.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `${v.metricName ?? ''} ${JSON.stringify(labels)}`
}

/** One series' totals as the exposition's values: cumulative buckets, +Inf, sum, count. */
function seriesValues(spec: SummedHistogramSpec<string>, label: string, t: BucketTotals): Value[] {
  const labels: Record<string, string | number> = spec.label ? { [spec.label]: label } : {}
  const out: Value[] = []
  let cumulative = 0
  spec.bounds.forEach((le, i) => {
    cumulative += t.buckets[i] ?? 0
    // `le` first, as prom-client prints its own series.
    out.push({ metricName: `${spec.name}_bucket`, labels: { le, ...labels }, value: cumulative })
  })
  out.push({ metricName: `${spec.name}_bucket`, labels: { le: '+Inf', ...labels }, value: t.count })
  out.push({ metricName: `${spec.name}_sum`, labels, value: t.sum })
  out.push({ metricName: `${spec.name}_count`, labels, value: t.count })
  return out
}
