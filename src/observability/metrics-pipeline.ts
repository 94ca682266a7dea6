// Metrics read at scrape time from the pipeline after upstream: ingest outcomes, the verify
// worker pool, the event log, fan-out to consumers, and the identity cache. No per-consumer
// labels (no addresses, no user agents): consumer counts are totals and a count by state.
// Deliberately not here: per-host series (metrics-hosts.ts), hot-path histograms (metrics.ts).
import { Gauge, type Registry } from 'prom-client'
import type { MetricsSources } from './metrics-sources.ts'
import { RunningTotal } from './running-total.ts'
import { ScrapeMemo, scrapeCounter, scrapeGauge } from './scrape-metric.ts'

export function registerIngestMetrics(registry: Registry, s: MetricsSources): void {
  scrapeCounter(registry, {
    name: 'relay_events_accepted_total',
    help: 'Events verified and appended to the event log.',
    read: (emit) => emit(s.ingest.stats.accepted),
  })
  scrapeCounter(registry, {
    name: 'relay_ingest_errors_total',
    help: 'Events whose processing failed unexpectedly (a bug or an outage; see the logs).',
    read: (emit) => emit(s.ingest.stats.errors),
  })
  scrapeCounter(registry, {
    name: 'relay_ingest_retries_total',
    help: 'Attempts at an event made again because the database was away (the event waited).',
    read: (emit) => emit(s.ingest.stats.retries),
  })
  scrapeGauge(registry, {
    name: 'relay_ingest_in_flight',
    help: 'Events handed to ingest and not yet accepted or dropped (every host).',
    read: (emit) => emit(s.ingest.stats.inFlight),
  })
  scrapeGauge(registry, {
    name: 'relay_verify_pool_in_flight',
    help: 'Verification tasks running in the worker pool.',
    read: (emit) => emit(s.pool.stats.inFlight),
  })
  scrapeGauge(registry, {
    name: 'relay_verify_pool_queued',
    help: 'Verification tasks waiting for a worker.',
    read: (emit) => emit(s.pool.stats.queued),
  })
  scrapeCounter(registry, {
    name: 'relay_verify_pool_restarts_total',
    help: 'Verify workers that died and were replaced.',
    read: (emit) => emit(s.pool.stats.restarts),
  })
  const heaps = s.pool.heapStatistics?.bind(s.pool)
  if (heaps !== undefined) {
    threadHeapGauge(
      registry,
      'relay_verify_worker_heap_bytes',
      "V8 heap of the verify workers together (their own isolates, not in nodejs_heap_*), by kind: 'used' or 'total' (committed).",
      heaps,
    )
  }
  const shards = s.shards
  if (shards !== undefined) {
    threadHeapGauge(
      registry,
      'relay_account_shard_heap_bytes',
      "V8 heap of the account shards together (their own isolates, not in nodejs_heap_*), by kind: 'used' or 'total' (committed).",
      () => shards.heapStatistics(),
    )
  }
}

/** The heaps of a kind of worker thread, summed, as used and committed bytes. */
function threadHeapGauge(
  registry: Registry,
  name: string,
  help: string,
  heaps: () => Promise<readonly { readonly used: number; readonly total: number }[]>,
): void {
  new Gauge({
    name,
    help,
    labelNames: ['kind'],
    registers: [registry],
    async collect(this: Gauge<'kind'>) {
      let used = 0
      let total = 0
      for (const h of await heaps()) {
        used += h.used
        total += h.total
      }
      this.set({ kind: 'used' }, used)
      this.set({ kind: 'total' }, total)
    },
  })
}

export function registerLogMetrics(registry: Registry, s: MetricsSources): void {
  const memo = new ScrapeMemo(() => s.log.stats())
  const gauge = (name: string, help: string, read: () => number): void => {
    scrapeGauge(registry, { name, help, read: (emit) => emit(read()) })
  }
  const counter = (name: string, help: string, read: () => number): void => {
    scrapeCounter(registry, { name, help, read: (emit) => emit(read()) })
  }
  gauge('relay_output_seq', 'Last output seq assigned.', () => memo.get().lastSeq)
  gauge(
    'relay_eventlog_flushed_seq',
    'Last output seq written to the log (what consumers can see).',
    () => memo.get().flushedSeq,
  )
  gauge(
    'relay_eventlog_oldest_seq',
    'Oldest output seq retained for replay (0 when the log is empty).',
    () => memo.get().oldestSeq ?? 0,
  )
  gauge('relay_eventlog_bytes', 'Bytes in event-log segment files.', () => memo.get().bytes)
  gauge('relay_eventlog_segments', 'Event-log segment files.', () => memo.get().segments)
  gauge(
    'relay_eventlog_pending_bytes',
    'Bytes appended to the log and not yet written.',
    () => memo.get().pendingBytes,
  )
  counter(
    'relay_eventlog_records_written_total',
    'Records written to the event log.',
    () => memo.get().recordsWritten,
  )
  counter(
    'relay_eventlog_write_calls_total',
    'Write calls made by the event log (records / calls is the batch size).',
    () => memo.get().writeCalls,
  )
  counter('relay_eventlog_syncs_total', 'Event-log fdatasync calls.', () => memo.get().syncs)
  counter(
    'relay_eventlog_io_errors_total',
    'Failed event-log writes or syncs (each is retried).',
    () => memo.get().ioErrors,
  )
  gauge(
    'relay_eventlog_recovered_bytes',
    'Bytes cut off the end of the event log when this run opened it (a torn tail; 0 when clean).',
    () => memo.get().recovery.bytesTruncated,
  )
}

const CONSUMER_STATES = ['replaying', 'live']

export function registerFanoutMetrics(registry: Registry, s: MetricsSources): void {
  const memo = new ScrapeMemo(() => ({ consumers: s.fanout.consumers(), stats: s.fanout.stats() }))
  const events = new RunningTotal<number>()
  const bytes = new RunningTotal<number>()
  scrapeGauge(registry, {
    name: 'relay_consumers',
    help: 'Consumers connected to subscribeRepos, by state.',
    labelNames: ['state'],
    read: (emit) => {
      const byState = new Map<string, number>(CONSUMER_STATES.map((k) => [k, 0]))
      for (const c of memo.get().consumers) byState.set(c.state, (byState.get(c.state) ?? 0) + 1)
      for (const [state, n] of byState) emit(n, { state })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_consumer_buffered_bytes',
    help: 'Bytes waiting in the send buffers of all consumers together (bounded by --consumer-buffer-total).',
    read: (emit) => emit(s.fanout.bufferedBytes?.() ?? 0),
  })
  scrapeCounter(registry, {
    name: 'relay_consumer_events_sent_total',
    help: 'Events sent to consumers (all consumers).',
    read: (emit) => {
      const { consumers, stats } = memo.get()
      emit(stats.eventsSent ?? events.update(consumers.map((c) => [c.id, c.id, c.eventsSent])))
    },
  })
  scrapeCounter(registry, {
    name: 'relay_consumer_sent_bytes_total',
    help: 'Frame bytes sent to consumers (all consumers; WebSocket framing not counted).',
    read: (emit) => {
      const { consumers, stats } = memo.get()
      emit(stats.bytesSent ?? bytes.update(consumers.map((c) => [c.id, c.id, c.bytesSent])))
    },
  })
  scrapeCounter(registry, {
    name: 'relay_consumers_accepted_total',
    help: 'subscribeRepos connections accepted.',
    read: (emit) => emit(memo.get().stats.accepted),
  })
  scrapeCounter(registry, {
    name: 'relay_consumer_rejections_total',
    help: 'Consumers refused or disconnected by the relay, by reason.',
    labelNames: ['reason'],
    read: (emit) => {
      const st = memo.get().stats
      emit(st.futureCursor, { reason: 'future-cursor' })
      emit(st.tooManyConsumers, { reason: 'too-many-consumers' })
      emit(st.tooSlow, { reason: 'too-slow' })
      emit(st.overBudget ?? 0, { reason: 'buffers-full' })
      emit(st.pingTimeouts, { reason: 'ping-timeout' })
      emit(st.replayFailures, { reason: 'replay-failed' })
    },
  })
  scrapeCounter(registry, {
    name: 'relay_consumer_sockets_shed_total',
    help: 'Closing consumer sockets terminated before their close finished, because all consumers together were over --consumer-buffer-total.',
    read: (emit) => emit(memo.get().stats.shedClosing ?? 0),
  })
  scrapeCounter(registry, {
    name: 'relay_consumer_outdated_cursors_total',
    help: 'Consumers whose cursor was older than the retained window (told OutdatedCursor).',
    read: (emit) => emit(memo.get().stats.outdatedCursor),
  })
}

export function registerIdentityMetrics(registry: Registry, s: MetricsSources): void {
  const c = s.identity.counters
  const counter = (name: string, help: string, read: () => number): void => {
    scrapeCounter(registry, { name, help, read: (emit) => emit(read()) })
  }
  counter(
    'relay_identity_cache_hits_total',
    'Identity lookups answered from a fresh cached identity.',
    () => c.hits,
  )
  counter(
    'relay_identity_cache_negative_hits_total',
    'Identity lookups answered from a cached "DID not found".',
    () => c.negativeHits,
  )
  counter(
    'relay_identity_cache_misses_total',
    'Identity lookups that started an upstream resolution.',
    () => c.misses,
  )
  counter(
    'relay_identity_cache_coalesced_total',
    'Identity lookups that joined a resolution already under way.',
    () => c.coalesced,
  )
  counter(
    'relay_identity_stale_served_total',
    'Identity lookups answered with a stale identity (resolver failing or busy).',
    () => c.staleServed,
  )
  counter(
    'relay_identity_busy_total',
    'New identity lookups refused or served stale because the resolver queue was full.',
    () => c.busy,
  )
  counter(
    'relay_identity_cache_loaded_total',
    'Identities taken from those stored in the database (after a restart or an eviction) instead of resolved.',
    () => c.loaded,
  )
  counter(
    'relay_identity_store_failures_total',
    'Reads of the stored identities that failed or took over a second (the directory was asked instead).',
    () => c.storeFailures,
  )
  counter(
    'relay_identity_store_dropped_total',
    'Changes to the stored identities dropped to stay within their bound (while the database was away).',
    () => c.storeDropped,
  )
  counter(
    'relay_identity_cache_evictions_total',
    'Identities evicted to keep the cache within its size.',
    () => c.evictions,
  )
  const gauge = (name: string, help: string, key: 'entries' | 'running' | 'queued'): void => {
    scrapeGauge(registry, { name, help, read: (emit) => emit(s.identity.gauges()[key]) })
  }
  gauge('relay_identity_cache_entries', 'Identities (and not-found answers) cached.', 'entries')
  gauge('relay_identity_resolutions_running', 'Upstream identity resolutions running.', 'running')
  gauge('relay_identity_resolutions_queued', 'Identity resolutions waiting for a slot.', 'queued')
}

export function registerHttpMetrics(registry: Registry, s: MetricsSources): void {
  scrapeGauge(registry, {
    name: 'relay_http_connections',
    help: 'HTTP connections open on the API port (firehose consumers not included).',
    read: (emit) => emit(s.http.httpStats().open),
  })
  scrapeCounter<'reason'>(registry, {
    name: 'relay_http_refused_total',
    help: 'HTTP connections or requests cut off: per-address-limit, timeout (headers or body too slow), bad-request.',
    labelNames: ['reason'],
    read: (emit) => {
      for (const [reason, n] of Object.entries(s.http.httpStats().refused)) emit(n, { reason })
    },
  })
}
