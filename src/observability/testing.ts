// Test support for the metrics: small mutable stand-ins for the parts metrics reads, and a parser
// for the Prometheus text format that keys each sample by its name and labels exactly as printed.
import { EventTypeCounter } from './event-type-counter.ts'
import type { HistogramTotals } from './histogram-counts.ts'
import type { RelayMetrics } from './metrics.ts'
import type { MetricsSources, UpstreamConnectionSource } from './metrics-sources.ts'

export interface FakeConnection extends UpstreamConnectionSource {
  state: string
  inFlight: number
  paused: boolean
  stats: { framesReceived: number; bytesReceived: number; reconnects: number }
}

export interface Fakes {
  readonly sources: MetricsSources
  readonly hosts: { id: number; hostname: string; status: string }[]
  readonly connections: Map<number, FakeConnection>
  readonly drops: Map<number, Map<string, { count: number; lastDid: string | null }>>
  readonly consumers: { id: number; state: string; eventsSent: number; bytesSent: number }[]
  readonly fanoutTotals: { eventsSent?: number; bytesSent?: number }
  readonly infoCounts: Map<string, number>
  /** What the fake shards report as their histogram totals (none until a test adds some). */
  readonly shardHistograms: HistogramTotals[]
}

export const A_DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'

export function connection(state: string, inFlight: number, bytes: number): FakeConnection {
  return {
    state,
    inFlight,
    paused: false,
    stats: { framesReceived: 0, bytesReceived: bytes, reconnects: 0 },
  }
}

export function makeFakes(): Fakes {
  const hosts = [
    { id: 1, hostname: 'pds.one.example', status: 'active' },
    { id: 2, hostname: 'pds.two.example', status: 'offline' },
    { id: 3, hostname: 'pds.three.example', status: 'banned' },
  ]
  const connections = new Map<number, FakeConnection>([
    [1, connection('connected', 7, 1000)],
    [2, connection('disconnected', 0, 500)],
  ])
  const shardHistograms: HistogramTotals[] = []
  const drops = new Map([
    [1, new Map([['bad-signature', { count: 2, lastDid: A_DID }]])],
    [3, new Map([['host-banned', { count: 1, lastDid: A_DID }]])],
  ])
  const eventTypes = new EventTypeCounter()
  for (let i = 0; i < 5; i++) eventTypes.add(1, '#commit')
  eventTypes.add(1, '#identity')
  eventTypes.add(2, '#commit')
  eventTypes.add(2, '#account')
  eventTypes.add(2, '#sync')
  const consumers: Fakes['consumers'] = [
    { id: 1, state: 'live', eventsSent: 100, bytesSent: 6000 },
    { id: 2, state: 'replaying', eventsSent: 50, bytesSent: 3000 },
  ]
  const fanoutTotals: { eventsSent?: number; bytesSent?: number } = {}
  const infoCounts = new Map([
    ['OutdatedCursor', 2],
    ['SomethingNew', 1],
    [A_DID, 1],
  ])
  const sources: MetricsSources = {
    drops: {
      forHost: (id) => new Map(drops.get(id) ?? []),
      totals: () => {
        const out = new Map<string, number>()
        for (const m of drops.values())
          for (const [r, d] of m) out.set(r, (out.get(r) ?? 0) + d.count)
        return out
      },
    },
    ingest: { stats: { received: 9, accepted: 6, dropped: 2, errors: 1, retries: 5, inFlight: 3 } },
    resync: {
      repairs: { stats: { queued: 3, running: 1, repaired: 7, failed: 2, overflow: 4 } },
      hostResyncs: { running: 1 },
      syncCounts: { synced: 5, unchanged: 2, stale: 0, refused: 1, failed: 2 },
      mirrorStats: () => ({
        commitsApplied: 40,
        commitsUnchanged: 1,
        commitsMissing: 2,
        commitsWithoutDiff: 35,
        reposImported: 6,
        reposDeleted: 1,
      }),
      compactor: { progress: { status: 'running' } },
      archive: { writerStats: { inFlight: 5, answered: 70, restarts: 1, busyMs: 250 } },
    },
    http: {
      httpStats: () => ({
        open: 4,
        refused: { 'per-address-limit': 2, timeout: 1, 'bad-request': 0 },
      }),
    },
    socketThreads: { size: 1, restarts: 2, stalls: 3, waitingBytes: 4096, busyMs: () => 750 },
    shards: {
      count: 2,
      histogramTotals: () => shardHistograms,
      busyMs: () => 600,
      verificationsLent: () => 11,
      load: () => [
        { events: 40, backlog: 3 },
        { events: 25, backlog: 0 },
      ],
      heapStatistics: async () => [
        { used: 300, total: 800 },
        { used: 200, total: 700 },
      ],
    },
    // Never beside `shards` in a relay; both here so that one scrape reads every metric.
    verification: { counts: { main: 30, workers: 12 }, onMain: true },
    pool: {
      stats: { inFlight: 4, queued: 2, restarts: 1 },
      size: 2,
      readyWorkers: 1,
      busyMs: () => 1500,
      heapStatistics: async () => [
        { used: 1000, total: 4000 },
        { used: 500, total: 2000 },
      ],
    },
    fanout: {
      consumers: () => consumers.map((c) => ({ ...c })),
      bufferedBytes: () => 4096,
      stats: () => ({
        accepted: 5,
        futureCursor: 1,
        outdatedCursor: 2,
        tooManyConsumers: 0,
        tooSlow: 3,
        overBudget: 2,
        shedClosing: 1,
        pingTimeouts: 0,
        replayFailures: 0,
        ...fanoutTotals,
      }),
    },
    upstream: {
      connection: (id) => connections.get(id),
      infoCounts,
      ratePauses: 4,
      cursorResets: 1,
    },
    hosts: { list: () => hosts },
    log: {
      stats: () => ({
        segments: 2,
        bytes: 123456,
        oldestSeq: 10,
        lastSeq: 42,
        flushedSeq: 41,
        pendingBytes: 99,
        writeCalls: 8,
        recordsWritten: 32,
        syncs: 3,
        ioErrors: 0,
        recovery: { bytesTruncated: 40 },
      }),
    },
    identity: {
      counters: {
        hits: 90,
        negativeHits: 1,
        misses: 10,
        coalesced: 2,
        staleServed: 3,
        errors: 1,
        notFound: 1,
        busy: 0,
        evictions: 5,
        loaded: 4,
        storeFailures: 3,
        storeDropped: 2,
      },
      gauges: () => ({ entries: 77, running: 1, queued: 0 }),
    },
    eventTypes,
  }
  return {
    sources,
    hosts,
    connections,
    drops,
    consumers,
    fanoutTotals,
    infoCounts,
    shardHistograms,
  }
}

/** `metrics` after `collectFrom(sources)`. */
export function collecting(metrics: RelayMetrics, sources: MetricsSources): RelayMetrics {
  metrics.collectFrom(sources)
  return metrics
}

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Samples keyed as printed (`name{a="x",b="y"}`), plus the # TYPE of each family. */
export function parseExposition(text: string): {
  samples: Map<string, number>
  list: Sample[]
  types: Map<string, string>
  help: Map<string, string>
} {
  const samples = new Map<string, number>()
  const list: Sample[] = []
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
    if (meta) {
      ;(meta[1] === 'TYPE' ? types : help).set(meta[2]!, meta[3]!)
      continue
    }
    const space = line.lastIndexOf(' ')
    const key = line.slice(0, space)
    const value = Number(line.slice(space + 1))
    samples.set(key, value)
    const brace = key.indexOf('{')
    const name = brace < 0 ? key : key.slice(0, brace)
    const labels: Record<string, string> = {}
    if (brace >= 0)
      for (const m of key.slice(brace + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
        labels[m[1]!] = m[2]!
    list.push({ name, labels, value })
  }
  return { samples, list, types, help }
}
