// The upstream side of every host as the hosts part (hosts.ts) drives it: one link per known
// host (its connection, flow control, rate limits and cursor). Two run it: HostLinks on the main
// thread (host-links.ts), and the host threads (host-threads/), where each host's link runs on
// the thread that reads its socket and the main thread keeps what they last reported.
// Deliberately not here: why a host is connected or not (hosts.ts), what its events mean.
import type { ConnectionState, HostTarget } from '../upstream/types.ts'
import type { HostLimits, HostRates } from './rate-limit.ts'

/** A host's running connection, as the admin views, the metrics and tests read it. */
export interface LinkConnectionView {
  readonly state: ConnectionState
  readonly connected: boolean
  readonly paused: boolean
  /** Events delivered to ingest and not yet complete: the host's queue. */
  readonly inFlight: number
  /** The connection's cursor (the link's may be held back by an earlier connection). */
  readonly cursor: number | null
  readonly stats: {
    readonly framesReceived: number
    readonly bytesReceived: number
    readonly reconnects: number
  }
}

export interface UpstreamLinks {
  /** A known host's link, made once (a later call for the same host changes nothing). */
  link(target: HostTarget, storedCursor: number | null): void
  /** The host's event limits, applied at once. */
  setLimits(hostId: number, limits: HostLimits): void
  /** Observed rates (for display). */
  rates(hostId: number): HostRates
  /**
   * What start-up recovery found, before the host is dialled: where a host without a stored
   * cursor had got to, and the upstream seqs above the cursor already in the log.
   */
  recover(hostId: number, found: { cursor?: number; skips?: ReadonlySet<number> }): void
  /** Forgets the cursor: the next connection starts at the host's live head. */
  forgetCursor(hostId: number): void
  /** The last upstream seq up to which every event of the host is complete. */
  cursor(hostId: number): number | null
  /** The cursor of each known host (the checkpoint stores them). */
  cursors(): ReadonlyMap<number, number | null>
  /** Brings `cursors` up to date where it is a copy (before a checkpoint reads it). */
  refreshCursors?(): Promise<void>
  connection(hostId: number): LinkConnectionView | undefined
  connectedHosts(): number[]
  /** Connects (unless connected; `fromLiveHead` replaces a connection). No-op once stopped. */
  connect(hostId: number, opts?: { skipSeqs?: ReadonlySet<number>; fromLiveHead?: boolean }): void
  /** Connects many hosts spread evenly over `spreadMs`, asking `stillWanted` at each one's turn. */
  connectAll(
    hostIds: readonly number[],
    spreadMs: number,
    stillWanted?: (hostId: number) => boolean,
  ): void
  /** Stops a host's connection, keeping its cursor; never rejects. */
  disconnect(hostId: number): Promise<void>
  /** Ingest settled an event: flow control, and a dropped one is complete for the cursor. */
  settled(hostId: number, seq: number, dropped: boolean): void
  /** An accepted event is written to the log: complete for the cursor. */
  complete(hostId: number, seq: number): void
  /** Times a host was held back for its rate limits since start. */
  readonly ratePauses: number
  stop(): Promise<void>
}
