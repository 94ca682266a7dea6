// What the main thread and its account shards say to each other (docs/scaling.md, stage 1).
// Both directions are batched: everything for one shard during one turn of the event loop goes
// in one message, and a shard answers with everything it has to say in one message per turn.
// Frames and output bytes are transferred, never copied.
// The ops a shard sends are in the order it did them: a record appended for an event comes
// before that event's settlement, as in the pipeline on the main thread.
import type { Drop } from '../ingest/drop-counter.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type { RelayConfig } from '../config/config.ts'

/** What a shard is started with (`workerData`). */
export interface ShardStart {
  readonly index: number
  readonly count: number
  readonly config: RelayConfig
}

/** An upstream event for the shard: host, the envelope the main thread read, the frame. */
export type EventItem = readonly [hostId: number, msg: UpstreamEvent, raw: Uint8Array]

/** A host's account slots as the main thread counts them. */
export type SlotItem = readonly [hostId: number, count: number, limit: number]

/** Main thread → shard: the events of one turn, and the host views and slots they need. */
export interface ShardBatch {
  readonly events: readonly EventItem[]
  /** Views of hosts that changed since the last batch to this shard (or were never sent). */
  readonly views?: readonly HostIngestView[]
  readonly slots?: readonly SlotItem[]
}

export interface ShardClose {
  readonly close: true
}

export type ToShard = ShardBatch | ShardClose

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
  | readonly [op: 'desync', did: string, hostId: number]
  | readonly [op: 'error', level: 'warn' | 'error', message: string, context: object]

export interface ShardOps {
  readonly ops: readonly ShardOp[]
}

export interface ShardReady {
  readonly ready: true
}

export type FromShard = ShardOps | ShardReady
