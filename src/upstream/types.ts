// The contract between an upstream connection and whoever runs it: which host, and the
// callbacks through which everything it sees is reported (it never calls higher layers itself).
// Handlers run synchronously on the socket's read path and must not throw.
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type { InfoMessage } from '../protocol/messages.ts'
import type { SocketOpener } from './socket-opener.ts'

export interface HostTarget {
  readonly id: number
  /** May carry `:port`. */
  readonly hostname: string
  readonly ssl: boolean
}

export const CONNECTION_STATES = [
  'connecting',
  'connected',
  'disconnected',
  'refused',
  'stopped',
] as const
export type ConnectionState = (typeof CONNECTION_STATES)[number]

export interface UpstreamHandlers {
  /**
   * A repo event that passed the seq check. `raw` holds the frame's bytes in an ArrayBuffer of
   * its own (it may be transferred to a worker thread). The caller later calls `complete(seq)`.
   */
  onEvent(host: HostTarget, msg: UpstreamEvent, raw: Uint8Array): void
  /** An upstream `#info` (e.g. `OutdatedCursor`). */
  onInfo(host: HostTarget, msg: InfoMessage): void
  /** An event dropped by the connection itself; it is already complete for the cursor. */
  onDrop(host: HostTarget, reason: DropReason, seq: number | undefined, detail: string): void
  /** An upstream error frame (e.g. `FutureCursor`); the connection then ends and is retried. */
  onUpstreamError(host: HostTarget, error: string, message: string | undefined): void
  onStateChange(host: HostTarget, state: ConnectionState, detail: string): void
}

export interface HostConnectionOptions {
  readonly host: HostTarget
  /** Persisted cursor (null: start live). */
  readonly startCursor: number | null
  /** Seqs above `startCursor` accepted before a crash: completed silently, never delivered. */
  readonly skipSeqs?: ReadonlySet<number>
  /** Sent on every request. */
  readonly userAgent: string
  readonly handlers: UpstreamHandlers
  /** Larger frames end the connection (drop reason `frame-too-large`). Default MAX_FRAME_BYTES. */
  readonly maxFrameBytes?: number
  /** Reconnect delays: exponential with full jitter. Default 1 s .. 5 min. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number }
  /** Opening handshake limit. Default 10 s. */
  readonly connectTimeoutMs?: number
  /** Ping interval; a ping unanswered by the next one ends the connection. Default 30 s. */
  readonly pingIntervalMs?: number
  /** A frame whose first bytes arrived must be whole within this time. Default 60 s. */
  readonly frameTimeoutMs?: number
  /**
   * Where the socket runs and how the host's name is resolved on every dial; the composition
   * root's opener applies the address guard (public addresses only, checked on each reconnect:
   * a host's DNS may change after its crawl request was checked). Default: on this thread, with
   * plain DNS.
   */
  readonly sockets?: SocketOpener
  /** A connection open at least this long resets the backoff when it ends. Default 60 s. */
  readonly healthyAfterMs?: number
  /** How long a polite close may take before the socket is destroyed. Default 5 s. */
  readonly closeTimeoutMs?: number
  readonly now?: () => number
  /** Jitter source, uniform in [0, 1). */
  readonly random?: () => number
}

export interface HostConnectionStats {
  readonly framesReceived: number
  readonly bytesReceived: number
  /** Dials after the first. */
  readonly reconnects: number
  /** Connections in a row that failed or ended before they were healthy. */
  readonly consecutiveFailures: number
  readonly skippedAfterRecovery: number
  readonly lastFrameAt: number | null
  readonly lastError: string | null
}

/** The socket timings a caller may tune (tests of silent and stalling hosts shorten them). */
export type UpstreamTimings = Pick<
  HostConnectionOptions,
  'connectTimeoutMs' | 'pingIntervalMs' | 'frameTimeoutMs' | 'backoff'
>
