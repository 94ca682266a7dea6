// What the main thread and its host threads say to each other (docs/scaling.md, stage 2). A host
// thread owns the links of the hosts given to it (host id modulo the thread count): their sockets,
// seq windows, flow control, rate limits and cursors. Events go from it straight to the account
// shards (shards/shard-messages.ts, HostEvents); what the main thread must hear comes back in
// reports: what a link noticed (in order, once per turn of the thread's loop when there is
// any), the answers to its calls, and every second the hosts' books (cursors, connections, rates,
// counts). The main thread sends each host's changes as they happen and, once per turn, which
// upstream seqs the log has written.
// Deliberately not here: what either side does with them.
import type { MessagePort } from 'node:worker_threads'
import type { HostLimits, HostRates } from '../hosts/rate-limit.ts'
import type { LinkConnectionView } from '../hosts/upstream-links.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { ConnectionState, HostTarget, UpstreamTimings } from '../upstream/types.ts'

/** Given to a host thread when it starts (`workerData`). */
export interface HostThreadStart {
  readonly index: number
  /** Localhost names skip the address guard (development with insecure hosts). */
  readonly allowInsecure: boolean
  readonly userAgent: string
  readonly hostConcurrency: number
  readonly timings?: UpstreamTimings
  /** The shards' backlogs (shards/shard-load.ts), which this thread adds its events to. */
  readonly loads: SharedArrayBuffer
  /** A channel to each account shard, by shard index (transferred). */
  readonly shardPorts: readonly MessagePort[]
  /** How often the hosts' books are reported. */
  readonly booksEveryMs: number
}

export type ToHostThread =
  | { readonly op: 'link'; readonly target: HostTarget; readonly cursor: number | null }
  | { readonly op: 'limits'; readonly id: number; readonly limits: HostLimits }
  | {
      readonly op: 'recover'
      readonly id: number
      readonly cursor?: number
      readonly skips?: readonly number[]
    }
  | { readonly op: 'forget'; readonly id: number }
  | {
      readonly op: 'connect'
      readonly id: number
      readonly skips?: readonly number[]
      readonly fromLiveHead?: boolean
    }
  | { readonly op: 'disconnect'; readonly id: number; readonly call: number }
  /**
   * Flat pairs (host id, upstream seq): written to the log, complete for the cursor. And flat
   * triples (host id, upstream seq, 1 if dropped) settled on the main thread: none while the
   * shards settle their events with the thread directly, but the links' contract (settled, then
   * complete) holds whoever settles.
   */
  | { readonly op: 'written'; readonly complete: readonly number[]; readonly settled: number[] }
  /** Answered, with the books in the same report, once everything sent before is applied. */
  | { readonly op: 'books'; readonly call: number }
  | { readonly op: 'stop'; readonly call: number }

/** What a link noticed, for the main thread's rules (hosts/link-notices.ts) and counters. */
export type HostNote =
  | readonly [note: 'state', hostId: number, state: ConnectionState, detail: string]
  | readonly [note: 'info', hostId: number, name: string, message: string | undefined]
  | readonly [note: 'error', hostId: number, error: string, message: string | undefined]
  | readonly [
      note: 'drop',
      hostId: number,
      reason: DropReason,
      seq: number | undefined,
      detail: string,
    ]
  | readonly [note: 'limited', hostId: number, heldForMs: number]
  | readonly [note: 'ok', hostId: number]
  | readonly [note: 'log', text: string, context: object]

/** One host's books: its cursor, its running connection, its observed rates. */
export interface HostBook {
  readonly id: number
  readonly cursor: number | null
  readonly connection: LinkConnectionView | null
  readonly rates: HostRates
}

/** Every host's books, and the thread's counts since it started. */
export interface HostBooks {
  readonly hosts: readonly HostBook[]
  /** Since the last books, flat triples: host id, event type (EVENT_TYPES index), count. */
  readonly types: readonly number[]
  /** Events handed to each shard, totals by shard index. */
  readonly handed: readonly number[]
  /** Times a host was held back for its rate limits, a total. */
  readonly ratePauses: number
}

export interface HostThreadReport {
  /**
   * Hosts that sent events since the last report that said: with the books, and with any note
   * (applied before the notes, so a connection's end is never followed by its own events).
   */
  readonly arrived?: readonly number[]
  readonly notes: readonly HostNote[]
  readonly answers: readonly (readonly [call: number, value: unknown])[]
  readonly books?: HostBooks
}
