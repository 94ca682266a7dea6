// The event log's public data shapes: what goes in (AppendInput), what comes out (LogRecord),
// how it is configured, and what it reports (recovery at open, running stats).
// Deliberately only types: behaviour lives in event-log.ts and the files it uses.
import type { UnsequencedFrame } from '../protocol/output.ts'

export interface AppendInput {
  readonly frame: UnsequencedFrame
  /** Upstream host id; 0 for events the relay makes itself. */
  readonly hostId: number
  /** The upstream seq the event came from; 0 when none. */
  readonly upstreamSeq: number
  readonly did: string
  /**
   * A short note for the writer's own later reading (start-up recovery): stored with the record,
   * never sent to consumers. No NUL; with the type, at most 254 bytes. Default: none.
   */
  readonly note?: string
}

export interface LogRecord {
  readonly seq: number
  /** When appended (the log's `now()`), in milliseconds. */
  readonly timeMs: number
  readonly hostId: number
  readonly upstreamSeq: number
  readonly did: string
  /** '#commit', '#sync', '#identity', '#account' */
  readonly type: string
  /** The note the writer attached (absent when none). */
  readonly note?: string
  /** The complete frame with seq spliced in: the bytes consumers get. */
  readonly frame: Uint8Array
}

/**
 * A buffer one reader keeps from read to read (`EventLog.read`'s `reuse`), so that a long replay
 * does not allocate a new one for every batch (each a few MiB outside V8's heap, which makes V8
 * collect every ~64 MiB read). The records a read returns may be views into it: they are valid
 * until the next read given the same one.
 */
export interface ReusedReadBuffer {
  buffer: Buffer | undefined
}

export interface EventLogOptions {
  readonly dir: string
  /** First seq of an empty log (>= 1). Ignored when the log already holds or remembers a seq. */
  readonly initialSeq: number
  /** Whole segments whose newest record is older than this are deleted by pruneExpired(). */
  readonly retentionMs: number
  /** Roll to a new segment past this many bytes (default 256 MiB). */
  readonly segmentMaxBytes?: number
  /** Appends are written in batches at most this far apart (default 5 ms). */
  readonly flushIntervalMs?: number
  /** fdatasync at most this far apart (default 1000 ms); 0 = fdatasync after every batch. */
  readonly fsyncIntervalMs?: number
  /** Clock for record times and retention (default Date.now). */
  readonly now?: () => number
  /**
   * How long open() waits for the directory's lock when another holder has it (default 3 s):
   * long enough for a killed relay to finish exiting, short enough to refuse a live one quickly.
   */
  readonly lockWaitMs?: number
  /**
   * Called when an onFlush listener throws (the log and the other listeners carry on). Default:
   * rethrow on a later tick, an uncaught exception, since a throwing listener is a bug.
   */
  readonly onListenerError?: (error: unknown) => void
  /**
   * Called when a read finds damage in a sealed segment that open took from its index file
   * without checking it (the log then reads that segment only up to the damage, as open would
   * have). Default: nothing.
   */
  readonly onSegmentDamage?: (damage: SegmentDamage) => void
}

/** Why a segment's readable part ends before its file does. */
export type SegmentProblem =
  | 'bad-header' // the file does not start with a segment header naming its first seq
  | 'torn' // the file ends inside a record
  | 'bad-length' // a record's length field is impossible
  | 'checksum' // a record's bytes do not match its crc32
  | 'bad-fields' // the checksum holds but a field is out of range
  | 'seq-mismatch' // a record's seq does not follow the previous one (or overlaps the next file)

export interface SegmentDamage {
  readonly file: string
  /** Byte offset of the first bad byte; everything from here on is ignored. */
  readonly offset: number
  /** Bytes from `offset` to the end of the file as found. */
  readonly bytes: number
  readonly problem: SegmentProblem
}

/** What opening the log found and repaired. */
export interface RecoveryReport {
  /** Segments checked record by record (the newest always is). */
  readonly segmentsScanned: number
  /** Older segments taken from their index file without reading their records. */
  readonly segmentsFromIndex: number
  /** Records in all segments: checked ones, plus the counts of segments taken from an index. */
  readonly recordsRecovered: number
  /** Bytes cut off the end of the newest segment (a torn or corrupt tail), 0 when clean. */
  readonly bytesTruncated: number
  /** The cut tail of the newest segment, if one was cut. */
  readonly truncatedTail: SegmentDamage | null
  /** Older segments that stop early: kept on disk as found, read only up to the damage. */
  readonly damagedSegments: readonly SegmentDamage[]
}

export interface EventLogStats {
  readonly segments: number
  /** Bytes in segment files that readers can see (headers included). */
  readonly bytes: number
  readonly oldestSeq: number | null
  readonly lastSeq: number
  readonly flushedSeq: number
  readonly pendingBytes: number
  /** `write`/`writev` calls made, and the records they carried (their ratio is the batch size). */
  readonly writeCalls: number
  readonly recordsWritten: number
  readonly syncs: number
  /** Failed writes or syncs since open (each is retried). */
  readonly ioErrors: number
  /**
   * While the last write or sync has failed and none has succeeded since: the operation and the
   * errno code (ENOSPC, EIO, ...). Null when the log is writing normally.
   */
  readonly failing: { readonly operation: string; readonly code: string | undefined } | null
  readonly recovery: RecoveryReport
}
