// The relay's Prometheus metrics (issue 5): one registry per relay (no global), process and
// Node.js metrics (`process_*`, `nodejs_*`, prom-client's standard names), the relay's own
// `relay_*` metrics read from its parts at scrape time (metrics-hosts.ts, metrics-pipeline.ts),
// and the few histograms that must be observed where the work happens: verification, identity
// resolution, database batches (checkpoints) and HTTP requests.
// Label cardinality is bounded: hostnames (capped, see metrics-hosts.ts), drop reasons (a closed
// list), event types, states, route paths from a fixed list, status codes. Never DIDs, consumer
// addresses or user agents.
// Two steps, so the histograms can be handed to parts while they are built: `createMetrics()`,
// then `collectFrom(sources)` once every part exists.
// Deliberately not here: serving /metrics (metrics-server.ts), logging, choosing what to observe
// (the composition root wraps the calls it wants timed).
import { getHeapStatistics } from 'node:v8'
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { HistogramTotals } from './histogram-counts.ts'
import { instrumentRequests, type RequestEmitter } from './http-metrics.ts'
import { registerHostMetrics } from './metrics-hosts.ts'
import {
  registerFanoutMetrics,
  registerHttpMetrics,
  registerIdentityMetrics,
  registerIngestMetrics,
  registerLogMetrics,
} from './metrics-pipeline.ts'
import { registerResyncMetrics } from './metrics-resync.ts'
import type { MetricsSources } from './metrics-sources.ts'
import { registerThreadMetrics } from './metrics-threads.ts'
import { registerSummedHistogram } from './summed-histogram.ts'
import {
  IDENTITY_BUCKETS,
  IDENTITY_HELP,
  IDENTITY_HISTOGRAM,
  type TimedResolver,
  timedResolver,
  VERIFY_BUCKETS,
  VERIFY_HELP,
  VERIFY_HISTOGRAM,
} from './thread-histograms.ts'

export type { MetricsSources } from './metrics-sources.ts'
export type { TimedResolver } from './thread-histograms.ts'

export interface MetricsOptions {
  /** Per-host series (`relay_host_*`) are exported for at most this many hosts. Default 1,000. */
  readonly maxHosts?: number
  /** Process and Node.js metrics. Default true. */
  readonly processMetrics?: boolean
  /** Exported as `relay_build_info{version}`. */
  readonly version?: string
}

/** Seconds: 1 ms to 30 s (a checkpoint transaction). */
export const DB_BATCH_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]
/** Seconds: 1 ms to 10 s. */
export const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface RelayMetrics {
  readonly registry: Registry
  /** Seconds per verification, queueing in the worker pool included. */
  readonly verifyLatency: Histogram
  /** Seconds per upstream identity resolution, by `result` (ok, not_found, error). */
  readonly identityLatency: Histogram<'result'>
  /** Seconds per database batch (checkpoint: account states and cursors). */
  readonly dbBatchLatency: Histogram
  /** Seconds per HTTP request, by `route` and `status` (see `instrumentHttp`). */
  readonly httpLatency: Histogram<'route' | 'status'>
  /**
   * Observes every request of an HTTP server (its `request` events). `routes` are the paths to
   * label as themselves (`/dash/*` covers a prefix); others are `other`. Returns a detach function.
   */
  instrumentHttp(server: RequestEmitter, routes: Iterable<string>): () => void
  /** Wraps an identity resolver so each resolution is timed and counted by result. */
  timeIdentity<T>(resolver: TimedResolver<T>): TimedResolver<T>
  /**
   * Registers the metrics read from the relay's parts at scrape time. Call once, when the parts
   * exist (the histograms above can be used before, while the parts are being built).
   */
  collectFrom(sources: MetricsSources): void
  /** Unregisters everything (the registry is empty afterwards). */
  close(): void
}

export function createMetrics(options: MetricsOptions = {}): RelayMetrics {
  const maxHosts = options.maxHosts ?? 1000
  if (!Number.isSafeInteger(maxHosts) || maxHosts < 0)
    throw new RangeError(`maxHosts must be a non-negative integer: ${maxHosts}`)
  const registry = new Registry()
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry })
    // Memory V8 takes with malloc for itself (compiler zones, tables): part of the resident set
    // that neither the heap nor the external-memory figures show.
    new Gauge({
      name: 'nodejs_v8_malloced_bytes',
      help: "Bytes the main thread's V8 holds through malloc for itself (not its heap, not buffers).",
      registers: [registry],
      collect(this: Gauge) {
        this.set(getHeapStatistics().malloced_memory)
      },
    })
  }
  if (options.version !== undefined) {
    const info = new Gauge({
      name: 'relay_build_info',
      help: 'The running relay version (value 1).',
      labelNames: ['version'],
      registers: [registry],
    })
    info.set({ version: options.version }, 1)
  }

  // Observed on the main thread and, with account shards, in each shard (which sends its totals):
  // served as one histogram each, the shards' totals added at scrape time.
  let shardTotals: () => readonly HistogramTotals[] = () => []
  const verifyLatency = registerSummedHistogram(registry, {
    name: VERIFY_HISTOGRAM,
    help: VERIFY_HELP,
    bounds: VERIFY_BUCKETS,
    others: () => shardTotals(),
  })
  const identityLatency = registerSummedHistogram(registry, {
    name: IDENTITY_HISTOGRAM,
    help: IDENTITY_HELP,
    label: 'result',
    bounds: IDENTITY_BUCKETS,
    others: () => shardTotals(),
  })
  const dbBatchLatency = new Histogram({
    name: 'relay_db_batch_duration_seconds',
    help: 'Time to write one database batch (checkpoint of account states and cursors).',
    buckets: DB_BATCH_BUCKETS,
    registers: [registry],
  })
  const httpLatency = new Histogram<'route' | 'status'>({
    name: 'relay_http_request_duration_seconds',
    help: 'HTTP requests to the API, by route and status.',
    labelNames: ['route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  })

  let collecting = false
  return {
    registry,
    verifyLatency,
    identityLatency,
    dbBatchLatency,
    httpLatency,
    instrumentHttp: (server, routes) => instrumentRequests(server, httpLatency, routes),
    timeIdentity: <T>(resolver: TimedResolver<T>): TimedResolver<T> =>
      timedResolver(resolver, (seconds, result) => identityLatency.observe({ result }, seconds)),
    collectFrom: (sources) => {
      if (collecting) throw new Error('metrics: collectFrom() was already called')
      collecting = true
      const shards = sources.shards
      if (shards !== undefined) shardTotals = () => shards.histogramTotals()
      registerHostMetrics(registry, sources, maxHosts)
      registerIngestMetrics(registry, sources)
      registerLogMetrics(registry, sources)
      registerFanoutMetrics(registry, sources)
      registerIdentityMetrics(registry, sources)
      registerHttpMetrics(registry, sources)
      registerResyncMetrics(registry, sources)
      registerThreadMetrics(registry, sources)
    },
    close: () => registry.clear(),
  }
}
