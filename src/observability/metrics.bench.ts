// Metrics costs: the one hot-path call ingest makes per event (`EventTypeCounter.add`), a
// verification histogram observation, and a full scrape at the design scale (3,000 hosts with
// five drop reasons each, 300 consumers), per-host series capped at the default 1,000 hosts.
// Nothing here asserts on speed.
import { measure, measureAsync, note } from '../../bench/harness.ts'
import { EventTypeCounter } from './event-type-counter.ts'
import { createMetrics } from './metrics.ts'
import type { MetricsSources, UpstreamConnectionSource } from './metrics-sources.ts'

const HOSTS = 3000
const CONSUMERS = 300
const REASONS = ['bad-signature', 'stale-rev', 'future-rev', 'wrong-host', 'bad-car']
const TYPES = ['#commit', '#sync', '#identity', '#account'] as const

const eventTypes = new EventTypeCounter()
let n = 0
measure(
  'EventTypeCounter.add (3,000 hosts)',
  () => {
    for (let i = 0; i < 1000; i++) {
      n = (n + 7919) % HOSTS
      eventTypes.add(n + 1, TYPES[i & 3]!)
    }
  },
  { opsPerCall: 1000 },
)

const hosts = Array.from({ length: HOSTS }, (_, i) => ({
  id: i + 1,
  hostname: `pds-${i + 1}.example.com`,
  status: i % 10 === 0 ? 'offline' : 'active',
}))
const drops = new Map(
  hosts.map((h) => [h.id, new Map(REASONS.map((r, j) => [r, { count: h.id * (j + 1) }]))]),
)
const connections = new Map<number, UpstreamConnectionSource>(
  hosts.map((h) => [
    h.id,
    {
      state: 'connected',
      inFlight: h.id % 50,
      paused: false,
      stats: { framesReceived: h.id * 100, bytesReceived: h.id * 600_000, reconnects: 1 },
    },
  ]),
)
const consumers = Array.from({ length: CONSUMERS }, (_, i) => ({
  id: i + 1,
  state: 'live',
  eventsSent: i * 1000,
  bytesSent: i * 6_000_000,
}))
const sources: MetricsSources = {
  drops: {
    forHost: (id) => new Map(drops.get(id) ?? []),
    totals: () => new Map(REASONS.map((r) => [r, 1000])),
  },
  ingest: { stats: { received: 1, accepted: 1, dropped: 0, errors: 0, retries: 0, inFlight: 0 } },
  http: { httpStats: () => ({ open: 3, refused: { timeout: 1 } }) },
  resync: {
    repairs: { stats: { queued: 0, running: 0, repaired: 0, failed: 0, overflow: 0 } },
    hostResyncs: { running: 0 },
    syncCounts: { synced: 0, unchanged: 0, stale: 0, refused: 0, failed: 0 },
    mirrorStats: undefined,
    compactor: undefined,
    archive: undefined,
  },
  pool: { stats: { inFlight: 0, queued: 0, restarts: 0 } },
  fanout: {
    consumers: () => consumers.map((c) => ({ ...c })),
    stats: () => ({
      accepted: 0,
      futureCursor: 0,
      outdatedCursor: 0,
      tooManyConsumers: 0,
      tooSlow: 0,
      pingTimeouts: 0,
      replayFailures: 0,
    }),
  },
  upstream: {
    connection: (id) => connections.get(id),
    infoCounts: new Map(),
    ratePauses: 0,
    cursorResets: 0,
  },
  hosts: { list: () => hosts },
  log: {
    stats: () => ({
      segments: 1,
      bytes: 1,
      oldestSeq: 1,
      lastSeq: 1,
      flushedSeq: 1,
      pendingBytes: 0,
      writeCalls: 0,
      recordsWritten: 0,
      syncs: 0,
      ioErrors: 0,
      recovery: { bytesTruncated: 0 },
    }),
  },
  identity: {
    counters: {
      hits: 0,
      negativeHits: 0,
      misses: 0,
      coalesced: 0,
      staleServed: 0,
      errors: 0,
      notFound: 0,
      busy: 0,
      evictions: 0,
      loaded: 0,
      storeFailures: 0,
      storeDropped: 0,
    },
    gauges: () => ({ entries: 0, running: 0, queued: 0 }),
  },
  eventTypes,
}
const metrics = createMetrics()
metrics.collectFrom(sources)
measure('verifyLatency.observe', () => metrics.verifyLatency.observe(0.0002))
let bytes = 0
await measureAsync(
  'scrape: registry.metrics() (3,000 hosts, 300 consumers)',
  async () => {
    bytes = (await metrics.registry.metrics()).length
  },
  { minMs: 3000 },
)
note(
  `scrape output: ${(bytes / 1024).toFixed(0)} KiB, ${metrics.registry.getMetricsAsArray().length} families`,
)
metrics.close()
