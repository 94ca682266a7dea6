// Small builders for the composition root (relay.ts), each putting together one part from the
// configuration: the drop counter and event-type counter, the host probe, and the monitors (the
// dashboard's stats recorders and the health checks). Also the overrides tests may give. (The
// identity resolver's builder is identity/relay-identity.ts: the account shards use it too.)
// Deliberately not here: any rule, and the order things start and stop in (relay.ts).

import type { AddressInfo } from 'node:net'
import { slotCountsByHost, takenDownPage } from './accounts/account-rows.ts'
import type { Takedowns } from './accounts/takedowns.ts'
import { StatsRecorder, statsRoutes } from './admin/stats.ts'
import type { Route } from './api/server.ts'
import type { ArchiveDatabase } from './archive/archive-db.ts'
import { Checkpointer, type CheckpointerDeps } from './checkpoint/checkpointer.ts'
import type { CursorBook } from './checkpoint/cursor-book.ts'
import { saveCursorsTo } from './checkpoint/cursor-rows.ts'
import type { RelayConfig } from './config/config.ts'
import type { RelayDatabase } from './db/database.ts'
import { EventLog } from './eventlog/event-log.ts'
import { Fanout } from './fanout/fanout.ts'
import type { HostStatusOptions } from './hosts/host-status.ts'
import type { Hosts } from './hosts/hosts.ts'
import { type Probe, probeHost } from './hosts/probe.ts'
import type { AccountOperations } from './ingest/account-operations.ts'
import { DropCounter } from './ingest/drop-counter.ts'
import { EventVerification } from './ingest/event-verification.ts'
import type { IngestStats } from './ingest/ingest.ts'
import { VerifyOnMain } from './ingest/verify-on-main.ts'
import type { VerifyPool } from './ingest/verify-pool.ts'
import { runVerifyTask } from './ingest/verify-task.ts'
import { EventTypeCounter } from './observability/event-type-counter.ts'
import { HealthMonitor } from './observability/health.ts'
import type { Logger } from './observability/logger.ts'
import type { RelayMetrics } from './observability/metrics.ts'
import type { HttpTimeouts } from './relay-server.ts'
import { busyByThread, busySinceLast, threadCpuMs } from './runtime/thread-busy.ts'
import type { SocketThreads } from './upstream/socket-threads.ts'
import type { UpstreamTimings } from './upstream/types.ts'
import { verifySignature } from './verify/crypto/signature.ts'

export interface Relay extends AsyncDisposable {
  readonly config: RelayConfig
  readonly db: RelayDatabase
  readonly log: EventLog
  readonly hosts: Hosts
  /** Ingest's operations: ingest itself, or the account shards when there are any. */
  readonly ingest: AccountOperations
  readonly drops: DropCounter
  readonly fanout: Fanout
  /** Whether spans are exported (--enable-otel-tracing or OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly tracingEnabled: boolean
  /** The bound metrics address (after start; null when metrics are off). */
  metricsAddress(): AddressInfo | null
  /** The bound API address (after start). */
  address(): AddressInfo
  start(): Promise<void>
  /** Graceful: stop accepting, stop upstreams, finish in-flight events, checkpoint, close. */
  stop(): Promise<void>
  /**
   * Resolves (with its cause) when a part the relay cannot go on without has failed (an account
   * shard ended; possibly while starting): the caller should stop it. Never rejects.
   */
  readonly failure: Promise<unknown>
  /** Writes a checkpoint now (tests). */
  checkpoint(): Promise<void>
}

export interface RelayOverrides {
  readonly now?: () => number
  /** Replaces the describeServer probe (tests of admission rules). */
  readonly probe?: Probe
  readonly checkpointIntervalMs?: number
  readonly resubscribeSpreadMs?: number
  /** `false`: no metrics registry or /metrics server (tests that run many relays at once). */
  readonly metrics?: false
  /** Status machine tuning (tests use short times). */
  readonly hostStatus?: Omit<HostStatusOptions, 'onTransition' | 'now'>
  /** Upstream socket timings: ping interval, dial timeout (tests of silent hosts). */
  readonly upstreamTimings?: UpstreamTimings
  /** How often host statuses are re-checked (idle detection, offline retries). */
  readonly statusTickMs?: number
  /** Event-log segment size (tests of retention use tiny segments). */
  readonly segmentMaxBytes?: number
  /** FutureCursor answers (and minimum time) before a host's cursor is reset (default 3 over 1 h). */
  readonly futureCursorResets?: { readonly count: number; readonly afterMs: number }
  /** How often consumers are pinged; one that misses a pong is dropped (default 30 s). */
  readonly consumerPingIntervalMs?: number
  /** HTTP header, request and keep-alive timeouts (tests of slow clients shorten them). */
  readonly httpTimeouts?: HttpTimeouts
}

/** The counters every part reports into, the host probe, and the monitors. */
export function relayObservers(logger: Logger, now: () => number) {
  const dropLog = logger.child({ subsystem: 'ingest' })
  const drops = new DropCounter({
    now,
    onDrop: (d) =>
      dropLog.debug(
        { hostId: d.hostId, reason: d.reason, did: d.did, seq: d.seq, detail: d.detail },
        'dropped',
      ),
  })
  return {
    drops,
    eventTypes: new EventTypeCounter(),
    probe:
      (userAgent: string): Probe =>
      (target, allowInsecure) =>
        probeHost(target, { userAgent, allowInsecure }),
    /**
     * What runs on timers beside the pipeline: the dashboard's series, the health checks behind
     * /xrpc/_health, and the event log's retention. Started after the relay listens.
     */
    monitors(parts: {
      db: RelayDatabase
      log: EventLog
      ingest: { readonly stats: IngestStats }
      fanout: Fanout
      pool: VerifyPool
      socketThreads: Pick<SocketThreads, 'busyMs' | 'size'> | undefined
      shards: { busyMs(): number; readonly count: number } | undefined
      archive: ArchiveDatabase | undefined
    }) {
      const { db, log, ingest, fanout, pool, archive, socketThreads, shards } = parts
      // 10 s samples over the last hour, and 5 min samples over the last day.
      const sources = {
        eventsIn: () => ingest.stats.received,
        eventsOut: () => log.flushedSeq,
        consumers: () => fanout.count,
        drops: () => drops.totals(),
        busy: () =>
          busyByThread({ pool, writer: archive?.writerStats, upstream: socketThreads, shards }),
        mainCpuMs: threadCpuMs,
      }
      const recorders = [
        new StatsRecorder({ now, sources }),
        new StatsRecorder({ now, sources, stepMs: 300_000, windowMs: 86_400_000 }),
      ]

      // Also checked every 10 s, so failures and recoveries are logged even when nobody asks.
      const health = new HealthMonitor({
        checks: {
          database: async () => {
            await db.ping()
            return null
          },
          eventlog: async () => {
            const f = log.stats().failing
            return f ? `${f.operation} failing${f.code ? ` (${f.code})` : ''}` : null
          },
        },
        onChange: (c) =>
          c.failing
            ? logger.error({ check: c.check, reason: c.reason, err: c.error }, `${c.check} failing`)
            : logger.info({ check: c.check }, `${c.check} recovered`),
      })
      let retention: NodeJS.Timeout | undefined
      return {
        statsRoutes: statsRoutes(recorders) as Route[],
        health,
        start() {
          for (const r of recorders) r.start()
          health.start(10_000)
          retention = setInterval(() => {
            log
              .pruneExpired()
              .catch((err: unknown) => logger.error({ err }, 'event log retention failed'))
          }, 10 * 60_000)
        },
        stop() {
          for (const r of recorders) r.close()
          health.stop()
          clearInterval(retention)
        },
      }
    },
  }
}

/** Checkpoints: account states, host counts and cursors, with the scan-from seq, every few seconds. */
export function relayCheckpointer(p: {
  db: RelayDatabase
  accounts: CheckpointerDeps['accounts']
  log: EventLog
  book: CursorBook
  /** The hosts part (built after the checkpointer, which it calls back). */
  hosts: () => Hosts
  afterCursors?: CheckpointerDeps['afterCursors']
  metrics: RelayMetrics | undefined
  logger: Logger
}): Checkpointer {
  const { db, metrics } = p
  return new Checkpointer({
    accounts: p.accounts,
    log: p.log,
    hosts: {
      cursors: () => p.hosts().cursors(),
      refreshCursors: () => p.hosts().refreshCursors(),
      persistBatched: () => p.hosts().persistBatched(),
    },
    book: p.book,
    saveCursors: saveCursorsTo(db),
    ...(p.afterCursors && { afterCursors: p.afterCursors }),
    startTimer: metrics && (() => metrics.dbBatchLatency.startTimer()),
    onError: (err) => p.logger.error({ err }, 'checkpoint failed'),
  })
}

/** Firehose consumers; a taken-down account's events are not served, its `#account` ones are. */
export function relayFanout(
  config: RelayConfig,
  log: EventLog,
  takedowns: Takedowns,
  now: () => number,
  logger: Logger,
  overrides: RelayOverrides,
): Fanout {
  return new Fanout({
    log,
    maxBufferedBytes: config.consumerBufferBytes,
    maxTotalBufferedBytes: config.consumerBufferTotalBytes,
    pingIntervalMs: overrides.consumerPingIntervalMs,
    maxConsumers: config.maxConsumers,
    maxConsumersPerAddr: config.maxConnectionsPerIp,
    isHidden: (did, type) => type !== '#account' && takedowns.has(did),
    now,
    onReplayError: (err, consumer) => logger.error({ err, consumer: consumer.id }, 'replay failed'),
  })
}

/** Once recovery wrote the account states: slot counts per host, and the takedown set. */
export async function accountsLoaded(
  db: RelayDatabase,
  hosts: Hosts,
  takedowns: Takedowns,
): Promise<void> {
  hosts.setAccountCounts(await slotCountsByHost(db))
  await takedowns.load((after, limit) => takenDownPage(db, after, limit))
}

/**
 * The event log in `--persist-dir`, as configured. What opening it repaired is logged: a cut
 * tail means the last run died mid-write (or the machine did, and records consumers may have
 * seen are gone: their seqs are handed out again), which an operator should hear of.
 */
export async function openLog(
  config: RelayConfig,
  now: () => number,
  logger: Logger,
  overrides: RelayOverrides,
): Promise<EventLog> {
  const log = await EventLog.open({
    dir: config.persistDir,
    initialSeq: config.initialSeqNumber,
    retentionMs: config.replayWindowMs,
    fsyncIntervalMs: config.fsyncIntervalMs,
    segmentMaxBytes: overrides.segmentMaxBytes,
    now,
    onListenerError: (err) => logger.error({ err }, 'event log listener failed'),
    onSegmentDamage: (damage) =>
      logger.warn(
        damage,
        'event log: a sealed segment stops early (found on reading it); kept as found, read up to there',
      ),
  })
  const { truncatedTail, damagedSegments, segmentsFromIndex, segmentsScanned } = log.recovery
  logger.info({ segmentsFromIndex, segmentsScanned, lastSeq: log.lastSeq }, 'event log opened')
  if (truncatedTail)
    logger.warn(
      { ...truncatedTail, lastSeq: log.lastSeq },
      'event log: cut a torn tail off the newest segment at open',
    )
  for (const damage of damagedSegments)
    logger.warn(damage, 'event log: an older segment stops early; kept as found, read up to there')
  return log
}

/**
 * Event verification for ingest on the main thread: on this thread while it carries the events
 * alone, else in the worker pool (never on this thread with `--verify-on-main 0`, always with
 * `--verify-workers 0`); timed for metrics. Observed directly rather than through the
 * histogram's timer, which copies a labels object on every call (this runs for every event).
 */
export function eventVerification(
  pool: VerifyPool,
  config: Pick<RelayConfig, 'verifyOnMainBusy'>,
  metrics: RelayMetrics | undefined,
): EventVerification {
  const latency = metrics?.verifyLatency
  return new EventVerification({
    pool,
    local: (task) => runVerifyTask(task, verifySignature),
    place: new VerifyOnMain({
      target: config.verifyOnMainBusy,
      busySinceLast: busySinceLast(),
      now: () => performance.now(),
    }),
    ...(latency && { observe: (seconds: number) => latency.observe(seconds) }),
  })
}
