// Composition of what keeps the relay's copy of repos right: archival mode's mirror (when on),
// the PDS client and per-host pacing, one-account sync, the repair queue for desynchronized
// accounts (both modes) and whole-host resyncs. Built before ingest (which applies commits to
// the mirror and reports desynchronized accounts) and bound to it afterwards; started after
// recovery, stopped before ingest.
import { ArchiveDatabase } from './archive/archive-db.ts'
import { Compactor } from './archive/compaction.ts'
import { Mirror, type MirrorReader, type MirrorStats } from './archive/mirror.ts'
import { RepoStore } from './archive/repo-store.ts'
import type { RelayConfig } from './config/config.ts'
import type { RelayDatabase } from './db/database.ts'
import type { Hosts } from './hosts/hosts.ts'
import { DidNotFoundError } from './identity/errors.ts'
import type {
  AccountOperations,
  AccountReader,
  IdentityOperations,
} from './ingest/account-operations.ts'
import type { DropCounter } from './ingest/drop-counter.ts'
import { RESYNC_RESULTS, type ResyncResult } from './ingest/resynchronize.ts'
import type { VerifyPool } from './ingest/verify-pool.ts'
import type { Logger } from './observability/logger.ts'
import type { ArchiveStatus } from './resync/archive-status.ts'
import { HostResyncs } from './resync/host-resyncs.ts'
import { HostPacer } from './resync/pacer.ts'
import { PdsClient } from './resync/pds-client.ts'
import { Repairs } from './resync/repairs.ts'
import { RepoSyncer, type SyncHost } from './resync/repo-syncer.ts'
import type { AccountShards } from './shards/account-shards.ts'
import { sharedConfig } from './shards/connection-shares.ts'

/** How long one repo export may take to arrive. */
const REPO_FETCH_TIMEOUT_MS = 10 * 60_000

export type SyncCountKey = ResyncResult | 'failed'

export interface RelayResync {
  /** Archival mode's mirror as the read routes use it (undefined when archival mode is off). */
  readonly mirror: MirrorReader | undefined
  /**
   * The mirror ingest on this thread writes; undefined with account shards, whose own mirrors
   * write their accounts' repos (one writer for each).
   */
  readonly writer: Mirror | undefined
  readonly archive: ArchiveDatabase | undefined
  /** One account's fetch and intake, counted by result (every caller goes through it). */
  readonly syncer: Pick<RepoSyncer, 'syncAccount'>
  /** Account syncs since start, by result (metrics). */
  readonly syncCounts: Readonly<Record<SyncCountKey, number>>
  readonly repairs: Repairs
  readonly hostResyncs: HostResyncs
  /** Archival mode's compaction (undefined when archival mode is off). */
  readonly compactor: Compactor | undefined
  /** What the dashboard and `GET /admin/archive` show of archival mode, compaction and repairs. */
  status(): Promise<ArchiveStatus>
  /** A known, unbanned host as resyncs fetch from it. */
  syncHost(hostname: string): SyncHost | undefined
  /** Archival mode: what the mirror has done (every shard's mirror, with account shards). */
  readonly mirrorStats: (() => MirrorStats) | undefined
  /**
   * Binds the parts built after this one (ingest needs the mirror first). With account shards,
   * each shard owns its accounts' stored repos: compaction and the mirror's counts are theirs.
   */
  bind(parts: {
    hosts: Hosts
    ingest: Pick<AccountOperations, 'resynchronize'>
    shards?: Pick<AccountShards, 'compact' | 'mirrorStats'>
  }): void
  start(): Promise<void>
  stop(): Promise<void>
}

export async function relayResync(p: {
  config: RelayConfig
  db: RelayDatabase
  accounts: Pick<AccountReader, 'get'>
  identity: IdentityOperations
  pool: VerifyPool
  drops: DropCounter
  logger: Logger
  now: () => number
}): Promise<RelayResync> {
  const { config, now } = p
  const logger = p.logger.child({ subsystem: 'resync' })
  // On PostgreSQL with account shards, this thread keeps its share of the archive's connections
  // (its reads, compaction's vacuum) and the shards share the rest (their writes).
  const archive = config.archive.enabled
    ? await ArchiveDatabase.open(
        sharedConfig(config.archive.database, config.accountShards, 'main'),
        (err) => logger.error({ err }, 'archive database connection failed'),
        // SQLite's writes (statements and log checkpoints) off the main thread.
        { writerThread: true },
      )
    : undefined
  const store = archive && new RepoStore(archive, now)
  const mirror = store && new Mirror(store)
  const compactor =
    archive &&
    mirror &&
    store &&
    new Compactor({
      mirror: {
        head: (did) => mirror.head(did),
        compact: (did) => (bound?.shards ? bound.shards.compact(did) : mirror.compact(did)),
      },
      adb: archive,
      dids: (after, limit) => store.dids(after, limit),
      now,
      logger: p.logger.child({ subsystem: 'compaction' }),
    })
  let bound: Parameters<RelayResync['bind']>[0] | undefined
  const parts = () => {
    if (!bound) throw new Error('relayResync used before bind()')
    return bound
  }
  const hostByName = (hostname: string): SyncHost | undefined => {
    const { hosts } = parts()
    const h = hosts.byHostname(hostname)
    if (!h || h.status === 'banned') return undefined
    return {
      id: h.id,
      hostname: h.hostname,
      ssl: h.ssl,
      crawlRate: hosts.describe(h.id)!.crawlRate,
    }
  }
  const pds = new PdsClient({
    userAgent: config.userAgent,
    allowInsecure: config.allowInsecureHosts,
    maxRepoBytes: config.archive.maxRepoBytes,
    repoTimeoutMs: REPO_FETCH_TIMEOUT_MS,
  })
  const pacer = new HostPacer(now)
  const syncer = new RepoSyncer({
    archive: mirror !== undefined,
    pds,
    pacer,
    resolveIdentity: async (did) => {
      await p.identity.purge(did)
      try {
        return (await p.identity.resolve(did)).identity
      } catch (err) {
        if (err instanceof DidNotFoundError) return null
        logger.warn({ err, did }, 'identity resolution failed')
        return null
      }
    },
    hostByName,
    verifyRepo: (task) => p.pool.verifyRepo(task),
    resynchronize: (did, input) => parts().ingest.resynchronize(did, input),
    drops: p.drops,
    now,
  })
  const syncCounts = Object.fromEntries([...RESYNC_RESULTS, 'failed'].map((r) => [r, 0])) as Record<
    SyncCountKey,
    number
  >
  const counted: Pick<RepoSyncer, 'syncAccount'> = {
    syncAccount: async (did, opts) => {
      const out = await syncer.syncAccount(did, opts)
      syncCounts[out.result]++
      return out
    },
  }
  const repairs = new Repairs({
    repair: (did) => counted.syncAccount(did, { announce: true }),
    listDesynchronized: async (after, limit) =>
      (await p.db.accounts.listByLocalStatus('desynchronized', after, limit)).map((r) => ({
        did: r.did,
        hostId: r.hostId,
      })),
    logger,
  })
  const hostResyncs = new HostResyncs({
    meta: p.db.meta,
    pds,
    pacer,
    hostByName,
    needsSync: async (repo) => {
      const account = await p.accounts.get(repo.did)
      if (!account || account.commitCid !== repo.head) return true
      if (account.localStatus === 'desynchronized') return true
      return mirror !== undefined && (await mirror.head(repo.did))?.commitCid !== repo.head
    },
    syncAccount: (did, opts) => counted.syncAccount(did, opts),
    logger,
    now,
  })
  return {
    mirror,
    writer: config.accountShards > 0 ? undefined : mirror,
    archive,
    syncer: counted,
    syncCounts,
    repairs,
    hostResyncs,
    compactor,
    mirrorStats: mirror && (() => bound?.shards?.mirrorStats() ?? mirror.stats),
    syncHost: hostByName,
    async status() {
      const repairStats = { ...repairs.stats }
      if (!archive || !store) {
        return { archive: { enabled: false }, compaction: null, repairs: repairStats }
      }
      const [repos, bytes] = await Promise.all([store.repoCount(), archive.storageBytes()])
      return {
        archive: { enabled: true, repos, storageBytes: bytes.total, freeBytes: bytes.free },
        compaction: compactor?.progress ?? null,
        repairs: repairStats,
      }
    },
    bind(b) {
      bound = b
    },
    async start() {
      repairs.start()
      await hostResyncs.resume()
    },
    async stop() {
      await hostResyncs.stop()
      await repairs.stop()
      await compactor?.stop()
    },
  }
}
