// The composition root: reads nothing itself (it is handed a validated RelayConfig), builds every
// part, wires their callbacks, and starts and stops them in order. Tests build the relay here with
// overrides (a PLC URL on loopback, a clock, a probe) instead of patching modules.
import type { AddressInfo } from 'node:net'
import { AccountCache } from './accounts/account-cache.ts'
import { accountPersistence } from './accounts/account-rows.ts'
import { Takedowns } from './accounts/takedowns.ts'
import { StatsRecorder, statsRoutes } from './admin/stats.ts'
import type { RelayConfig } from './config/config.ts'
import { openDatabase, type RelayDatabase } from './db/database.ts'
import { EventLog } from './eventlog/event-log.ts'
import { Fanout } from './fanout/fanout.ts'
import { resolvePublicAddresses } from './hosts/address.ts'
import { HostStatusMachine, type HostStatusOptions } from './hosts/host-status.ts'
import { isLocalhostName } from './hosts/hostname.ts'
import { probeHost } from './hosts/probe.ts'
import { HostRateLimiter } from './hosts/rate-limit.ts'
import { HostRegistry } from './hosts/registry.ts'
import { RelaySettings, type SettingOrigin } from './hosts/settings.ts'
import { CachingIdentityResolver } from './identity/cache.ts'
import type { Identity } from './identity/did-document.ts'
import { DidResolver } from './identity/resolver.ts'
import {
  ACCOUNTS_CHECKPOINT_KEY,
  CURSORS_SCAN_FROM_KEY,
  CursorBook,
  checkpoint,
} from './ingest/checkpoint.ts'
import { DropCounter } from './ingest/drop-counter.ts'
import { Ingest } from './ingest/ingest.ts'
import { recover } from './ingest/recovery.ts'
import { VerifyPool } from './ingest/verify-pool.ts'
import { EventTypeCounter } from './observability/event-type-counter.ts'
import { HealthMonitor } from './observability/health.ts'
import type { Logger } from './observability/logger.ts'
import { createMetrics } from './observability/metrics.ts'
import { type MetricsServer, startMetricsServer } from './observability/metrics-server.ts'
import { createTracing, tracedResolver } from './observability/tracing.ts'
import { adminRoutes, hostLimits } from './relay-admin.ts'
import { createRelayServer, type HttpTimeouts } from './relay-server.ts'
import { UpstreamSet } from './relay-upstream.ts'
import { checkRepoStatus } from './upstream/repo-status.ts'

export interface RelayOverrides {
  readonly now?: () => number
  /** Replaces the describeServer probe (tests of admission rules). */
  readonly probe?: (
    target: { hostname: string; ssl: boolean },
    allowInsecure: boolean,
  ) => Promise<unknown>
  readonly checkpointIntervalMs?: number
  readonly resubscribeSpreadMs?: number
  /** `false`: no metrics registry or /metrics server (tests that run many relays at once). */
  readonly metrics?: false
  /** Status machine tuning (tests use short times). */
  readonly hostStatus?: Omit<HostStatusOptions, 'onTransition' | 'now'>
  /** How often host statuses are re-checked (idle detection, offline retries). */
  readonly statusTickMs?: number
  /** Event-log segment size (tests of retention use tiny segments). */
  readonly segmentMaxBytes?: number
  /** FutureCursor answers (and minimum time) before a host's cursor is reset (default 3 over 1 h). */
  readonly futureCursorResets?: { readonly count: number; readonly afterMs: number }
  /** Per-consumer buffer bound before ConsumerTooSlow (default 64 MiB). */
  readonly consumerMaxBufferedBytes?: number
  /** HTTP header, request and keep-alive timeouts (tests of slow clients shorten them). */
  readonly httpTimeouts?: HttpTimeouts
}

export interface Relay extends AsyncDisposable {
  readonly config: RelayConfig
  readonly db: RelayDatabase
  readonly log: EventLog
  readonly hosts: HostRegistry
  readonly ingest: Ingest
  readonly drops: DropCounter
  readonly fanout: Fanout
  readonly upstream: UpstreamSet
  readonly settings: RelaySettings
  readonly takedowns: Takedowns
  readonly limiter: HostRateLimiter
  /** Whether spans are exported (--enable-otel-tracing or OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly tracingEnabled: boolean
  /** The bound metrics address (after start; null when metrics are off). */
  metricsAddress(): AddressInfo | null
  /** The bound API address (after start). */
  address(): AddressInfo
  start(): Promise<void>
  /** Graceful: stop accepting, stop upstreams, finish in-flight events, checkpoint, close. */
  stop(): Promise<void>
  /** Writes a checkpoint now (tests). */
  checkpoint(): Promise<void>
}

export async function createRelay(
  config: RelayConfig,
  logger: Logger,
  overrides: RelayOverrides = {},
): Promise<Relay> {
  const now = overrides.now ?? Date.now
  const db = await openDatabase(config.database)
  const origin = (name: string): SettingOrigin => {
    const kind = config.sources[name]?.kind
    return kind === 'flag' || kind === 'env' || kind === 'dotenv' ? kind : 'default'
  }
  const settings = await RelaySettings.load(db.meta, {
    publicCrawlEnabled: {
      value: !config.disableRequestCrawl,
      source: origin('disable-request-crawl'),
    },
    newHostsPerDayLimit: {
      value: config.newHostsPerDayLimit,
      source: origin('new-hosts-per-day-limit'),
    },
    trustedDomains: { value: config.trustedDomains, source: origin('trusted-domains') },
  })
  const metrics =
    overrides.metrics === false ? undefined : createMetrics({ version: config.version })
  const timed = <T extends { resolve(did: string, signal?: AbortSignal): Promise<Identity> }>(
    r: T,
  ) => (metrics ? metrics.timeIdentity(r) : r)
  const eventTypes = new EventTypeCounter()
  // On with --enable-otel-tracing, or as soon as the standard OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = createTracing({
    enabled:
      config.tracing.enabled ||
      (config.sources['otel-exporter-otlp-endpoint']?.kind ?? 'default') !== 'default',
    otlpEndpoint: config.tracing.otlpEndpoint,
    version: config.version,
  })
  const takedowns = new Takedowns()
  const limiter = new HostRateLimiter()
  const log = await EventLog.open({
    dir: config.persistDir,
    initialSeq: config.initialSeqNumber,
    retentionMs: config.replayWindowMs,
    fsyncIntervalMs: config.fsyncIntervalMs,
    segmentMaxBytes: overrides.segmentMaxBytes,
    now,
    onListenerError: (err) => logger.error({ err }, 'event log listener failed'),
  })
  const persistence = accountPersistence(db)
  const accounts = new AccountCache(persistence, { maxEntries: 1_000_000 })
  const identity = new CachingIdentityResolver(
    tracedResolver(
      tracing.tracer,
      timed(
        new DidResolver({
          plcUrl: config.plcUrl,
          userAgent: config.userAgent,
          allowInsecureWeb: config.allowInsecureHosts,
          // did:web documents come from hosts a PDS names: public addresses only (SSRF), except
          // localhost in development (--allow-insecure-hosts).
          checkWebHost: async (hostname) => {
            if (config.allowInsecureHosts && isLocalhostName(hostname)) return
            await resolvePublicAddresses(hostname)
          },
        }),
      ),
    ),
    { maxEntries: config.identityCacheSize, ttlMs: config.identityTtlMs, now },
  )
  const dropLog = logger.child({ subsystem: 'ingest' })
  const drops = new DropCounter({
    now,
    onDrop: (d) =>
      dropLog.debug(
        { hostId: d.hostId, reason: d.reason, did: d.did, seq: d.seq, detail: d.detail },
        'dropped',
      ),
  })
  const pool = new VerifyPool({ size: config.verifyWorkers })
  const book = new CursorBook()
  let upstream: UpstreamSet | undefined
  const hosts: HostRegistry = new HostRegistry({
    store: db.hosts,
    policy: () => ({
      allowInsecureHosts: config.allowInsecureHosts,
      defaultAccountLimit: config.defaultAccountLimit,
      newHostsPerDayLimit: settings.newHostsPerDayLimit.value,
      trustedDomains: settings.trustedDomains.value,
      publicCrawlEnabled: settings.publicCrawlEnabled.value,
      bannedDomains: settings.bannedDomains,
    }),
    probe:
      overrides.probe ??
      ((target, allowInsecure) =>
        probeHost(target, { userAgent: config.userAgent, allowInsecure })),
    onBanChange: (id, banned, reason) =>
      banned ? statusMachine.banned(id, reason) : statusMachine.unbanned(id, reason),
    subscribe: (row) => {
      limiter.set(row.id, hostLimits(row))
      upstream?.subscribe(row)
    },
    unsubscribe: async (id) => {
      await upstream?.unsubscribe(id)
    },
    now,
    onError: (err, context) => logger.error({ err, context }, 'host registry'),
  })
  const ingest = new Ingest({
    identity,
    accounts,
    hosts: {
      get: (id) => hosts.view(id),
      setSyncState: (id, state) => hosts.setSyncState(id, state),
      accountSlots: (id) => hosts.accountSlots(id),
      adjustAccountCount: (id, delta) => hosts.adjustAccountCount(id, delta),
      connection: (id) => upstream?.controls(id),
    },
    log,
    verify: (task) => {
      const end = metrics?.verifyLatency.startTimer()
      return pool.verify(task).finally(() => end?.())
    },
    drops,
    now,
    syncDefault: config.syncValidation,
    syncRatchetCommits: config.syncRatchetCommits,
    checkRepoStatus: (pds, did) => checkRepoStatus(pds, did, config.userAgent),
    maxInFlightPerHost: config.hostConcurrency,
    tracer: tracing.tracer,
    onError: (err, ctx) => dropLog.error({ err, ...ctx }, 'unexpected error processing an event'),
  })
  // Host status (DESIGN §4 item 13): the machine decides; the registry stores; an offline host's
  // connection is stopped and restarted when its retry comes due.
  const statusMachine = new HostStatusMachine({
    ...overrides.hostStatus,
    now,
    onTransition: (id, from, to, reason) => {
      const row = hosts.get(id)
      if (!row) return
      if (row.status === 'banned' && to !== 'banned') {
        statusMachine.banned(id, row.statusReason ?? 'blocked')
        return
      }
      logger.info({ host: row.hostname, from, to, reason }, 'host status')
      hosts
        .update(id, { status: to, statusReason: reason })
        .catch((err: unknown) => logger.error({ err }, 'host status'))
      if (to === 'offline') {
        const cursor = upstream?.get(id)?.cursor ?? null
        void upstream
          ?.unsubscribe(id)
          .then(() => (cursor !== null ? hosts.update(id, { cursor }) : undefined))
          .catch((err: unknown) =>
            logger.error({ err, host: row.hostname }, 'stopping an offline host'),
          )
      }
    },
  })
  upstream = new UpstreamSet({
    ingest,
    drops,
    userAgent: config.userAgent,
    logger: logger.child({ subsystem: 'upstream' }),
    now,
    status: statusMachine,
    onCursorReset: (id) => {
      book.forget(id)
      hosts
        .update(id, { cursor: null })
        .catch((err: unknown) => logger.error({ err }, 'cursor reset'))
    },
    futureCursorResets: overrides.futureCursorResets,
    eventTypes,
    rateLimit: (id) => {
      const wait = limiter.take(id)
      if (wait > 0) statusMachine.rateLimited(id, limiter.throttledFor(id))
      else if (statusMachine.status(id) === 'throttled') statusMachine.rateOk(id)
      return wait
    },
  })
  const fanout = new Fanout({
    log,
    maxBufferedBytes: overrides.consumerMaxBufferedBytes ?? 64 * 1024 * 1024,
    maxConsumers: config.maxConsumers,
    maxConsumersPerAddr: config.maxConnectionsPerIp,
    // Takedowns: the account's events are not served (replay or live), but `#account` events
    // announcing the takedown and its reversal are.
    isHidden: (did, type) => type !== '#account' && takedowns.has(did),
    now,
    onReplayError: (err, consumer) => logger.error({ err, consumer: consumer.id }, 'replay failed'),
  })
  log.onFlush((records) => {
    book.flushed(records)
    for (const r of records) if (r.hostId !== 0) upstream?.get(r.hostId)?.complete(r.upstreamSeq)
    fanout.broadcast(records)
  })

  const admin = adminRoutes({
    config,
    db,
    hosts,
    settings,
    upstream,
    limiter,
    ingest,
    accounts,
    takedowns,
    drops,
    identity,
    fanout,
    checkpoint: () => runCheckpoint(),
    statusInfo: (id) => statusMachine.describe(id),
    logger: logger.child({ subsystem: 'admin' }),
  })
  // The dashboard's charts: events in (received), out (written to the log), consumers, drops.
  // 10 s samples over the last hour, and 5 min samples over the last day.
  const statsSources = {
    eventsIn: () => ingest.stats.received,
    eventsOut: () => log.flushedSeq,
    consumers: () => fanout.count,
    drops: () => drops.totals(),
  }
  const stats = [
    new StatsRecorder({ now, sources: statsSources }),
    new StatsRecorder({ now, sources: statsSources, stepMs: 300_000, windowMs: 86_400_000 }),
  ]
  // What /xrpc/_health reports, also checked every 10 s so failures and recoveries are logged.
  const health = new HealthMonitor({
    checks: {
      database: async () => {
        await db.ping()
        return null
      },
      eventlog: async () => {
        const failing = log.stats().failing
        return failing
          ? `${failing.operation} failing${failing.code ? ` (${failing.code})` : ''}`
          : null
      },
    },
    onChange: (c) =>
      c.failing
        ? logger.error({ check: c.check, reason: c.reason, err: c.error }, `${c.check} failing`)
        : logger.info({ check: c.check }, `${c.check} recovered`),
  })
  const server = createRelayServer({
    health,
    config,
    db,
    log,
    hosts,
    drops,
    accounts,
    fanout,
    upstream,
    adminRoutes: admin.routes,
    tracer: tracing.tracer,
    statsRoutes: statsRoutes(stats),
    logger,
    httpTimeouts: overrides.httpTimeouts,
  })

  metrics?.collectFrom({
    drops,
    ingest,
    pool,
    fanout,
    upstream,
    hosts,
    log,
    identity,
    eventTypes,
    http: server,
  })
  metrics?.instrumentHttp(server, server.routePaths)
  let metricsServer: MetricsServer | undefined

  let timer: NodeJS.Timeout | undefined
  let pruneTimer: NodeJS.Timeout | undefined
  let statusTimer: NodeJS.Timeout | undefined
  let checkpointing: Promise<void> | undefined
  const runCheckpoint = async (): Promise<void> => {
    if (checkpointing) return checkpointing
    checkpointing = (async () => {
      const end = metrics?.dbBatchLatency.startTimer()
      try {
        await hosts.persistCounts()
        await checkpoint({
          accounts,
          log,
          // Every host: the live connection's cursor, or the stored one (offline, blocked).
          cursors: () =>
            new Map(hosts.list().map((h) => [h.id, upstream?.get(h.id)?.cursor ?? h.cursor])),
          book,
          saveCursors: (cursors, scanFrom) =>
            db.transaction(async (s) => {
              await s.hosts.saveCursors(cursors)
              await s.meta.set(CURSORS_SCAN_FROM_KEY, String(scanFrom))
            }),
        })
      } finally {
        end?.()
        checkpointing = undefined
      }
    })()
    return checkpointing
  }

  const relay: Relay = {
    config,
    db,
    log,
    hosts,
    ingest,
    drops,
    fanout,
    upstream,
    settings,
    takedowns,
    limiter,
    tracingEnabled: tracing.enabled,
    metricsAddress: () => metricsServer?.address() ?? null,
    address: () => server.address() as AddressInfo,
    async start() {
      await hosts.load()
      for (const row of hosts.list()) {
        limiter.set(row.id, hostLimits(row))
        statusMachine.load(row.id, row.status, row.statusReason)
      }
      const cursors = new Map(hosts.list().map((h) => [h.id, h.cursor] as const))
      const accountsCheckpoint = Number((await db.meta.get(ACCOUNTS_CHECKPOINT_KEY)) ?? 0)
      // Output seqs are never reused: a database that has seen seqs past the end of the log
      // means the log was lost or replaced. Refuse to start rather than hand out old seqs again.
      if (accountsCheckpoint > log.lastSeq) {
        throw new Error(
          `the event log in ${config.persistDir} ends at seq ${log.lastSeq}, but the database has state up to seq ${accountsCheckpoint}: the log was lost or replaced. Restore it, or start with --initial-seq-number ${accountsCheckpoint + 1} on an empty log (consumers must then resubscribe).`,
        )
      }
      const result = await recover({
        log,
        accounts,
        accountsCheckpoint,
        cursorsScanFrom: Number((await db.meta.get(CURSORS_SCAN_FROM_KEY)) ?? 1),
        hostCursors: cursors,
        now: now(),
      })
      // Records accepted above a host's stored cursor stay needed until the cursor passes them.
      book.seed(result.pending)
      // Account slots per host: the recovered account states are written first, then counted.
      await accounts.write(log.lastSeq, () => log.sync())
      hosts.setAccountCounts(await db.accounts.countSlotsByHost())
      // After recovery: takedowns (and reversals) written since the last checkpoint count too.
      await takedowns.load((after, limit) =>
        db.accounts.listByLocalStatus('takendown', after, limit),
      )
      if (result.recordsReplayed > 0)
        logger.info(
          {
            recordsReplayed: result.recordsReplayed,
            accountsUpdated: result.accountsUpdated,
            skipped: result.pending.length,
          },
          'recovered from the event log',
        )
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.bind.port, config.bind.host, () => resolve())
      })
      if (metrics) {
        metricsServer = await startMetricsServer(metrics.registry, config.metricsListen, {
          onError: (err) => logger.error({ err }, 'metrics'),
        })
      }
      upstream!.subscribeAll(hosts.active(), result.skipSeqs, overrides.resubscribeSpreadMs ?? 5000)
      timer = setInterval(() => {
        runCheckpoint().catch((err: unknown) => logger.error({ err }, 'checkpoint failed'))
      }, overrides.checkpointIntervalMs ?? 3000)
      statusTimer = setInterval(() => {
        statusMachine.tick()
        for (const id of statusMachine.takeDueRetries()) {
          const row = hosts.get(id)
          if (row && row.status !== 'banned') upstream?.subscribe(row)
        }
      }, overrides.statusTickMs ?? 5000)
      for (const s of stats) s.start()
      health.start(10_000)
      pruneTimer = setInterval(() => {
        log
          .pruneExpired()
          .catch((err: unknown) => logger.error({ err }, 'event log retention failed'))
      }, 10 * 60_000)
      logger.info(
        { address: relay.address(), seq: log.lastSeq, hosts: hosts.list().length },
        'relay started',
      )
    },
    async stop() {
      clearInterval(timer)
      admin.puller.stop()
      for (const s of stats) s.close()
      health.stop()
      clearInterval(pruneTimer)
      clearInterval(statusTimer)
      // Stop accepting; the server finishes closing once its connections are gone (consumer
      // sockets are closed by fan-out below; idle HTTP ones right away).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      await upstream!.stop()
      // Wait for in-flight events, at most 10 s; the timer must not outlive the wait (it would
      // keep the process alive for the rest of the 10 s after a graceful stop).
      let drainTimer: NodeJS.Timeout | undefined
      await Promise.race([
        ingest.idle(),
        new Promise((r) => {
          drainTimer = setTimeout(r, 10_000)
        }),
      ])
      clearTimeout(drainTimer)
      await runCheckpoint().catch((err: unknown) =>
        logger.error({ err }, 'final checkpoint failed'),
      )
      await fanout.close()
      server.wss.close()
      server.closeAllConnections()
      await closed
      await log.close()
      await pool.close()
      await metricsServer?.close()
      metrics?.close()
      await db.close()
      await tracing.shutdown().catch((err: unknown) => logger.error({ err }, 'tracing shutdown'))
      logger.info('relay stopped')
    },
    checkpoint: runCheckpoint,
    async [Symbol.asyncDispose]() {
      await relay.stop()
    },
  }
  return relay
}
