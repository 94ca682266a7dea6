// One segment file of the event log: its name, its in-memory index, checking it end to end (at
// open, or later for one taken from its index file), and positional reads of its records.
// A segment holds consecutive seqs, starting at the seq in its name (and header). Its index keeps
// record byte offsets: every record's while it is the active segment (reads near the head start
// exactly at their cursor), every INDEX_STRIDE-th once sealed (a read starts at most
// INDEX_STRIDE - 1 records early), plus the end positions of the last few reads, so a consumer
// paging through old segments continues exactly where its previous read stopped. `size` is the
// end of what readers may see: the writer moves it forward only after bytes are written.
// Deliberately not here: writing, rolling or deleting segments (log-writer.ts is the one
// writer), or deciding what to do with damage (recovery.ts decides; this file reports it).
import { type FileHandle, open } from 'node:fs/promises'
import { join } from 'node:path'
import { EventLogCorruptError, EventLogIoError, errnoCode } from './errors.ts'
import {
  decodeRecord,
  decodeSegmentHeader,
  probeRecord,
  RECORD_FIXED_BYTES,
  SEGMENT_HEADER_BYTES,
} from './record-format.ts'
import type { LogRecord, SegmentProblem } from './types.ts'

export const INDEX_STRIDE = 256
const SCAN_CHUNK = 8 * 1024 * 1024
const READ_CHUNK_MIN = 64 * 1024
const READ_CHUNK_MAX = 4 * 1024 * 1024
const NAME_DIGITS = 16
const NAME_RE = /^(\d{16})\.seg$/

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(NAME_DIGITS, '0')}.seg`
}

/** The first seq a file name claims, or null if it is not a segment file name. */
export function parseSegmentFileName(name: string): number | null {
  const m = NAME_RE.exec(name)
  if (!m) return null
  const seq = Number(m[1])
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : null
}

const READ_HINTS = 8

export class Segment {
  readonly firstSeq: number
  readonly path: string
  /** End of the readable bytes (header + complete records). */
  size = SEGMENT_HEADER_BYTES
  count = 0
  /** Taken from its index file at open: its records were not checked then (segment-index.ts). */
  fromIndex = false
  /** Newest record time; -Infinity while empty. */
  newestTimeMs = Number.NEGATIVE_INFINITY
  /** 1 while active (every record indexed), INDEX_STRIDE once sealed. */
  #stride: number
  /** offsets[k] = byte offset of record firstSeq + k * stride. */
  #offsets: number[] = []
  /** seq → offset where recent reads stopped (bounded; oldest entry evicted first). */
  readonly #hints = new Map<number, number>()

  constructor(dir: string, firstSeq: number, active: boolean) {
    this.firstSeq = firstSeq
    this.path = join(dir, segmentFileName(firstSeq))
    this.#stride = active ? 1 : INDEX_STRIDE
  }

  get lastSeq(): number {
    return this.firstSeq + this.count - 1
  }

  /** Notes a record that now ends the readable part (it must be seq lastSeq + 1 at `size`). */
  noteRecord(length: number, timeMs: number): void {
    if (this.count % this.#stride === 0) this.#offsets.push(this.size)
    this.count++
    this.size += length
    if (timeMs > this.newestTimeMs) this.newestTimeMs = timeMs
  }

  /** No more records will be added: thin the index to every INDEX_STRIDE-th record. */
  seal(): void {
    if (this.#stride === INDEX_STRIDE) return
    this.#offsets = this.#offsets.filter((_, i) => i % INDEX_STRIDE === 0)
    this.#stride = INDEX_STRIDE
  }

  /** What a sealed segment's index file keeps (segment-index.ts). */
  sealedIndex(): SealedIndex {
    return {
      firstSeq: this.firstSeq,
      count: this.count,
      size: this.size,
      newestTimeMs: this.newestTimeMs,
      offsets: this.#offsets,
    }
  }

  /** A sealed segment as its index file describes it, without reading its records. */
  static fromSealedIndex(dir: string, index: SealedIndex): Segment {
    const segment = new Segment(dir, index.firstSeq, false)
    segment.count = index.count
    segment.size = index.size
    segment.newestTimeMs = index.newestTimeMs
    segment.#offsets = [...index.offsets]
    segment.fromIndex = true
    return segment
  }

  /** Where a read for records from `seq` on starts, and how many records it skips first. */
  startFor(seq: number): { offset: number; skip: number } {
    if (seq <= this.firstSeq || this.count === 0) return { offset: SEGMENT_HEADER_BYTES, skip: 0 }
    const hinted = this.#hints.get(seq)
    if (hinted !== undefined) return { offset: hinted, skip: 0 }
    const k = Math.min(Math.floor((seq - this.firstSeq) / this.#stride), this.#offsets.length - 1)
    return { offset: this.#offsets[k]!, skip: seq - (this.firstSeq + k * this.#stride) }
  }

  /** Remembers that the record `seq` starts at `offset` (where a read stopped). */
  rememberPosition(seq: number, offset: number): void {
    if (this.#stride === 1 || seq > this.lastSeq) return
    this.#hints.delete(seq)
    this.#hints.set(seq, offset)
    if (this.#hints.size > READ_HINTS) this.#hints.delete(this.#hints.keys().next().value!)
  }
}

/** A sealed segment's extent and sparse index (every INDEX_STRIDE-th record's offset). */
export interface SealedIndex {
  readonly firstSeq: number
  readonly count: number
  readonly size: number
  readonly newestTimeMs: number
  readonly offsets: readonly number[]
}

export interface ScanResult {
  readonly segment: Segment
  readonly fileSize: number
  /** Where and why the valid part ends early, or null when the whole file is valid. */
  readonly damage: { readonly offset: number; readonly problem: SegmentProblem } | null
}

/**
 * Reads a segment file front to back, checking the header, every record's checksum and that seqs
 * run on from the name without gaps and stay at or below `maxSeq`. Returns the valid prefix,
 * indexed as the active segment or as a sealed one.
 */
export async function scanSegment(
  dir: string,
  firstSeq: number,
  maxSeq: number,
  active: boolean,
): Promise<ScanResult> {
  const segment = new Segment(dir, firstSeq, active)
  let fh: FileHandle
  try {
    fh = await open(segment.path, 'r')
  } catch (e) {
    throw new EventLogIoError('open', `cannot open ${segment.path}`, e)
  }
  try {
    const fileSize = (await fh.stat()).size
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES)
    const { bytesRead } = await fh.read(header, 0, SEGMENT_HEADER_BYTES, 0)
    if (bytesRead < SEGMENT_HEADER_BYTES || decodeSegmentHeader(header) !== firstSeq)
      return { segment, fileSize, damage: { offset: 0, problem: 'bad-header' } }
    let buf = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, Math.max(fileSize, 1)))
    let bufStart = 0 // file offset of buf[0]
    let bufEnd = 0 // valid bytes in buf
    let pos = SEGMENT_HEADER_BYTES
    while (pos < fileSize) {
      let r = probeRecord(buf, pos - bufStart, bufEnd)
      if (!r.ok && r.problem === 'incomplete' && bufStart + bufEnd < fileSize) {
        // Refill from the record's start; grow the buffer for a record larger than it.
        if (r.need > buf.length) buf = Buffer.allocUnsafe(r.need)
        bufStart = pos
        bufEnd = await readFully(fh, buf, Math.min(buf.length, fileSize - pos), pos)
        r = probeRecord(buf, 0, bufEnd)
      }
      if (!r.ok) {
        const problem = r.problem === 'incomplete' ? 'torn' : r.problem
        return { segment, fileSize, damage: { offset: pos, problem } }
      }
      if (r.seq !== segment.firstSeq + segment.count || r.seq > maxSeq)
        return { segment, fileSize, damage: { offset: pos, problem: 'seq-mismatch' } }
      segment.noteRecord(r.length, r.timeMs)
      pos += r.length
    }
    return { segment, fileSize, damage: null }
  } catch (e) {
    throw new EventLogIoError('open', `cannot read ${segment.path}`, e)
  } finally {
    await fh.close()
  }
}

/**
 * Appends to `out` the records of `segment` with seq > afterSeq, stopping at `end` (the readable
 * size when the read began) or when `out` holds `max` records. Returns false when the file is
 * gone (deleted by retention meanwhile). Throws EventLogCorruptError if bytes no longer match
 * their checksum. Buffers come from `take` (the records' frames are views into them).
 */
export async function readSegment(
  segment: Segment,
  afterSeq: number,
  max: number,
  end: number,
  out: LogRecord[],
  take: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
): Promise<boolean> {
  let fh: FileHandle
  try {
    fh = await open(segment.path, 'r')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false
    throw new EventLogIoError('read', `cannot open ${segment.path}`, e)
  }
  try {
    const start = segment.startFor(afterSeq + 1)
    let pos = start.offset
    // Records skipped before the first wanted one, plus the ones wanted, at the average size.
    const avg = segment.count > 0 ? (segment.size - SEGMENT_HEADER_BYTES) / segment.count : 4096
    const want = Math.ceil((start.skip + max) * avg * 1.1) + RECORD_FIXED_BYTES
    const chunk = Math.min(READ_CHUNK_MAX, Math.max(READ_CHUNK_MIN, want))
    const limit = out.length + max
    let expect = Math.max(afterSeq + 1, segment.firstSeq) - start.skip
    while (pos < end && out.length < limit) {
      let buf = take(Math.min(chunk, end - pos))
      let n = await readFully(fh, buf, buf.length, pos)
      let at = 0
      while (pos + at < end && out.length < limit) {
        const head = probeRecord(buf, at, n, false)
        const r = head.ok && head.seq > afterSeq ? probeRecord(buf, at, n) : head
        if (!r.ok) {
          if (r.problem !== 'incomplete' || pos + at + Math.max(r.need, 4) > end)
            throw new EventLogCorruptError(segment.path, pos + at, r.problem)
          if (at > 0) break // read on from this record
          // A single record larger than the chunk: read exactly it.
          buf = take(Math.max(r.need, 4))
          n = await readFully(fh, buf, buf.length, pos)
          if (n < buf.length)
            throw new EventLogCorruptError(segment.path, pos, 'file is shorter than its index')
          continue
        }
        if (r.seq !== expect++)
          throw new EventLogCorruptError(segment.path, pos + at, `seq ${r.seq} out of order`)
        if (r.seq > afterSeq) out.push(decodeRecord(buf, at, r.length))
        at += r.length
      }
      pos += at
    }
    const last = out.at(-1)
    if (last && pos < end) segment.rememberPosition(last.seq + 1, pos)
    return true
  } catch (e) {
    if (e instanceof EventLogCorruptError) throw e
    throw new EventLogIoError('read', `cannot read ${segment.path}`, e)
  } finally {
    await fh.close()
  }
}

/** Reads `length` bytes at `position` (fewer only at end of file); returns the count read. */
async function readFully(
  fh: FileHandle,
  buf: Buffer,
  length: number,
  position: number,
): Promise<number> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}

/** Index of the segment holding `seq` (the last one starting at or before it), or 0. */
export function findSegment(segments: readonly Segment[], seq: number): number {
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
