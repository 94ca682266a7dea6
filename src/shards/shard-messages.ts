// What the main thread and its account shards say to each other (docs/scaling.md, stage 1).
// Events are batched: every event for one shard during one turn of the event loop goes in one
// message, and a shard sends everything it has to say in one message per turn. Frames and
// output bytes are transferred, never copied.
// The ops a shard sends are in the order it did them: a record appended for an event comes
// before that event's settlement, as in the pipeline on the main thread, and the answer to a
// snapshot comes after every record appended before the snapshot (the checkpoint relies on it).
// Operations on one account (admin, resync, route reads) are calls, answered by a `reply` or
// `fail` op carrying the call's id. The other way round, in archival mode on SQLite, a shard's
// writes to the archive are `archive` ops, answered in a later batch's `answers` (the main
// thread's writer thread is the file's one writer).
// With host threads (host-threads/), the events come from the thread that reads their host's
// socket, over a channel of its own (HostEvents), and the shard tells that thread which of them
// are settled (HostSettled); the host views and slot counts still come from the main thread.
import type { MessagePort } from 'node:worker_threads'
import type { AccountState } from '../accounts/account-state.ts'
import type { CompactionResult, MirrorStats } from '../archive/mirror.ts'
import type { WriteCall, WriteFailure } from '../archive/writer-messages.ts'
import type { RelayConfig } from '../config/config.ts'
import type { SavePace } from '../db/paced-save.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { IdentityCacheCounters } from '../identity/cache.ts'
import type { Identity } from '../identity/did-document.ts'
import type { Drop } from '../ingest/drop-counter.ts'
import type { ReverseTakedownResult } from '../ingest/ingest.ts'
import type { ResyncInput, ResyncResult } from '../ingest/resynchronize.ts'
import type { HistogramTotals } from '../observability/histogram-counts.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type { LendingPeer } from './verify-lending.ts'

/** What a shard is started with (`workerData`). */
export interface ShardStart {
  readonly index: number
  readonly count: number
  readonly config: RelayConfig
  /** Every shard's backlog (shard-load.ts), shared. */
  readonly loads: SharedArrayBuffer
  /** The shards it lends verifications to and borrows from, each over a channel (transferred). */
  readonly peers: readonly LendingPeer[]
  /**
   * With host threads: a channel to each (transferred), by thread index; a host's events come
   * from thread `hostId % hostPorts.length`, and go back there settled.
   */
  readonly hostPorts?: readonly MessagePort[]
}

/** Host thread → shard: the events of one turn, each frame transferred. */
export interface HostEvents {
  readonly events: readonly EventItem[]
}

/** Shard → host thread: its events settled, flat: host id, upstream seq, 1 if dropped else 0. */
export interface HostSettled {
  readonly settled: readonly number[]
}

/** An upstream event for the shard: host, the envelope the main thread read, the frame. */
export type EventItem = readonly [hostId: number, msg: UpstreamEvent, raw: Uint8Array]

/** The main thread's answer to a `slot` op: whether the host's slot is the new account's. */
export type SlotAnswer = readonly [id: number, granted: boolean]

/** The main thread's answer to an `archive` op: the write's value, or how it failed. */
export type ArchiveAnswer =
  | readonly [id: number, ok: true, value: unknown]
  | readonly [id: number, ok: false, failure: WriteFailure]

/**
 * Main thread → shard: the events of one turn, the host views they need, and the answers to
 * the shard's slot requests and archive writes that settled in that turn.
 */
export interface ShardBatch {
  readonly events: readonly EventItem[]
  /** Views of hosts that changed since the last batch to this shard (or were never sent). */
  readonly views?: readonly HostIngestView[]
  readonly slots?: readonly SlotAnswer[]
  readonly answers?: readonly ArchiveAnswer[]
}

/** What the main thread can ask of a shard, about the accounts it owns. */
export interface ShardMethods {
  /** Takes the changed account states aside for a checkpoint (answered in order, see above). */
  snapshot(): number
  /** Writes the snapshot with its checkpoint seq (`pace`: paced-save.ts); how many it wrote. */
  save(seq: number, pace: SavePace): Promise<number>
  /** Writes the identities resolved since the last call (after the checkpoint's cursors). */
  flushIdentities(pace: SavePace): Promise<void>
  /** The checkpoint failed before `save`: the snapshot's states are unwritten again. */
  restore(): void
  takeDown(did: string): Promise<boolean>
  reverseTakedown(did: string): Promise<ReverseTakedownResult>
  release(did: string): Promise<boolean>
  resynchronize(
    did: string,
    input: ResyncInput,
  ): Promise<{ result: ResyncResult; state: AccountState | undefined }>
  account(did: string): Promise<AccountState | undefined>
  /** The states of these accounts in memory now (undefined where none), without loading. */
  peekAccounts(dids: readonly string[]): (AccountState | undefined)[]
  peekIdentity(did: string): Identity | undefined
  purgeIdentity(did: string): void
  resolveIdentity(did: string): Promise<{ identity: Identity; stale: boolean }>
  /** Archival mode: deletes the blocks the repo's tree no longer reaches (archive/mirror.ts). */
  compact(did: string): Promise<CompactionResult>
  /** Stops waiting for the database (ingest's `stop`). */
  stop(): void
  /** Resolves when every event handed in is settled, or after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>
}

export type ShardMethod = keyof ShardMethods

export interface ShardCall {
  readonly call: number
  readonly method: ShardMethod
  readonly args: readonly unknown[]
}

export interface ShardClose {
  readonly close: true
}

export type ToShard = ShardBatch | ShardCall | ShardClose

/** Shard → main thread, one op each, in the order the shard did them. */
export type ShardOp =
  /** Append to the log (the frame's prefix and suffix around the seq). */
  | readonly [
      op: 'append',
      hostId: number,
      upstreamSeq: number,
      did: string,
      type: string,
      prefix: Uint8Array,
      suffix: Uint8Array,
      note: string | undefined,
    ]
  /** An upstream event is settled: accepted (its records appended above) or dropped. */
  | readonly [op: 'settled', hostId: number, seq: number, dropped: boolean]
  | readonly [op: 'drop', drop: Drop]
  | readonly [op: 'commit', hostId: number, proven: boolean]
  | readonly [op: 'count', hostId: number, delta: number]
  /**
   * A new account of the host asks for one of its slots (decision 2): answered in a batch's
   * `slots` by this id; a granted slot is counted by the main thread at once.
   */
  | readonly [op: 'slot', id: number, hostId: number]
  | readonly [op: 'desync', did: string, hostId: number]
  /** Archival mode on SQLite: a write to the archive, answered in a batch's `answers` by this id. */
  | readonly [op: 'archive', id: number, call: WriteCall]
  /** Something went wrong with an event: the error as text (its stack when it has one). */
  | readonly [op: 'error', level: 'warn' | 'error', error: string, context: object]
  | readonly [op: 'reply', call: number, value: unknown]
  | readonly [op: 'fail', call: number, name: string, message: string]

export interface ShardOps {
  readonly ops: readonly ShardOp[]
  /** The shard's ingest counts that have no op of their own, as totals. */
  readonly errors: number
  readonly retries: number
  /**
   * With host threads, where the main thread does not see events go in and settle: the shard's
   * own counts of them (events received, settled as accepted or dropped, in flight), as totals.
   */
  readonly events?: { received: number; accepted: number; dropped: number; inFlight: number }
  /** Verifications it lent to a less busy shard (verify-lending.ts), a total. */
  readonly lent: number
  /** Its identity cache's counts (totals) and sizes (now), for the metrics. */
  readonly identity: IdentityCacheCounters & { entries: number; running: number; queued: number }
  /** Archival mode: what its mirror has done, as totals. */
  readonly mirror?: MirrorStats
  /** Its histograms' totals, now and then (shard-histograms.ts). */
  readonly histograms?: HistogramTotals
}

export interface ShardReady {
  readonly ready: true
}

export type FromShard = ShardOps | ShardReady
