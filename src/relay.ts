// The composition root: handed a validated RelayConfig, it builds every part, wires their
// callbacks, and starts and stops them in order. No rule lives here (hosts/ owns every host's
// life, ingest/ the pipeline and account operations, checkpoint/ checkpoints and recovery).
// Tests build the relay here with overrides instead of patching modules.
import type { AddressInfo } from 'node:net'
import { AccountCache } from './accounts/account-cache.ts'
import { accountPersistence, oldestThrottled } from './accounts/account-rows.ts'
import { Takedowns } from './accounts/takedowns.ts'
import { CursorBook } from './checkpoint/cursor-book.ts'
import { recoverAtStart } from './checkpoint/recovery.ts'
import type { RelayConfig } from './config/config.ts'
import { openDatabase } from './db/database.ts'
import { HostThreads } from './host-threads/host-threads.ts'
import { upstreamLookup } from './hosts/address.ts'
import type { HostLinksDeps } from './hosts/host-links.ts'
import { Hosts } from './hosts/hosts.ts'
import { RelaySettings } from './hosts/settings.ts'
import { DEFAULT_MAX_STALE_MS } from './identity/cache.ts'
import { forgetOtherDirectory } from './identity/directory-change.ts'
import { relayIdentity } from './identity/relay-identity.ts'
import { StoredIdentities } from './identity/stored-identities.ts'
import type { AccountOperations, AccountReader } from './ingest/account-operations.ts'
import { Ingest } from './ingest/ingest.ts'
import { IDLE_WORKERS_MS } from './ingest/verify-on-main.ts'
import { VerifyPool } from './ingest/verify-pool.ts'
import type { Logger } from './observability/logger.ts'
import { createMetrics } from './observability/metrics.ts'
import { type MetricsServer, startMetricsServer } from './observability/metrics-server.ts'
import { createTracing } from './observability/tracing.ts'
import { adminRoutes } from './relay-admin.ts'
import {
  accountsLoaded,
  eventVerification,
  openLog,
  type Relay,
  type RelayOverrides,
  relayCheckpointer,
  relayFanout,
  relayObservers,
} from './relay-parts.ts'
import { relayResync } from './relay-resync.ts'
import { createRelayServer } from './relay-server.ts'
import { AccountShards } from './shards/account-shards.ts'
import { sharedConfig } from './shards/connection-shares.ts'
import { shardedIdentity } from './shards/shard-identity.ts'
import { repoStatusChecker } from './upstream/repo-status.ts'
import { LocalSockets } from './upstream/socket-opener.ts'
import { SocketThreads } from './upstream/socket-threads.ts'

export type { Relay, RelayOverrides } from './relay-parts.ts'

export async function createRelay(
  config: RelayConfig,
  logger: Logger,
  overrides: RelayOverrides = {},
): Promise<Relay> {
  const now = overrides.now ?? Date.now
  let fail: (cause: unknown) => void = () => {}
  const failure = new Promise<unknown>((resolve) => (fail = resolve))
  // With account shards, the main thread has its share of the PostgreSQL connections.
  const db = await openDatabase(sharedConfig(config.database, config.accountShards, 'main'))
  const settings = await RelaySettings.fromConfig(db.meta, config)
  const metrics =
    overrides.metrics === false ? undefined : createMetrics({ version: config.version })
  const tracing = createTracing({ ...config.tracing, version: config.version })
  const log = await openLog(config, now, logger, overrides)
  const takedowns = new Takedowns()
  // With account shards, the main thread's cache serves only start-up recovery, which writes
  // every shard's checkpoint with the shard count.
  const accounts = new AccountCache(accountPersistence(db, { shards: config.accountShards }), {
    maxEntries: config.accountShards > 0 ? 1 : config.accountCacheSize,
  })
  // Stored identities of another PLC directory are not answers of this one (before any reads).
  const directoryChange = await forgetOtherDirectory(db, config.plcUrl)
  if (directoryChange) {
    logger.warn(
      { ...directoryChange, plcUrl: config.plcUrl },
      'the PLC directory changed: its stored did:plc identities are forgotten',
    )
  }
  // This thread's store also prunes the table (shared by the shards) of rows too old to be used.
  const storedIdentities = new StoredIdentities(db.identities, {
    maxAgeMs: config.identityTtlMs + DEFAULT_MAX_STALE_MS,
    now,
  })
  const identity = relayIdentity(config, now, tracing.tracer, metrics, storedIdentities)
  // With account shards, each account's identity is its shard's to read, purge or resolve.
  const identityOperations = config.accountShards > 0 ? shardedIdentity(() => shards!) : identity
  const obs = relayObservers(logger, now)
  // With account shards the shards verify events, and with no verify workers the main thread
  // does: the pool verifies only whole repos (resyncs and repairs), so its one worker runs only
  // while there are some, and a minute after. Where the main thread verifies the events while
  // it carries them (--verify-on-main), the workers start when it first hands them over and end
  // when it has kept them all for a while (IDLE_WORKERS_MS).
  const reposOnly = config.accountShards > 0 || config.verifyWorkers === 0
  const pool = new VerifyPool({
    size: reposOnly ? 1 : config.verifyWorkers,
    ...(reposOnly
      ? { idleStopMs: 60_000 }
      : config.verifyOnMainBusy > 0 && { idleStopMs: IDLE_WORKERS_MS }),
    onWorkerError: (err, restartInMs) =>
      logger.error(
        { err, restartInMs },
        'verify worker failed and is replaced; the events it held are verified again',
      ),
  })
  // What a host's link drops before ingest (a bad frame, a seq going backwards), wherever it runs.
  const upstreamDrop: HostLinksDeps['onDrop'] = (hostId, reason, seq, detail) =>
    obs.drops.record({ hostId, reason, did: null, seq, detail })
  // With account shards and upstream threads, host threads own the hosts' links and hand events
  // straight to the shards (docs/scaling.md, stage 2); the main thread then sees no event before
  // a shard has decided it.
  const hostThreads =
    config.accountShards > 0 && config.upstreamThreads > 0
      ? new HostThreads({
          threads: config.upstreamThreads,
          shards: config.accountShards,
          allowInsecure: config.allowInsecureHosts,
          userAgent: config.userAgent,
          hostConcurrency: config.hostConcurrency,
          ...(overrides.upstreamTimings && { timings: overrides.upstreamTimings }),
          // Hosts load when the relay starts, after `shards` below exists.
          beforeLink: (id): void => shards?.share(id),
          beforeDial: (): void => shards?.sendShared(),
          onDrop: upstreamDrop,
          eventTypes: obs.eventTypes,
          logger: logger.child({ subsystem: 'hosts' }),
          onLost: (thread, err) => {
            // Its hosts' windows and cursors are gone: a restart resumes them from the stored
            // cursors, skipping what the log holds (as after a crash).
            logger.fatal({ err, thread }, 'host thread ended; the relay stops')
            fail(err)
          },
        })
      : undefined
  const socketThreads =
    config.upstreamThreads > 0 && !hostThreads
      ? new SocketThreads({
          threads: config.upstreamThreads,
          allowInsecure: config.allowInsecureHosts,
          onThreadError: (err, restartInMs) =>
            logger.error(
              { err, restartInMs },
              'upstream socket thread failed and is replaced; its hosts reconnect',
            ),
        })
      : undefined
  const book = new CursorBook()
  const resync = await relayResync({
    ...{ config, db, pool, logger, now },
    accounts: { get: (did) => (shards ? shards.account(did) : accounts.get(did)) },
    identity: identityOperations,
    drops: obs.drops,
  })
  const checkpointer = relayCheckpointer({
    db,
    accounts: {
      write: (seq, beforeSave, pace) =>
        shards ? shards.checkpoint(beforeSave, pace) : accounts.write(seq, beforeSave, pace),
    },
    log,
    book,
    hosts: () => hosts,
    // The identities resolved since the last checkpoint, by this thread or by each shard; a
    // failure keeps them for the next checkpoint.
    afterCursors: async (pace) => {
      await storedIdentities
        .flush(pace)
        .catch((err: unknown) => logger.warn({ err }, 'writing resolved identities'))
      await shards?.flushIdentities(pace)
      await storedIdentities
        .prune(pace)
        .catch((err: unknown) => logger.warn({ err }, 'deleting identities too old to be used'))
    },
    metrics,
    logger,
  })
  const hosts: Hosts = new Hosts({
    store: db.hosts,
    meta: db.meta,
    settings,
    config,
    probe: overrides.probe ?? obs.probe(config.userAgent),
    logger: logger.child({ subsystem: 'hosts' }),
    now,
    statusOptions: overrides.hostStatus,
    statusTickMs: overrides.statusTickMs,
    upstreamTimings: overrides.upstreamTimings,
    sockets: socketThreads ?? new LocalSockets(upstreamLookup(config.allowInsecureHosts)),
    ...(hostThreads && { links: (notices) => hostThreads.attach(notices) }),
    futureCursorResets: overrides.futureCursorResets,
    onEvent: (id, msg, raw) => owner.handle(id, msg, raw),
    onDrop: upstreamDrop,
    eventTypes: obs.eventTypes,
    onCursorReset: (id) => book.forget(id),
    persist: () => checkpointer.run(),
    onAccountLimitRaised: (id, slots) => owner.releaseThrottled(id, slots),
    // Called only once the relay runs (hosts load at start), after `shards` below exists.
    onIngestViewChange: (id) => shards?.hostChanged(id),
  })
  // One getRepoStatus caller (user agent, address rule) for ingest and the admin routes.
  const checkRepoStatus = repoStatusChecker({
    userAgent: config.userAgent,
    allowInsecure: config.allowInsecureHosts,
  })
  // Whoever owns the accounts: ingest on this thread, or the account shards. Never both: each
  // writes account states and checkpoints.
  const shards =
    config.accountShards > 0
      ? new AccountShards({
          count: config.accountShards,
          config,
          hosts,
          log,
          takedowns,
          drops: obs.drops,
          oldestThrottled: (hostId, limit) => oldestThrottled(db, hostId, limit),
          flushAccounts: () => checkpointer.run(),
          onDesynchronized: (did, hostId) => resync.repairs.enqueue(did, hostId),
          // Archival mode on SQLite: the shards' archive writes run on the one writer thread.
          ...(resync.archive?.writerThread && { archiveWriter: resync.archive.writerThread }),
          onError: (level, message, ctx) =>
            logger[level]({ err: message, ...ctx }, 'account shard: error processing an event'),
          onLost: (shard, err) => {
            // Its unwritten account states are gone: only a restart's recovery from the log
            // brings them back, so the relay stops (gracefully: the other shards checkpoint).
            // During the start, the caller sees `failure` once the start is over.
            logger.fatal({ err, shard }, 'account shard ended; the relay stops')
            fail(err)
          },
          logger: logger.child({ subsystem: 'ingest' }),
          ...(hostThreads && {
            hostThreads: {
              ports: hostThreads.shardPorts,
              loads: hostThreads.loads,
              handed: () => hostThreads.handed(),
            },
          }),
        })
      : undefined
  // Without account shards: each event verified on this thread or in the pool.
  const verification = eventVerification(pool, config, metrics)
  const owner: AccountOperations =
    shards ??
    new Ingest({
      identity,
      accounts,
      takedowns,
      hosts,
      log,
      verify: verification.verify,
      drops: obs.drops,
      now,
      syncDefault: config.syncValidation,
      checkRepoStatus,
      oldestThrottled: (hostId, limit) => oldestThrottled(db, hostId, limit),
      flushAccounts: () => checkpointer.run(),
      tracer: tracing.tracer,
      logger: logger.child({ subsystem: 'ingest' }),
      onError: (err, ctx) =>
        ctx.waiting
          ? logger.warn({ err, ...ctx }, 'event waiting for the database')
          : logger.error({ err, ...ctx }, 'unexpected error processing an event'),
      mirror: resync.writer,
      onDesynchronized: (did, hostId) => resync.repairs.enqueue(did, hostId),
    })
  resync.bind({ hosts, ingest: owner, ...(shards && { shards }) })
  const fanout = relayFanout(config, log, takedowns, now, logger, overrides)
  log.onFlush((records) => {
    book.flushed(records)
    hosts.flushed(records)
    fanout.broadcast(records)
  })
  const adminLogger = logger.child({ subsystem: 'admin' })
  const accountReader: AccountReader = shards
    ? { get: (did) => shards.account(did), newest: (stored) => shards.newest(stored) }
    : {
        get: (did) => accounts.get(did),
        newest: async (stored) => stored.map((s) => accounts.peek(s.did) ?? s),
      }
  const parts = { config, hosts, ingest: owner, takedowns, drops: obs.drops, fanout }
  const admin = adminRoutes({
    ...parts,
    accounts: accountReader,
    identity: identityOperations,
    resync,
    checkRepoStatus,
    logger: adminLogger,
  })
  const upstreamThreads = socketThreads ?? hostThreads
  const monitors = obs.monitors({
    ...{ db, log, fanout, pool, socketThreads: upstreamThreads, shards },
    ingest: owner,
    archive: resync.archive,
  })
  const server = createRelayServer({
    ...parts,
    accounts: accountReader,
    db,
    log,
    mirror: resync.mirror,
    adminRoutes: admin.routes,
    tracer: tracing.tracer,
    statsRoutes: monitors.statsRoutes,
    logger,
    health: monitors.health,
    httpTimeouts: overrides.httpTimeouts,
  })
  metrics?.collectFrom({
    ...{ ...obs, ...parts, pool, upstream: hosts, log, http: server, resync },
    identity: shards ? shards.identitySource() : identity,
    ...(upstreamThreads && { socketThreads: upstreamThreads }),
    ...(shards ? { shards } : { verification }),
  })
  metrics?.instrumentHttp(server, server.routePaths)
  let metricsServer: MetricsServer | undefined

  const relay: Relay = {
    ...parts,
    db,
    log,
    tracingEnabled: tracing.enabled,
    failure,
    metricsAddress: () => metricsServer?.address() ?? null,
    address: () => server.address() as AddressInfo,
    async start() {
      await hosts.load()
      await shards?.ready()
      const recovered = await recoverAtStart({
        persistDir: config.persistDir,
        log,
        meta: db.meta,
        accounts,
        book,
        hostCursors: hosts.cursors(),
        afterAccounts: () => accountsLoaded(db, hosts, takedowns),
      })
      if (recovered.recordsReplayed > 0) logger.info(recovered, 'recovered from the event log')
      hosts.recover(recovered.skipSeqs, recovered.startCursors)
      await server.listenOn(config.bind)
      if (metrics)
        metricsServer = await startMetricsServer(metrics.registry, config.metricsListen, {
          onError: (err) => logger.error({ err }, 'metrics'),
        })
      hosts.start(overrides.resubscribeSpreadMs)
      checkpointer.start(overrides.checkpointIntervalMs ?? config.checkpointIntervalMs)
      await resync.start()
      monitors.start()
      logger.info(
        { address: relay.address(), seq: log.lastSeq, hosts: hosts.list().length },
        'relay started',
      )
    },
    async stop() {
      checkpointer.stop()
      admin.puller.stop()
      monitors.stop()
      // Stop accepting; the server finishes closing once its connections are gone (consumer
      // sockets are closed by fan-out below; idle HTTP ones right away).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      await hosts.stop()
      await socketThreads?.close()
      await resync.stop()
      await owner.stop() // events waiting for the database stop waiting
      await owner.idle(10_000) // events in flight finish, for at most 10 s
      await checkpointer.last().catch((err: unknown) => logger.error({ err }, 'final checkpoint'))
      await shards?.close()
      // Host threads keep their hosts' cursors until the last checkpoint has read them.
      await hostThreads?.close()
      await fanout.close()
      server.wss.close()
      server.closeAllConnections()
      await closed
      // A log that cannot write (a full disk) still closes and releases its lock. What it held
      // back was never acknowledged upstream: its hosts send it again from the stored cursors.
      await log
        .close()
        .catch((err: unknown) => logger.error({ err }, 'event log closed with records unwritten'))
      const workers = await pool.close()
      if (workers.terminated > 0)
        logger.warn(workers, 'verify workers terminated after not ending within the wait')
      await resync.archive?.close()
      await metricsServer?.close()
      metrics?.close()
      await db.close()
      await tracing.shutdown().catch((err: unknown) => logger.error({ err }, 'tracing shutdown'))
      logger.info('relay stopped')
    },
    checkpoint: () => checkpointer.run(),
    async [Symbol.asyncDispose]() {
      await relay.stop()
    },
  }
  return relay
}
