// The event log's one writer: the write buffer, batched positioned `writev`s into the active
// segment, rolling to a new segment, and fdatasync on an interval. It owns the list of segments
// (replaced, never mutated, so readers can hold a snapshot) and `flushedSeq`.
//
// Buffer policy: bounded by time, not bytes. A record is written at most `flushIntervalMs` after
// it is buffered (sooner when the previous write is still running: the next batch follows it at
// once), in batches of at most MAX_BATCH_BYTES; `pendingBytes` tells the caller how far behind
// the disk is so it can slow its producers. A failed write or roll keeps the records buffered and
// is retried with backoff (50 ms doubling to 5 s); since writes are positioned at the end of what
// was written successfully, a retry overwrites any partial write.
//
// Only after a batch is in the file do the segment's size, `flushedSeq` and the `onWritten`
// callback move, together and synchronously. Every file mutation runs in one promise chain.
// Deliberately not here: seqs, record encoding, reading, retention (event-log.ts, segment.ts).
import { type FileHandle, open } from 'node:fs/promises'
import { EventLogIoError } from './errors.ts'
import { createSegmentFile } from './recovery.ts'
import type { Segment } from './segment.ts'
import { writeSegmentIndex } from './segment-index.ts'
import type { LogRecord } from './types.ts'

/** Largest single `writev`: bigger backlogs are written (and announced) in several batches. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000

export interface LogWriterOptions {
  readonly dir: string
  readonly segmentMaxBytes: number
  readonly flushIntervalMs: number
  readonly fsyncIntervalMs: number
  /** Oldest first, never empty; the last one is active and open as `handle`. */
  readonly segments: readonly Segment[]
  readonly handle: FileHandle
  /** Called synchronously after each written batch, with flushedSeq already advanced. */
  readonly onWritten: (records: readonly LogRecord[]) => void
}

interface Pending {
  readonly record: LogRecord
  readonly bytes: Buffer
}

export class LogWriter {
  readonly #o: LogWriterOptions
  #segments: readonly Segment[]
  #handle: FileHandle
  #flushedSeq: number
  #pending: Pending[] = []
  #pendingBytes = 0
  #chain: Promise<void> = Promise.resolve()
  #flushTimer: NodeJS.Timeout | null = null
  #flushQueued = false
  #syncTimer: NodeJS.Timeout | null = null
  #unsynced = false
  #lastSyncAt = performance.now()
  #retryMs = 0
  #stopped = false
  writeCalls = 0
  recordsWritten = 0
  syncs = 0
  ioErrors = 0
  /** The failure of the last write or sync, until one succeeds again (health checks read it). */
  failing: EventLogIoError | null = null

  constructor(o: LogWriterOptions) {
    this.#o = o
    this.#segments = o.segments
    this.#handle = o.handle
    this.#flushedSeq = o.segments.at(-1)!.lastSeq
  }

  get segments(): readonly Segment[] {
    return this.#segments
  }

  get flushedSeq(): number {
    return this.#flushedSeq
  }

  get pendingBytes(): number {
    return this.#pendingBytes
  }

  /** Buffers an encoded record (the next seq) and makes sure a write is scheduled. */
  add(record: LogRecord, bytes: Buffer): void {
    this.#pending.push({ record, bytes })
    this.#pendingBytes += bytes.length
    this.#scheduleFlush()
  }

  /** Puts `fresh` where `old` is in the list (a re-checked sealed segment); false if gone. */
  replaceSegment(old: Segment, fresh: Segment): boolean {
    const i = this.#segments.indexOf(old)
    if (i < 0 || i === this.#segments.length - 1) return false
    this.#segments = this.#segments.with(i, fresh)
    return true
  }

  /** Removes the `k` oldest segments from the list (never the active one) and returns them. */
  dropOldest(k: number): readonly Segment[] {
    const n = Math.min(k, this.#segments.length - 1)
    const dropped = this.#segments.slice(0, n)
    this.#segments = this.#segments.slice(n)
    return dropped
  }

  flush(): Promise<void> {
    return this.#enqueue(() => this.#writePending())
  }

  sync(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#writePending()
      await this.#syncNow()
    })
  }

  /** Stops the timers, writes and syncs everything, closes the active file. */
  async close(): Promise<void> {
    this.#stopped = true
    this.#clearTimers()
    try {
      await this.sync()
    } finally {
      this.#clearTimers()
      await this.#handle.close().catch(() => {})
    }
  }

  #enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(op)
    this.#chain = run.catch(() => {})
    return run
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== null || this.#flushQueued || this.#stopped) return
    const delay = this.#retryMs > 0 ? this.#retryMs : this.#o.flushIntervalMs
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
      if (this.failing?.operation !== 'sync') this.failing = null
    } catch (e) {
      this.ioErrors++
      this.#retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.#retryMs * 2))
      this.#scheduleFlush()
      this.failing =
        e instanceof EventLogIoError ? e : new EventLogIoError('write', 'write failed', e)
      throw this.failing
    }
    if (!this.#unsynced) return
    if (this.#o.fsyncIntervalMs === 0) await this.#syncNow()
    else this.#scheduleSync()
  }

  async #writeBatch(): Promise<void> {
    const pending = this.#pending
    const max = this.#o.segmentMaxBytes
    const head = pending[0]!
    let seg = this.#segments.at(-1)!
    if (seg.count > 0 && seg.size + head.bytes.length > max) {
      await this.#roll(head.record.seq)
      seg = this.#segments.at(-1)!
    }
    const buffers: Buffer[] = [head.bytes]
    let bytes = head.bytes.length
    for (let i = 1; i < pending.length; i++) {
      const len = pending[i]!.bytes.length
      if (bytes + len > MAX_BATCH_BYTES || seg.size + bytes + len > max) break
      buffers.push(pending[i]!.bytes)
      bytes += len
    }
    try {
      let written = (await this.#handle.writev(buffers, seg.size)).bytesWritten
      this.writeCalls++
      // A short write is legal (a disk nearly full, a signal): the rest is written after it,
      // and the disk's own error (ENOSPC, EIO, ...) surfaces from that write if there is one.
      const all = written < bytes ? Buffer.concat(buffers) : undefined
      while (all !== undefined && written < bytes) {
        const n = (await this.#handle.write(all, written, bytes - written, seg.size + written))
          .bytesWritten
        this.writeCalls++
        if (n === 0) throw new Error(`no progress after ${written} of ${bytes} bytes`)
        written += n
      }
    } catch (e) {
      throw new EventLogIoError('write', `cannot write ${seg.path}`, e)
    }
    // From here to the callback nothing awaits: size, flushedSeq and listeners move together.
    const batch = pending.splice(0, buffers.length)
    const records: LogRecord[] = new Array(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!
      seg.noteRecord(p.bytes.length, p.record.timeMs)
      records[i] = p.record
    }
    this.#pendingBytes -= bytes
    this.recordsWritten += records.length
    this.#unsynced = true
    this.#flushedSeq = records.at(-1)!.seq
    this.#o.onWritten(records)
  }

  /** Seals the active segment (fdatasync) and starts a new one whose first seq is `firstSeq`. */
  async #roll(firstSeq: number): Promise<void> {
    try {
      if (this.#unsynced) await this.#syncNow()
      const next = await createSegmentFile(this.#o.dir, firstSeq)
      const handle = await open(next.path, 'r+')
      const old = this.#handle
      this.#handle = handle
      const sealed = this.#segments.at(-1)!
      sealed.seal()
      this.#segments = [...this.#segments, next]
      await old.close()
      // The next open takes the sealed segment from this instead of reading all of it; a failure
      // only costs that read (counted with the other I/O errors).
      await writeSegmentIndex(this.#o.dir, sealed.sealedIndex()).catch(() => {
        this.ioErrors++
      })
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
      this.ioErrors++
      this.#scheduleSync()
      this.failing = new EventLogIoError('sync', 'fdatasync failed', e)
      throw this.failing
    }
    if (this.failing?.operation === 'sync') this.failing = null
    this.syncs++
    this.#lastSyncAt = performance.now()
  }

  #scheduleSync(): void {
    if (this.#syncTimer !== null || this.#stopped) return
    const delay = Math.max(0, this.#lastSyncAt + this.#o.fsyncIntervalMs - performance.now())
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = null
      this.#enqueue(() => this.#syncNow()).catch(() => {}) // counted and retried inside
    }, delay)
    this.#syncTimer.unref()
  }

  #clearTimers(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer)
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer)
    this.#flushTimer = null
    this.#syncTimer = null
  }
}
