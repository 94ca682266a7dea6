// The shapes fanout shares with the event log and with whoever shows consumers (admin API,
// metrics). `LogRecord` / `LogReader` are declared here, not imported from eventlog/, so fanout
// stays below the log in the layering; the real log matches them structurally.
// Deliberately not here: how the log stores or trims records.

/** One event as the log stores it. `frame` is the complete encoded frame, its seq included. */
export interface LogRecord {
  readonly seq: number
  readonly timeMs: number
  readonly hostId: number
  readonly upstreamSeq: number
  readonly did: string
  readonly type: string
  readonly frame: Uint8Array
}

/** What fanout needs from the event log. */
export interface LogReader {
  /**
   * The last seq written. The log raises it before it calls `Fanout.broadcast` with the records
   * up to it, so every broadcast carries only records after the value read before it.
   */
  readonly flushedSeq: number
  /** The oldest retained seq, or null when nothing is retained. */
  oldestSeq(): number | null
  /**
   * Records with seq > afterSeq, at most maxRecords, up to flushedSeq, in seq order. With
   * `reuse`, the records' frames may be views into its buffer, valid until the next read given
   * the same one (a replay's reads, one after another).
   */
  read(
    afterSeq: number,
    maxRecords: number,
    reuse?: ReusedReadBuffer,
  ): Promise<readonly LogRecord[]>
}

/** A buffer a reader keeps from read to read (the log's `ReusedReadBuffer`, same shape). */
export interface ReusedReadBuffer {
  buffer: Buffer | undefined
}

export type ConsumerState = 'replaying' | 'live'

/** A snapshot of one connected consumer. */
export interface ConsumerInfo {
  id: number
  remoteAddr: string
  userAgent: string
  /** The cursor it asked for (null: live only). */
  cursor: number | null
  eventsSent: number
  /** Frame bytes sent (WebSocket framing not counted). */
  bytesSent: number
  /** ISO 8601. */
  connectedAt: string
  state: ConsumerState
}
