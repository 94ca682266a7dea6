// What the metrics read from the rest of the relay, typed structurally: each interface is the
// few members metrics uses of one part (the drop counter, ingest, the verify pool, fan-out, the
// upstream set, the host registry, the event log, the identity cache), so observability imports
// none of those classes and the real objects are passed as they are.
// Deliberately not here: reading or combining the values (metrics-*.ts do that at scrape time).
import type { EventTypeCounter } from './event-type-counter.ts'
import type { HistogramTotals } from './histogram-counts.ts'

export interface DropsSource {
  /** Counts per drop reason for one host. */
  forHost(hostId: number): ReadonlyMap<string, { readonly count: number }>
  /** Counts per drop reason over every host. */
  totals(): ReadonlyMap<string, number>
}

export interface IngestSource {
  readonly stats: {
    readonly received: number
    readonly accepted: number
    readonly dropped: number
    readonly errors: number
    readonly retries: number
    readonly inFlight: number
  }
}

export interface VerifyPoolSource {
  readonly stats: { readonly inFlight: number; readonly queued: number; readonly restarts: number }
  /** Worker threads. */
  readonly size?: number
  /** Those started and listening now (the others start, are replaced, or are set aside). */
  readonly readyWorkers?: number
  /** Milliseconds the workers' event loops have been busy, replaced workers included. */
  busyMs?(): number
  /** Each worker's V8 heap (its own isolate: not in the process's `nodejs_heap_*`). */
  heapStatistics?(): Promise<readonly { readonly used: number; readonly total: number }[]>
}

export interface ConsumerSource {
  readonly id: number
  readonly state: string
  readonly eventsSent: number
  readonly bytesSent: number
}

export interface FanoutSource {
  consumers(): readonly ConsumerSource[]
  /** Bytes waiting in every consumer's send buffer (closing sockets included). */
  bufferedBytes?(): number
  stats(): {
    readonly accepted: number
    readonly futureCursor: number
    readonly outdatedCursor: number
    readonly tooManyConsumers: number
    readonly tooSlow: number
    /** Live consumers cut because all consumers' buffers together were over the budget. */
    readonly overBudget?: number
    /** Closing sockets terminated early, with unsent bytes, because of the budget. */
    readonly shedClosing?: number
    readonly pingTimeouts: number
    readonly replayFailures: number
    /**
     * Cumulative frames and bytes sent to every consumer, closed ones included. When fan-out does
     * not report them, metrics sums its consumers' own counts (see RunningTotal).
     */
    readonly eventsSent?: number
    readonly bytesSent?: number
  }
}

export interface UpstreamConnectionSource {
  readonly state: string
  /** Events delivered to ingest and not yet complete: the host's queue. */
  readonly inFlight: number
  readonly paused: boolean
  readonly stats: {
    readonly framesReceived: number
    readonly bytesReceived: number
    readonly reconnects: number
  }
}

export interface UpstreamSource {
  connection(hostId: number): UpstreamConnectionSource | undefined
  readonly infoCounts: ReadonlyMap<string, number>
  readonly ratePauses: number
  readonly cursorResets: number
}

export interface HostsSource {
  list(): readonly { readonly id: number; readonly hostname: string; readonly status: string }[]
}

export interface EventLogSource {
  stats(): {
    readonly segments: number
    readonly bytes: number
    readonly oldestSeq: number | null
    readonly lastSeq: number
    readonly flushedSeq: number
    readonly pendingBytes: number
    readonly writeCalls: number
    readonly recordsWritten: number
    readonly syncs: number
    readonly ioErrors: number
    /** What opening the log repaired. */
    readonly recovery: { readonly bytesTruncated: number }
  }
}

export interface IdentitySource {
  readonly counters: {
    readonly hits: number
    readonly negativeHits: number
    readonly misses: number
    readonly coalesced: number
    readonly staleServed: number
    readonly errors: number
    readonly notFound: number
    readonly busy: number
    readonly evictions: number
    readonly loaded: number
    readonly storeFailures: number
    readonly storeDropped: number
  }
  gauges(): { readonly entries: number; readonly running: number; readonly queued: number }
}

export interface HttpSource {
  /** HTTP connections open now, and refusals by reason (slow, idle or greedy clients). */
  httpStats(): { readonly open: number; readonly refused: Readonly<Record<string, number>> }
}

/** Keeping repos right: repairs, account syncs and host resyncs (both modes), the mirror. */
export interface ResyncSource {
  readonly repairs: {
    readonly stats: {
      readonly queued: number
      readonly running: number
      readonly repaired: number
      readonly failed: number
      readonly overflow: number
    }
  }
  readonly hostResyncs: { readonly running: number }
  readonly syncCounts: Readonly<Record<string, number>>
  /** Archival mode only: what the mirror (every shard's, with account shards) has done. */
  readonly mirrorStats:
    | (() => {
        readonly commitsApplied: number
        readonly commitsUnchanged: number
        readonly commitsMissing: number
        readonly commitsWithoutDiff: number
        readonly reposImported: number
        readonly reposDeleted: number
      })
    | undefined
  readonly compactor: { readonly progress: { readonly status: string } } | undefined
  /** Archival mode only; `writerStats` when the archive's writes run on a thread (SQLite). */
  readonly archive:
    | {
        readonly writerStats:
          | {
              readonly inFlight: number
              readonly answered: number
              readonly restarts: number
              readonly busyMs?: number
            }
          | undefined
      }
    | undefined
}

export interface MetricsSources {
  readonly drops: DropsSource
  readonly ingest: IngestSource
  readonly pool: VerifyPoolSource
  readonly fanout: FanoutSource
  readonly upstream: UpstreamSource
  readonly hosts: HostsSource
  readonly log: EventLogSource
  readonly identity: IdentitySource
  readonly eventTypes: EventTypeCounter
  readonly http: HttpSource
  readonly resync: ResyncSource
  /** The upstream socket threads (`--upstream-threads`); absent when the main thread reads. */
  readonly socketThreads?: SocketThreadsSource
  /** Where ingest on the main thread verified its events; absent with account shards. */
  readonly verification?: {
    readonly counts: { readonly main: number; readonly workers: number }
    readonly onMain: boolean
  }
  /** The account shards (`--account-shards`); absent when ingest runs on the main thread. */
  readonly shards?: {
    busyMs(): number
    readonly count: number
    /** Verifications a shard lent to a less busy one. */
    verificationsLent(): number
    /** Per shard, in index order: events handed to it so far, work waiting there now. */
    load(): readonly { readonly events: number; readonly backlog: number }[]
    /** Each shard's histogram totals (verification, identity resolution), the last it sent. */
    histogramTotals(): readonly HistogramTotals[]
    /** Each shard's V8 heap (its own isolate). */
    heapStatistics(): Promise<readonly { readonly used: number; readonly total: number }[]>
  }
}

export interface SocketThreadsSource {
  readonly size: number
  readonly restarts: number
  /** Times a thread stopped reading because the main thread was behind. */
  readonly stalls: number
  /** Frames' bytes the threads sent that the main thread has not yet acknowledged. */
  readonly waitingBytes: number
  /** Milliseconds the threads' event loops have been busy, replaced threads included. */
  busyMs(): number
}
