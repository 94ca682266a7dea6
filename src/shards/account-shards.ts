// The account shards (docs/scaling.md, stage 1) as the rest of the relay sees them: ingest's
// operations, run by the shard that owns each account (accounts/shard-of.ts). Events and calls
// go to the shards through their threads (shard-threads.ts); what the shards send back is
// carried out in order by shard-ops.ts. Checkpoints: every shard takes a snapshot, the log
// syncs, every shard writes its snapshot with its own checkpoint seq (account-shard.ts says why
// that seq is right).
// With host threads (host-threads/), events go from the thread reading their host's socket
// straight to the shard, which settles them there: the main thread sees what the shards append
// and report, shares each host's view and counts with every shard, and adds up the shards' own
// counts of events for ingest's.
// A shard that dies loses the account states it had not written: the relay cannot go on without
// them, so `onLost` is told once and the relay stops (a restart recovers them from the log).
// Deliberately not here: what the operations do (ingest/, run on the shard), which events exist
// (hosts/), the checkpoint's timing (checkpoint/).
import type { MessagePort, Worker } from 'node:worker_threads'
import type { AccountState } from '../accounts/account-state.ts'
import { shardOf } from '../accounts/shard-of.ts'
import type { Takedowns } from '../accounts/takedowns.ts'
import { type CompactionResult, type MirrorStats, sumMirrorStats } from '../archive/mirror.ts'
import type { ArchiveWriterThread } from '../archive/writer-thread.ts'
import type { RelayConfig } from '../config/config.ts'
import type { SavePace } from '../db/paced-save.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { Identity } from '../identity/did-document.ts'
import type { AccountOperations } from '../ingest/account-operations.ts'
import type { Drop } from '../ingest/drop-counter.ts'
import {
  type IngestHosts,
  type IngestStats,
  type ReverseTakedownResult,
  releaseOldestThrottled,
} from '../ingest/ingest.ts'
import type { ResyncInput, ResyncResult } from '../ingest/resynchronize.ts'
import type { HistogramTotals } from '../observability/histogram-counts.ts'
import type { IdentitySource } from '../observability/metrics-sources.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { largeBuffers } from '../runtime/own-buffer.ts'
import type { ThreadHeap } from '../runtime/worker-heap.ts'
import { inTurn } from './saves-in-turn.ts'
import { shardIdentitySource } from './shard-identity.ts'
import type { ShardMethod, ShardMethods } from './shard-messages.ts'
import { type PassingCounts, ShardOpCarrier } from './shard-ops.ts'
import { ShardThreads } from './shard-threads.ts'

export { ShardCallError } from './shard-call-error.ts'

export interface AccountShardsDeps {
  readonly count: number
  readonly config: RelayConfig
  readonly hosts: IngestHosts & {
    /** One of the host's account slots for a new account, counted at once; false when none is left. */
    takeSlot(hostId: number): boolean
  }
  readonly log: { readonly lastSeq: number; append(input: AppendInput): LogRecord }
  readonly takedowns: Takedowns
  readonly drops: { record(drop: Drop): void }
  /** The oldest throttled accounts of a host, as stored (after a checkpoint). */
  readonly oldestThrottled: (hostId: number, limit: number) => Promise<readonly string[]>
  /** Runs a checkpoint (which calls `checkpoint` below) and waits for it. */
  readonly flushAccounts: () => Promise<void>
  readonly onDesynchronized: (did: string, hostId: number) => void
  /** Archival mode on SQLite: the writer thread the shards' archive writes run on. */
  readonly archiveWriter?: Pick<ArchiveWriterThread, 'request'>
  readonly onError: (level: 'warn' | 'error', error: string, context: object) => void
  /** A shard died or could not start (once, for the first): the relay cannot go on. */
  readonly onLost: (shard: number, cause: unknown) => void
  readonly logger?: { info(obj: object, msg: string): void }
  /**
   * With host threads: each shard's channels to them (by shard, then by thread), the backlogs
   * they add to, and the events they handed each shard so far.
   */
  readonly hostThreads?: {
    readonly ports: readonly (readonly MessagePort[])[]
    readonly loads: SharedArrayBuffer
    handed(): readonly number[]
  }
}

export class AccountShards implements AccountOperations {
  readonly #d: AccountShardsDeps
  readonly #threads: ShardThreads
  readonly #stats: PassingCounts = { received: 0, accepted: 0, dropped: 0, inFlight: 0, errors: 0 }
  readonly #ops: ShardOpCarrier

  constructor(deps: AccountShardsDeps) {
    this.#d = deps
    this.#ops = new ShardOpCarrier(deps, () => this.#threads, this.#stats)
    this.#threads = new ShardThreads({
      count: deps.count,
      config: deps.config,
      hosts: deps.hosts,
      carryOut: (shard, op) => this.#ops.carryOut(shard, op),
      onLost: deps.onLost,
      ...(deps.hostThreads && {
        hostPorts: deps.hostThreads.ports,
        loads: deps.hostThreads.loads,
      }),
    })
  }

  get count(): number {
    return this.#threads.count
  }

  /** The shards' threads (tests end one to see the relay stop). */
  get threads(): readonly Worker[] {
    return this.#threads.workers
  }

  /** Resolves once every shard has opened its database and listens. */
  ready(): Promise<void> {
    return this.#threads.ready()
  }

  /** Ingest's counts over every shard. */
  get stats(): IngestStats {
    let { errors } = this.#stats
    let retries = 0
    const events = { received: 0, accepted: 0, dropped: 0, inFlight: 0 }
    for (const c of this.#threads.counts()) {
      errors += c.errors
      retries += c.retries
      if (!c.events) continue
      events.received += c.events.received
      events.accepted += c.events.accepted
      events.dropped += c.events.dropped
      events.inFlight += c.events.inFlight
    }
    // With host threads, the events' counts are the shards' own (none pass this thread).
    if (this.#d.hostThreads) return { ...events, errors, retries }
    return { ...this.#stats, errors, retries }
  }

  /** Verifications the shards lent each other (decision 11), a total. */
  verificationsLent(): number {
    let lent = 0
    for (const c of this.#threads.counts()) lent += c.lent
    return lent
  }

  /** Per shard: the events handed to it so far, and the work waiting there now (shard-load.ts). */
  load(): { events: number; backlog: number }[] {
    const handed = this.#d.hostThreads?.handed()
    return this.#threads
      .load()
      .map((l, i) => (handed ? { ...l, events: l.events + (handed[i] ?? 0) } : l))
  }

  /** Each shard's histogram totals, for the metrics to add to the main thread's. */
  histogramTotals(): HistogramTotals[] {
    return this.#threads.histogramTotals()
  }

  /** Each shard's V8 heap (its own isolate), for the metrics. */
  heapStatistics(): Promise<ThreadHeap[]> {
    return this.#threads.heapStatistics()
  }

  /** Busy milliseconds of every shard's thread, for the metrics and the dashboard. */
  busyMs(): number {
    return this.#threads.busyMs()
  }

  /** The shards' identity caches together, as the metrics read one cache. */
  identitySource(): IdentitySource {
    return shardIdentitySource(() => this.#threads.counts().map((c) => c.identity))
  }

  /** Hands the event to its account's shard; `raw` is the shard's from now on (transferred). */
  handle(hostId: number, msg: UpstreamEvent, raw: Uint8Array): void {
    this.#stats.received++
    this.#stats.inFlight++
    this.#threads.send(this.#shardOf(msg.did), hostId, msg, raw)
  }

  /** A host's view changed (a ban, a sync mode): the shards holding a copy get it this turn. */
  hostChanged(hostId: number): void {
    this.#threads.viewChanged(hostId)
  }

  /**
   * Host threads: every shard is to get the host's view and counts, sent at the end of this turn
   * or with `sendShared`, which the host threads call before they dial.
   */
  share(hostId: number): void {
    this.#threads.share(hostId)
  }

  sendShared(): void {
    this.#threads.sendNow()
  }

  /**
   * A checkpoint of every shard's accounts; `sync` makes the log durable in between, and `pace`
   * says how each shard writes its snapshot (db/paced-save.ts).
   */
  async checkpoint(sync: () => Promise<void>, pace: SavePace = 'paced'): Promise<number> {
    const all = this.#all()
    // Each answer is handled after the shard's records appended before its snapshot and before
    // any appended after it (the same message may carry both: hence `atReply`, not a `then`):
    // the log's last seq at that moment covers exactly the shard's records in the snapshot.
    const taken = await Promise.allSettled(
      all.map((i) => this.#threads.call(i, 'snapshot', { atReply: () => this.#d.log.lastSeq })),
    )
    try {
      const failed = taken.find((t) => t.status === 'rejected')
      if (failed) throw failed.reason
      await sync()
    } catch (err) {
      // Nothing written: every shard keeps its states for the next checkpoint.
      await Promise.allSettled(all.map((i) => this.#threads.call(i, 'restore', {})))
      throw err
    }
    const seqs = taken.map((t) => (t.status === 'fulfilled' ? (t.value as number) : 0))
    // Every save ends before this checkpoint does, so the next one's snapshots never overlap
    // a save still running (a failed save puts its states back, and must not put back older
    // states than a later snapshot took).
    const save = (i: number) => this.#threads.call(i, 'save', {}, seqs[i]!, pace) as Promise<number>
    const saved =
      this.#d.config.database.kind === 'sqlite'
        ? await inTurn(all, save)
        : await Promise.allSettled(all.map(save))
    let written = 0
    for (const s of saved) {
      if (s.status === 'rejected') throw s.reason
      written += s.value
    }
    return written
  }

  /**
   * Every shard writes the identities it resolved since the last call (one after another on
   * SQLite, as their saves); never rejects (a shard logs its own failure).
   */
  async flushIdentities(pace: SavePace): Promise<void> {
    const flush = (i: number) => this.#threads.call(i, 'flushIdentities', {}, pace)
    if (this.#d.config.database.kind === 'sqlite') await inTurn(this.#all(), flush)
    else await Promise.allSettled(this.#all().map(flush))
  }

  takeDown(did: string): Promise<boolean> {
    return this.#d.takedowns.hideWhile(did, () => this.#callFor(did, 'takeDown', did))
  }

  async reverseTakedown(did: string): Promise<ReverseTakedownResult> {
    const result = await this.#callFor(did, 'reverseTakedown', did)
    if (result === 'reversed') this.#d.takedowns.delete(did)
    return result
  }

  /** After a host's account limit was raised: releases up to `slots` throttled accounts. */
  releaseThrottled(hostId: number, slots: number): Promise<number> {
    return releaseOldestThrottled(
      this.#d,
      (did) => this.#callFor(did, 'release', did),
      hostId,
      slots,
    )
  }

  resynchronize(
    did: string,
    input: ResyncInput,
  ): Promise<{ result: ResyncResult; state: AccountState | undefined }> {
    // The shard needs the host's view (a new account also asks it for one of the host's slots).
    const shard = this.#shardOf(did)
    this.#threads.hostFacts(shard, input.hostId)
    // Archival mode: the whole repo's tree moves to the shard rather than being copied (the
    // caller keeps nothing of it but the rev).
    const tree = input.tree ? [input.head.commitBlock, ...input.tree.values()] : []
    return this.#threads.call(
      shard,
      'resynchronize',
      { transfer: largeBuffers(tree) },
      did,
      input,
    ) as Promise<{ result: ResyncResult; state: AccountState | undefined }>
  }

  /** The account's state as its shard has it now (written or not). */
  account(did: string): Promise<AccountState | undefined> {
    return this.#callFor(did, 'account', did)
  }

  /** Each stored state, or the newer one its shard holds in memory: one call per shard. */
  async newest(stored: readonly AccountState[]): Promise<AccountState[]> {
    const byShard = new Map<number, number[]>()
    stored.forEach((s, i) => {
      const shard = this.#shardOf(s.did)
      const at = byShard.get(shard)
      if (at) at.push(i)
      else byShard.set(shard, [i])
    })
    const out = [...stored]
    await Promise.all(
      [...byShard].map(async ([shard, at]) => {
        const dids = at.map((i) => stored[i]!.did)
        const held = (await this.#threads.call(shard, 'peekAccounts', {}, dids)) as (
          | AccountState
          | undefined
        )[]
        at.forEach((i, k) => {
          out[i] = held[k] ?? stored[i]!
        })
      }),
    )
    return out
  }

  peekIdentity(did: string): Promise<Identity | undefined> {
    return this.#callFor(did, 'peekIdentity', did)
  }

  purgeIdentity(did: string): Promise<void> {
    return this.#callFor(did, 'purgeIdentity', did)
  }

  resolveIdentity(did: string): Promise<{ identity: Identity; stale: boolean }> {
    return this.#callFor(did, 'resolveIdentity', did)
  }

  /** Archival mode: compacts the account's stored repo in its shard, between its writes. */
  compact(did: string): Promise<CompactionResult> {
    return this.#callFor(did, 'compact', did)
  }

  /** Archival mode: what the shards' mirrors have done, added up (their last reported totals). */
  mirrorStats(): MirrorStats {
    return sumMirrorStats(this.#threads.counts().map((c) => c.mirror))
  }

  /** Events waiting for the database stop waiting (ingest's `stop`), in every live shard. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#all().map((i) => this.#threads.call(i, 'stop', {})))
  }

  /** Resolves when every live shard has settled what it was given, or after `timeoutMs`. */
  async idle(timeoutMs?: number): Promise<void> {
    await Promise.allSettled(this.#all().map((i) => this.#threads.call(i, 'idle', {}, timeoutMs)))
  }

  /** Ends every shard (after `idle` and the last checkpoint). */
  close(): Promise<void> {
    return this.#threads.close()
  }

  #shardOf(did: string): number {
    return shardOf(did, this.#threads.count)
  }

  #all(): number[] {
    return Array.from({ length: this.#threads.count }, (_, i) => i)
  }

  #callFor<M extends ShardMethod>(
    did: string,
    method: M,
    ...args: Parameters<ShardMethods[M]>
  ): Promise<Awaited<ReturnType<ShardMethods[M]>>> {
    return this.#threads.call(this.#shardOf(did), method, {}, ...args) as Promise<
      Awaited<ReturnType<ShardMethods[M]>>
    >
  }
}
