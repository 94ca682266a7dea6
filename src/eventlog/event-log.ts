// The relay's output log: assigns output seqs, appends framed records to segment files in a
// directory, and serves them back from any cursor (docs/design.md §3, §4 items 1–3).
//
// Writing. `append` is synchronous: it takes the next seq, splices it into the frame, encodes the
// record and hands it to the one writer (log-writer.ts), which writes batches with one `writev`
// each, at most `flushIntervalMs` after a record is buffered, and rolls to a new segment past
// `segmentMaxBytes`. Only after a batch is written do `flushedSeq` and `onFlush` listeners see
// it, so nothing reaches a consumer before it is in the file. The buffer is bounded by time;
// `pendingBytes` is the caller's backpressure signal.
//
// Durability. fdatasync runs at most `fsyncIntervalMs` after a write (after every batch when it
// is 0), when a segment is sealed, and at close.
// - A process crash loses only records still buffered (appended less than about
//   `flushIntervalMs` earlier, or held back by failing writes). They never reached `onFlush`, so
//   no consumer saw them; their seqs are assigned again after restart, harmlessly.
// - A machine crash (power, kernel) also loses what was written but not yet fsync'd: up to about
//   `fsyncIntervalMs` of records, which consumers may already have received. On reopen the torn
//   tail is cut and seqs continue after the last record on disk, so those seqs are reused for
//   different events. `fsyncIntervalMs: 0` closes that window at one fdatasync per batch.
//
// Reading. `read` uses positional reads on the segment files, concurrently with appends, and sees
// only written records. A per-segment index (first seq from the name; in memory every record's
// offset in the active segment, every 256th in sealed ones, and where recent reads stopped) lets a
// read start at or near its cursor. Retention deletes whole segments, oldest first, never the
// active (newest) one, whose name remembers the next seq even when it is empty.
//
// Deliberately not here: consumers and cursor semantics beyond `seq > afterSeq` (fanout),
// takedown scrubbing, and rebuilding account or host state (callers use `scan`).
import type { FileHandle } from 'node:fs/promises'
import { mkdir, open, rm } from 'node:fs/promises'
import { uintHead } from '../protocol/output.ts'
import { acquireDirLock, type DirLock } from './dir-lock.ts'
import {
  EventLogClosedError,
  EventLogCorruptError,
  EventLogInputError,
  EventLogIoError,
  errnoCode,
} from './errors.ts'
import { LogWriter } from './log-writer.ts'
import { type Settings, settings } from './options.ts'
import {
  encodeRecord,
  MAX_DID_BYTES,
  MAX_FRAME_BYTES_STORED,
  MAX_TYPE_BYTES,
} from './record-format.ts'
import { describeDamage, recoverSegments, syncDir } from './recovery.ts'
import { findSegment, readSegment, type Segment, scanSegment } from './segment.ts'
import { removeSegmentIndex } from './segment-index.ts'
import type {
  AppendInput,
  EventLogOptions,
  EventLogStats,
  LogRecord,
  RecoveryReport,
  ReusedReadBuffer,
} from './types.ts'

const SCAN_BATCH = 512

interface Recovered {
  readonly segments: readonly Segment[]
  readonly report: RecoveryReport
  readonly handle: FileHandle
  readonly lock: DirLock
}

export class EventLog {
  /** What opening the directory found and repaired. */
  readonly recovery: RecoveryReport
  readonly #s: Settings
  readonly #lock: DirLock
  readonly #writer: LogWriter
  #lastSeq: number
  readonly #listeners = new Set<(records: readonly LogRecord[]) => void>()
  #pruning: Promise<unknown> = Promise.resolve()
  /** Re-checks of segments taken from their index, by the replaced object (readers may hold it). */
  readonly #rechecks = new WeakMap<Segment, Promise<void>>()
  #closing: Promise<void> | null = null

  private constructor(s: Settings, r: Recovered) {
    this.#s = s
    this.#lock = r.lock
    this.recovery = r.report
    this.#lastSeq = r.segments.at(-1)!.lastSeq
    this.#writer = new LogWriter({
      dir: s.dir,
      segmentMaxBytes: s.segmentMaxBytes,
      flushIntervalMs: s.flushIntervalMs,
      fsyncIntervalMs: s.fsyncIntervalMs,
      segments: r.segments,
      handle: r.handle,
      onWritten: (records) => this.#notify(records),
    })
  }

  /** Creates the directory if needed, takes its lock, checks and repairs the segments. */
  static async open(opts: EventLogOptions): Promise<EventLog> {
    const s = settings(opts)
    try {
      await mkdir(s.dir, { recursive: true })
    } catch (e) {
      throw new EventLogIoError('open', `cannot create ${s.dir}`, e)
    }
    const lock = await acquireDirLock(s.dir, { waitMs: opts.lockWaitMs })
    try {
      const { segments, report } = await recoverSegments(s.dir, opts.initialSeq)
      let handle: FileHandle
      try {
        handle = await open(segments.at(-1)!.path, 'r+')
      } catch (e) {
        throw new EventLogIoError('open', 'cannot open the active segment', e)
      }
      return new EventLog(s, { segments, report, handle, lock })
    } catch (e) {
      await lock.release().catch(() => {})
      throw e
    }
  }

  /** Assigns the next seq and buffers the record; it is written within `flushIntervalMs`. */
  append(input: AppendInput): LogRecord {
    if (this.#closing) throw new EventLogClosedError('append')
    const { hostId, upstreamSeq, did, note = '' } = input
    const type = input.frame.type
    if (!Number.isInteger(hostId) || hostId < 0 || hostId > 0xffffffff)
      throw new EventLogInputError('bad-host-id', `hostId ${hostId} is not a u32`)
    if (!Number.isSafeInteger(upstreamSeq) || upstreamSeq < 0)
      throw new EventLogInputError('bad-upstream-seq', `upstreamSeq ${upstreamSeq} is not valid`)
    if (did.length === 0 || Buffer.byteLength(did) > MAX_DID_BYTES)
      throw new EventLogInputError('bad-did', 'did is empty or too long')
    if (type.length === 0 || type.includes('\0') || Buffer.byteLength(type) > MAX_TYPE_BYTES)
      throw new EventLogInputError('bad-type', 'frame type is empty or too long')
    if (
      note !== '' &&
      (note.includes('\0') ||
        Buffer.byteLength(type) + 1 + Buffer.byteLength(note) > MAX_TYPE_BYTES)
    )
      throw new EventLogInputError('bad-note', 'note has a NUL or is too long for its record')
    const seq = this.#lastSeq + 1
    if (seq > Number.MAX_SAFE_INTEGER)
      throw new EventLogInputError('seq-exhausted', 'seqs must stay below 2^53')
    const { prefix, suffix } = input.frame
    const seqHead = uintHead(0, seq)
    const frameLength = prefix.length + seqHead.length + suffix.length
    if (frameLength > MAX_FRAME_BYTES_STORED)
      throw new EventLogInputError('too-large', `frame of ${frameLength} bytes`)
    const clock = this.#s.now()
    const timeMs = Number.isFinite(clock) ? clock : Date.now()
    // The frame `prefix ‖ uint(seq) ‖ suffix` (protocol/output.ts) goes straight into the record.
    const fields = { seq, timeMs, hostId, upstreamSeq }
    const encoded = encodeRecord(fields, type, did, [prefix, seqHead, suffix], note)
    const frame = encoded.frame
    // Two literal shapes rather than a spread: this runs for every event.
    const record: LogRecord =
      note === ''
        ? { seq, timeMs, hostId, upstreamSeq, did, type, frame }
        : { seq, timeMs, hostId, upstreamSeq, did, type, note, frame }
    this.#lastSeq = seq
    this.#writer.add(record, encoded.bytes)
    return record
  }

  /** Last assigned seq (initialSeq - 1 when the log has never held a record). */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** Last seq written to the file: the newest one readers and listeners can see. */
  get flushedSeq(): number {
    return this.#writer.flushedSeq
  }

  /** Bytes appended but not yet written. */
  get pendingBytes(): number {
    return this.#writer.pendingBytes
  }

  /**
   * Calls `listener` after each written batch with its records in seq order, synchronously with
   * `flushedSeq` advancing. A listener that throws does not stop the log or other listeners; the
   * error goes to `onListenerError` (by default rethrown on a later tick).
   */
  onFlush(listener: (records: readonly LogRecord[]) => void): () => void {
    const wrapped = (records: readonly LogRecord[]) => listener(records)
    this.#listeners.add(wrapped)
    return () => this.#listeners.delete(wrapped)
  }

  /** Writes everything appended so far; resolves when it is in the file (not necessarily synced). */
  flush(): Promise<void> {
    if (this.#closing) return Promise.reject(new EventLogClosedError('flush'))
    return this.#writer.flush()
  }

  /** Writes everything appended so far and fdatasyncs it. */
  sync(): Promise<void> {
    if (this.#closing) return Promise.reject(new EventLogClosedError('sync'))
    return this.#writer.sync()
  }

  /**
   * Records with seq > afterSeq, up to `maxRecords` of them, oldest first; only written ones.
   * With `reuse`, the first buffer this read fills is that one (grown when too small), and the
   * records' frames may be views into it until the next read given it.
   */
  async read(afterSeq: number, maxRecords: number, reuse?: ReusedReadBuffer): Promise<LogRecord[]> {
    if (this.#closing) throw new EventLogClosedError('read')
    if (!Number.isFinite(afterSeq)) throw new RangeError(`afterSeq ${afterSeq} is not a number`)
    const out: LogRecord[] = []
    const max = Math.floor(maxRecords)
    let after = Math.max(0, Math.floor(afterSeq))
    const segments = this.#writer.segments
    let taken = reuse === undefined
    const take = (size: number): Buffer => {
      if (taken) return Buffer.allocUnsafe(size)
      taken = true
      const held = reuse!.buffer
      if (held !== undefined && held.length >= size) return held.subarray(0, size)
      reuse!.buffer = Buffer.allocUnsafeSlow(size)
      return reuse!.buffer
    }
    for (let i = findSegment(segments, after + 1); i < segments.length && out.length < max; i++) {
      const seg = segments[i]!
      const end = seg.size
      if (seg.count === 0 || seg.lastSeq <= after) continue
      let present: boolean
      try {
        present = await readSegment(seg, after, max - out.length, end, out, take)
      } catch (e) {
        // Taken from its index at open, never checked: check it now as open would have, keep
        // what is whole, and read on (past the damage, the next segment).
        if (!(e instanceof EventLogCorruptError) || !(await this.#recheck(seg, e))) throw e
        const rest = await this.read(out.at(-1)?.seq ?? after, max - out.length)
        for (const r of rest) out.push(r)
        return out
      }
      // Deleted by retention during this read: stop rather than return a run with a hole.
      if (!present && out.length > 0) break
      after = out.at(-1)?.seq ?? after
    }
    return out
  }

  /**
   * Checks a sealed segment taken from its index record by record, puts the whole part in its
   * place, drops its index file (the next open checks it too) and reports the damage. True once
   * that is done (now, or by an earlier reader: the caller reads again from the new list); false
   * for a segment checked at open, whose damage is the caller's error. Rethrows `cause` if the
   * segment cannot be checked.
   */
  async #recheck(seg: Segment, cause: EventLogCorruptError): Promise<boolean> {
    let running = this.#rechecks.get(seg)
    if (!running) {
      if (!seg.fromIndex) return false
      running = (async () => {
        seg.fromIndex = false
        const segments = this.#writer.segments
        const i = segments.indexOf(seg)
        const next = i < 0 ? undefined : segments[i + 1]
        if (next === undefined) return // pruned meanwhile: nothing to repair
        let scan: Awaited<ReturnType<typeof scanSegment>>
        try {
          scan = await scanSegment(this.#s.dir, seg.firstSeq, next.firstSeq - 1, false)
        } catch (e) {
          if (!this.#writer.segments.includes(seg)) return // deleted by retention meanwhile
          throw e
        }
        // Best effort: an index left behind is trusted again at the next open, and the damage
        // is found again the same way.
        await removeSegmentIndex(this.#s.dir, seg.firstSeq).catch(() => {})
        if (this.#writer.replaceSegment(seg, scan.segment) && scan.damage)
          this.#s.onSegmentDamage(describeDamage(scan))
      })()
      this.#rechecks.set(seg, running)
      // A check that could not be made (the disk refused a read) is tried again by the next read.
      running.catch(() => {
        this.#rechecks.delete(seg)
        seg.fromIndex = true
      })
    }
    await running.catch(() => {
      throw cause
    })
    return true
  }

  /** Oldest retained seq, null when no record is retained. */
  oldestSeq(): number | null {
    for (const seg of this.#writer.segments) if (seg.count > 0) return seg.firstSeq
    return null
  }

  /** Every retained, written record after `afterSeq`, read in batches until the end is reached. */
  async *scan(afterSeq: number): AsyncIterable<LogRecord> {
    let after = afterSeq
    for (;;) {
      const batch = await this.read(after, SCAN_BATCH)
      if (batch.length === 0) return
      yield* batch
      after = batch.at(-1)!.seq
    }
  }

  /** Deletes the oldest whole segments whose newest record is older than the retention window. */
  pruneExpired(): Promise<{ segmentsDeleted: number; bytesDeleted: number }> {
    if (this.#closing) return Promise.reject(new EventLogClosedError('pruneExpired'))
    const run = this.#pruning.then(() => this.#prune())
    this.#pruning = run.catch(() => {})
    return run
  }

  stats(): EventLogStats {
    const w = this.#writer
    let bytes = 0
    for (const seg of w.segments) bytes += seg.size
    return {
      segments: w.segments.length,
      bytes,
      oldestSeq: this.oldestSeq(),
      lastSeq: this.#lastSeq,
      flushedSeq: w.flushedSeq,
      pendingBytes: w.pendingBytes,
      writeCalls: w.writeCalls,
      recordsWritten: w.recordsWritten,
      syncs: w.syncs,
      ioErrors: w.ioErrors,
      failing: w.failing && { operation: w.failing.operation, code: w.failing.code },
      recovery: this.recovery,
    }
  }

  /** Stops the timers, writes and fdatasyncs everything, closes the file and releases the lock. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closing = (async () => {
      try {
        await this.#writer.close()
      } finally {
        await this.#pruning
        await this.#lock.release()
      }
    })()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #notify(records: readonly LogRecord[]): void {
    for (const listener of this.#listeners) {
      try {
        listener(records)
      } catch (e) {
        this.#s.onListenerError(e)
      }
    }
  }

  async #prune(): Promise<{ segmentsDeleted: number; bytesDeleted: number }> {
    const cutoff = this.#s.now() - this.#s.retentionMs
    const segments = this.#writer.segments
    let k = 0
    while (k < segments.length - 1 && segments[k]!.newestTimeMs < cutoff) k++
    if (k === 0) return { segmentsDeleted: 0, bytesDeleted: 0 }
    // Readers holding the old list finish their reads (open files survive unlinking); a read
    // that finds a file gone stops there.
    const dropped = this.#writer.dropOldest(k)
    let bytesDeleted = 0
    let failure: unknown = null
    for (const seg of dropped) {
      try {
        // The index first: an index without its segment is a stray open removes anyway.
        await removeSegmentIndex(this.#s.dir, seg.firstSeq)
        await rm(seg.path)
        bytesDeleted += seg.size
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') failure ??= e
      }
    }
    await syncDir(this.#s.dir).catch((e: unknown) => {
      failure ??= e
    })
    if (failure !== null) {
      this.#writer.ioErrors++
      throw new EventLogIoError('prune', 'cannot delete expired segments', failure)
    }
    return { segmentsDeleted: dropped.length, bytesDeleted }
  }
}
