// The contract between an upstream connection and whoever runs it: which host, and the
// callbacks through which everything it sees is reported (it never calls higher layers itself).
// Handlers run synchronously on the socket's read path and must not throw.
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { InfoMessage, RepoEvent } from '../protocol/messages.ts'

export interface HostTarget {
  readonly id: number
  /** May carry `:port`. */
  readonly hostname: string
  readonly ssl: boolean
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'refused' | 'stopped'

export interface UpstreamHandlers {
  /**
   * A repo event that passed the seq check. `raw` holds the frame's bytes in an ArrayBuffer of
   * its own (it may be transferred to a worker thread). The caller later calls `complete(seq)`.
   */
  onEvent(host: HostTarget, msg: RepoEvent, raw: Uint8Array): void
  /** An upstream `#info` (e.g. `OutdatedCursor`). */
  onInfo(host: HostTarget, msg: InfoMessage): void
  /** An event dropped by the connection itself; it is already complete for the cursor. */
  onDrop(host: HostTarget, reason: DropReason, seq: number | undefined, detail: string): void
  /** An upstream error frame (e.g. `FutureCursor`); the connection then ends and is retried. */
  onUpstreamError(host: HostTarget, error: string, message: string | undefined): void
  onStateChange(host: HostTarget, state: ConnectionState, detail: string): void
}
