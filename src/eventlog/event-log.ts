// The relay's output log: assigns output seqs, appends framed records to segment files in a
// directory, and serves them back from any cursor (DESIGN.md §3, §4 items 1–3).
//
// Writing. `append` is synchronous: it takes the next seq, splices it into the frame, encodes the
// record and buffers it. One writer drains the buffer in batches (one `writev` per batch, at most
// `flushIntervalMs` after a record is buffered), positioned at the end of the active segment, and
// rolls to a new segment once the active one passes `segmentMaxBytes`. Only after a batch is
// written do `flushedSeq` and `onFlush` listeners see it, so nothing reaches a consumer before it
// is in the file. The buffer is bounded by time, not bytes: `pendingBytes` is the caller's
// backpressure signal. A failed write keeps its records buffered and is retried (with backoff);
// since writes are positioned, a retry overwrites any partial write.
//
// Durability. fdatasync runs at most `fsyncIntervalMs` after a write (or after every batch when
// it is 0), and when a segment is sealed, and at close.
// - A process crash loses only records still buffered (appended less than about
//   `flushIntervalMs` earlier, or held back by failing writes). They never reached `onFlush`, so
//   no consumer saw them; their seqs are assigned again after restart, harmlessly.
// - A machine crash (power, kernel) additionally loses what was written but not yet fsync'd: up
//   to about `fsyncIntervalMs` of records, which consumers may already have received. On reopen
//   the torn tail is cut and seqs continue after the last record on disk, so those seqs are
//   reused for different events. `fsyncIntervalMs: 0` closes that window at the cost of one
//   fdatasync per batch.
//
// Reading. `read` uses positional reads on the segment files, concurrently with appends, and sees
// only written records. A per-segment index (first seq from the name, every 256th offset in
// memory) lets a read start near its cursor. Retention deletes whole segments, oldest first,
// never the active (newest) one, whose name remembers the next seq even when it is empty.
//
// Deliberately not here: consumers, cursors semantics beyond `seq > afterSeq` (fanout), takedown
// scrubbing, and account/host recovery logic (callers use `scan`).
import type { FileHandle } from 'node:fs/promises'
import { mkdir, open, rm } from 'node:fs/promises'
import { frameWithSeq } from '../protocol/output.ts'
import { acquireDirLock, type DirLock } from './dir-lock.ts'
import { EventLogClosedError, EventLogInputError, EventLogIoError, errnoCode } from './errors.ts'
import {
  encodeRecord,
  MAX_DID_BYTES,
  MAX_FRAME_BYTES_STORED,
  MAX_TYPE_BYTES,
} from './record-format.ts'
import { createSegmentFile, recoverSegments, syncDir } from './recovery.ts'
import { readSegment, type Segment } from './segment.ts'
import type {
  AppendInput,
  EventLogOptions,
  EventLogStats,
  LogRecord,
  RecoveryReport,
} from './types.ts'

const DEFAULT_SEGMENT_MAX_BYTES = 256 * 1024 * 1024
const DEFAULT_FLUSH_INTERVAL_MS = 5
const DEFAULT_FSYNC_INTERVAL_MS = 1000
/** Largest single `writev`: bigger backlogs are written (and announced) in several batches. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000
const SCAN_BATCH = 512

interface Pending {
  readonly record: LogRecord
  readonly bytes: Buffer
}

interface Settings {
  readonly dir: string
  readonly retentionMs: number
  readonly segmentMaxBytes: number
  readonly flushIntervalMs: number
  readonly fsyncIntervalMs: number
  readonly now: () => number
  readonly onListenerError: (error: unknown) => void
}

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
  /** Oldest first; replaced (never mutated) on roll and prune so readers can hold a snapshot. */
  #segments: readonly Segment[]
  #handle: FileHandle
  #lastSeq: number
  #flushedSeq: number
  #pending: Pending[] = []
  #pendingBytes = 0
  readonly #listeners = new Set<(records: readonly LogRecord[]) => void>()
  /** The one writer: every file mutation runs in this chain, one at a time. */
  #chain: Promise<void> = Promise.resolve()
  #flushTimer: NodeJS.Timeout | null = null
  #flushQueued = false
  #syncTimer: NodeJS.Timeout | null = null
  #unsynced = false
  #lastSyncAt = performance.now()
  #retryMs = 0
  #pruning: Promise<unknown> = Promise.resolve()
  #closing: Promise<void> | null = null
  #writeCalls = 0
  #recordsWritten = 0
  #syncs = 0
  #ioErrors = 0

  private constructor(s: Settings, r: Recovered) {
    this.#s = s
    this.#segments = r.segments
    this.#handle = r.handle
    this.#lock = r.lock
    this.recovery = r.report
    const last = r.segments.at(-1)!
    this.#lastSeq = last.lastSeq
    this.#flushedSeq = last.lastSeq
  }

  /** Creates the directory if needed, takes its lock, checks and repairs the segments. */
  static async open(opts: EventLogOptions): Promise<EventLog> {
    const s = settings(opts)
    try {
      await mkdir(s.dir, { recursive: true })
    } catch (e) {
      throw new EventLogIoError('open', `cannot create ${s.dir}`, e)
    }
    const lock = await acquireDirLock(s.dir)
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
    const { hostId, upstreamSeq, did } = input
    const type = input.frame.type
    if (!Number.isInteger(hostId) || hostId < 0 || hostId > 0xffffffff)
      throw new EventLogInputError('bad-host-id', `hostId ${hostId} is not a u32`)
    if (!Number.isSafeInteger(upstreamSeq) || upstreamSeq < 0)
      throw new EventLogInputError('bad-upstream-seq', `upstreamSeq ${upstreamSeq} is not valid`)
    if (did.length === 0 || Buffer.byteLength(did) > MAX_DID_BYTES)
      throw new EventLogInputError('bad-did', 'did is empty or too long')
    if (type.length === 0 || Buffer.byteLength(type) > MAX_TYPE_BYTES)
      throw new EventLogInputError('bad-type', 'frame type is empty or too long')
    const seq = this.#lastSeq + 1
    if (seq > Number.MAX_SAFE_INTEGER)
      throw new EventLogInputError('seq-exhausted', 'seqs must stay below 2^53')
    const full = frameWithSeq(input.frame, seq)
    if (full.length > MAX_FRAME_BYTES_STORED)
      throw new EventLogInputError('too-large', `frame of ${full.length} bytes`)
    const timeMs = this.#s.now()
    const encoded = encodeRecord({ seq, timeMs, hostId, upstreamSeq }, type, did, full)
    const record: LogRecord = { seq, timeMs, hostId, upstreamSeq, did, type, frame: encoded.frame }
    this.#lastSeq = seq
    this.#pending.push({ record, bytes: encoded.bytes })
    this.#pendingBytes += encoded.bytes.length
    this.#scheduleFlush()
    return record
  }

  /** Last assigned seq (initialSeq - 1 when the log has never held a record). */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** Last seq written to the file: the newest one readers and listeners can see. */
  get flushedSeq(): number {
    return this.#flushedSeq
  }

  /** Bytes appended but not yet written. */
  get pendingBytes(): number {
    return this.#pendingBytes
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
    return this.#enqueue(() => this.#writePending())
  }

  /** Writes everything appended so far and fdatasyncs it. */
  sync(): Promise<void> {
    if (this.#closing) return Promise.reject(new EventLogClosedError('sync'))
    return this.#enqueue(async () => {
      await this.#writePending()
      await this.#syncNow()
    })
  }

  /** Records with seq > afterSeq, up to `maxRecords` of them, oldest first; only written ones. */
  async read(afterSeq: number, maxRecords: number): Promise<LogRecord[]> {
    if (this.#closing) throw new EventLogClosedError('read')
    if (!Number.isFinite(afterSeq)) throw new RangeError(`afterSeq ${afterSeq} is not a number`)
    const out: LogRecord[] = []
    const max = Math.floor(maxRecords)
    let after = Math.max(0, Math.floor(afterSeq))
    const segments = this.#segments
    let i = findSegment(segments, after + 1)
    for (; i < segments.length && out.length < max; i++) {
      const seg = segments[i]!
      const end = seg.size
      if (seg.count === 0 || seg.lastSeq <= after) continue
      const present = await readSegment(seg, after, max - out.length, end, out)
      // Deleted by retention during this read: stop rather than return a run with a hole.
      if (!present && out.length > 0) break
      after = out.at(-1)?.seq ?? after
    }
    return out
  }

  /** Oldest retained seq, null when no record is retained. */
  oldestSeq(): number | null {
    for (const seg of this.#segments) if (seg.count > 0) return seg.firstSeq
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
    let bytes = 0
    for (const seg of this.#segments) bytes += seg.size
    return {
      segments: this.#segments.length,
      bytes,
      oldestSeq: this.oldestSeq(),
      lastSeq: this.#lastSeq,
      flushedSeq: this.#flushedSeq,
      pendingBytes: this.#pendingBytes,
      writeCalls: this.#writeCalls,
      recordsWritten: this.#recordsWritten,
      syncs: this.#syncs,
      ioErrors: this.#ioErrors,
      recovery: this.recovery,
    }
  }

  /** Stops the timers, writes and fdatasyncs everything, closes the file and releases the lock. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#clearTimers()
    this.#closing = (async () => {
      try {
        await this.#enqueue(async () => {
          await this.#writePending()
          await this.#syncNow()
        })
      } finally {
        this.#clearTimers()
        await this.#pruning
        await this.#handle.close().catch(() => {})
        await this.#lock.release()
      }
    })()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(op)
    this.#chain = run.catch(() => {})
    return run
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== null || this.#flushQueued) return
    const delay = this.#retryMs > 0 ? this.#retryMs : this.#s.flushIntervalMs
    this.#flushTimer = setTimeout(this.#onFlushTimer, delay)
  }

  readonly #onFlushTimer = (): void => {
    this.#flushTimer = null
    this.#flushQueued = true
    this.#enqueue(() => this.#writePending()).catch(() => {}) // counted and retried inside
  }

  /** Drains the buffer into the active segment (rolling as needed), then syncs or schedules it. */
  async #writePending(): Promise<void> {
    this.#flushQueued = false
    try {
      while (this.#pending.length > 0) await this.#writeBatch()
      this.#retryMs = 0
    } catch (e) {
      this.#ioErrors++
      this.#retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.#retryMs * 2))
      if (!this.#closing) this.#scheduleFlush()
      throw e instanceof EventLogIoError ? e : new EventLogIoError('write', 'write failed', e)
    }
    if (!this.#unsynced) return
    if (this.#s.fsyncIntervalMs === 0) await this.#syncNow()
    else this.#scheduleSync()
  }

  async #writeBatch(): Promise<void> {
    const pending = this.#pending
    const head = pending[0]!
    let seg = this.#segments.at(-1)!
    if (seg.count > 0 && seg.size + head.bytes.length > this.#s.segmentMaxBytes) {
      await this.#roll(head.record.seq)
      seg = this.#segments.at(-1)!
    }
    const buffers: Buffer[] = [head.bytes]
    let bytes = head.bytes.length
    for (let i = 1; i < pending.length; i++) {
      const len = pending[i]!.bytes.length
      if (bytes + len > MAX_BATCH_BYTES || seg.size + bytes + len > this.#s.segmentMaxBytes) break
      buffers.push(pending[i]!.bytes)
      bytes += len
    }
    const position = seg.size
    let written: number
    try {
      written = (await this.#handle.writev(buffers, position)).bytesWritten
    } catch (e) {
      throw new EventLogIoError('write', `cannot write ${seg.path}`, e)
    }
    this.#writeCalls++
    if (written !== bytes)
      throw new EventLogIoError('write', `short write to ${seg.path}`, { written, bytes })
    // From here to the listeners, nothing awaits: size, flushedSeq and onFlush move together.
    const batch = pending.splice(0, buffers.length)
    const records: LogRecord[] = new Array(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!
      seg.noteRecord(p.bytes.length, p.record.timeMs)
      records[i] = p.record
    }
    this.#pendingBytes -= bytes
    this.#recordsWritten += records.length
    this.#unsynced = true
    this.#flushedSeq = records.at(-1)!.seq
    this.#notify(records)
  }

  /** Seals the active segment (fdatasync) and starts a new one whose first seq is `firstSeq`. */
  async #roll(firstSeq: number): Promise<void> {
    try {
      if (this.#unsynced) await this.#syncNow()
      const next = await createSegmentFile(this.#s.dir, firstSeq)
      const handle = await open(next.path, 'r+')
      const old = this.#handle
      this.#handle = handle
      this.#segments = [...this.#segments, next]
      await old.close()
    } catch (e) {
      throw new EventLogIoError('roll', `cannot start segment ${firstSeq}`, e)
    }
  }

  async #syncNow(): Promise<void> {
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer)
    this.#syncTimer = null
    if (!this.#unsynced) return
    this.#unsynced = false
    try {
      await this.#handle.datasync()
    } catch (e) {
      this.#unsynced = true
      this.#ioErrors++
      if (!this.#closing) this.#scheduleSync()
      throw new EventLogIoError('sync', 'fdatasync failed', e)
    }
    this.#syncs++
    this.#lastSyncAt = performance.now()
  }

  #scheduleSync(): void {
    if (this.#syncTimer !== null) return
    const delay = Math.max(0, this.#lastSyncAt + this.#s.fsyncIntervalMs - performance.now())
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = null
      this.#enqueue(() => this.#syncNow()).catch(() => {}) // counted and retried inside
    }, delay)
    this.#syncTimer.unref()
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
    const segments = this.#segments
    let k = 0
    while (k < segments.length - 1 && segments[k]!.newestTimeMs < cutoff) k++
    if (k === 0) return { segmentsDeleted: 0, bytesDeleted: 0 }
    // Readers holding the old array finish their reads (open files survive unlinking); a read
    // that opens a deleted file skips it.
    this.#segments = segments.slice(k)
    let bytesDeleted = 0
    let failure: unknown = null
    for (const seg of segments.slice(0, k)) {
      try {
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
      this.#ioErrors++
      throw new EventLogIoError('prune', 'cannot delete expired segments', failure)
    }
    return { segmentsDeleted: k, bytesDeleted }
  }

  #clearTimers(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer)
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer)
    this.#flushTimer = null
    this.#syncTimer = null
  }
}

/** Index of the segment holding `seq` (the last one starting at or before it), or 0. */
function findSegment(segments: readonly Segment[], seq: number): number {
  let lo = 0
  let hi = segments.length - 1
  let found = 0
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (segments[mid]!.firstSeq <= seq) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return found
}

function settings(opts: EventLogOptions): Settings {
  const {
    dir,
    initialSeq,
    retentionMs,
    segmentMaxBytes = DEFAULT_SEGMENT_MAX_BYTES,
    flushIntervalMs = DEFAULT_FLUSH_INTERVAL_MS,
    fsyncIntervalMs = DEFAULT_FSYNC_INTERVAL_MS,
    now = Date.now,
    onListenerError = rethrowLater,
  } = opts
  if (!Number.isSafeInteger(initialSeq) || initialSeq < 1)
    throw new RangeError(`initialSeq must be an integer >= 1, got ${initialSeq}`)
  if (!(retentionMs >= 0)) throw new RangeError(`retentionMs must be >= 0, got ${retentionMs}`)
  if (!(segmentMaxBytes >= 4096))
    throw new RangeError(`segmentMaxBytes must be >= 4096, got ${segmentMaxBytes}`)
  if (!(flushIntervalMs >= 0) || !(fsyncIntervalMs >= 0))
    throw new RangeError('flushIntervalMs and fsyncIntervalMs must be >= 0')
  return {
    dir,
    retentionMs,
    segmentMaxBytes,
    flushIntervalMs,
    fsyncIntervalMs,
    now,
    onListenerError,
  }
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}
