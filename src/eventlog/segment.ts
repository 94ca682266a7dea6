// One segment file of the event log: its name, its in-memory index, checking it end to end at
// open, and positional reads of its records for playback.
// A segment holds consecutive seqs, starting at the seq in its name (and header). The index keeps
// the byte offset of every INDEX_STRIDE-th record, so a read from any cursor starts at most
// INDEX_STRIDE - 1 records before it. `size` is the end of what readers may see: the writer
// moves it forward only after bytes are written.
// Deliberately not here: writing, rolling or deleting segments (event-log.ts owns the one
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

export class Segment {
  readonly firstSeq: number
  readonly path: string
  /** End of the readable bytes (header + complete records). */
  size = SEGMENT_HEADER_BYTES
  count = 0
  /** Newest record time; -Infinity while empty. */
  newestTimeMs = Number.NEGATIVE_INFINITY
  /** offsets[k] = byte offset of record firstSeq + k * INDEX_STRIDE. */
  readonly #offsets: number[] = []

  constructor(dir: string, firstSeq: number) {
    this.firstSeq = firstSeq
    this.path = join(dir, segmentFileName(firstSeq))
  }

  get lastSeq(): number {
    return this.firstSeq + this.count - 1
  }

  /** Notes a record that now ends the readable part (it must be seq lastSeq + 1 at `size`). */
  noteRecord(length: number, timeMs: number): void {
    if (this.count % INDEX_STRIDE === 0) this.#offsets.push(this.size)
    this.count++
    this.size += length
    if (timeMs > this.newestTimeMs) this.newestTimeMs = timeMs
  }

  /** Offset of the indexed record at or before `seq` (header end when seq precedes this file). */
  offsetAtOrBefore(seq: number): number {
    if (seq <= this.firstSeq || this.count === 0) return SEGMENT_HEADER_BYTES
    const k = Math.min(Math.floor((seq - this.firstSeq) / INDEX_STRIDE), this.#offsets.length - 1)
    return this.#offsets[k]!
  }
}

export interface ScanResult {
  readonly segment: Segment
  readonly fileSize: number
  /** Where and why the valid part ends early, or null when the whole file is valid. */
  readonly damage: { readonly offset: number; readonly problem: SegmentProblem } | null
}

/**
 * Reads a segment file front to back, checking the header, every record's checksum and that seqs
 * run on from the name without gaps and stay at or below `maxSeq`. Returns the valid prefix.
 */
export async function scanSegment(
  dir: string,
  firstSeq: number,
  maxSeq: number,
): Promise<ScanResult> {
  const segment = new Segment(dir, firstSeq)
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
 * their checksum.
 */
export async function readSegment(
  segment: Segment,
  afterSeq: number,
  max: number,
  end: number,
  out: LogRecord[],
): Promise<boolean> {
  let fh: FileHandle
  try {
    fh = await open(segment.path, 'r')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false
    throw new EventLogIoError('read', `cannot open ${segment.path}`, e)
  }
  try {
    let pos = segment.offsetAtOrBefore(afterSeq + 1)
    const firstAt = Math.max(afterSeq + 1, segment.firstSeq)
    // Records to skip before the first wanted one, plus the ones wanted, at the average size.
    const avg = segment.count > 0 ? (segment.size - SEGMENT_HEADER_BYTES) / segment.count : 4096
    const skip = (firstAt - segment.firstSeq) % INDEX_STRIDE
    const want = Math.ceil((skip + max) * avg * 1.1) + RECORD_FIXED_BYTES
    const chunk = Math.min(READ_CHUNK_MAX, Math.max(READ_CHUNK_MIN, want))
    const limit = out.length + max
    while (pos < end && out.length < limit) {
      let buf = Buffer.allocUnsafe(Math.min(chunk, end - pos))
      let n = await readFully(fh, buf, buf.length, pos)
      let at = 0
      for (;;) {
        const r = probeRecord(buf, at, n)
        if (!r.ok) {
          if (r.problem !== 'incomplete' || pos + at + Math.max(r.need, 4) > end)
            throw new EventLogCorruptError(segment.path, pos + at, r.problem)
          if (at === 0) {
            // A single record larger than the chunk: read exactly it.
            buf = Buffer.allocUnsafe(Math.max(r.need, 4))
            n = await readFully(fh, buf, buf.length, pos)
            continue
          }
          break
        }
        if (r.seq > afterSeq) {
          out.push(decodeRecord(buf, at, r.length))
          if (out.length >= limit) break
        }
        at += r.length
        if (pos + at >= end) break
      }
      pos += at
      if (at === 0) break
    }
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
