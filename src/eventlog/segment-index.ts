// The index file written beside a segment when it is sealed, so that opening the log need not
// read every record of every older segment again: a relay keeping 72 hours of the network's
// events has hundreds of gigabytes of them, which the open-time check reads at 1–2.5 GB/s.
//
//   <firstSeq, 16 digits>.idx:  "atpridx1" (8 ASCII bytes) ‖ f64 firstSeq ‖ f64 count ‖ f64 size
//                               ‖ f64 newestTimeMs ‖ u32 n ‖ n × f64 offset ‖ u32 crc32
//   (big-endian; the checksum covers everything before it)
//
// An index is only ever a shortcut: recovery uses it when it is whole and agrees with the files
// (its segment's size on disk, the next segment's first seq), and otherwise checks the segment
// record by record as before and writes a new one. It is written without fsync, through a
// temporary file and a rename: a process crash leaves no index or a whole one, and a machine
// crash may leave an empty or garbled one, which its length and checksum refuse. Records read
// from an indexed segment are still checked against their checksums by every read; damage that
// happens after sealing is found there, and the log then checks that segment as open would have.
// Deliberately not here: deciding when to trust or write an index (recovery.ts, log-writer.ts).
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { SEGMENT_HEADER_BYTES } from './record-format.ts'
import { INDEX_STRIDE, parseSegmentFileName, type SealedIndex, segmentFileName } from './segment.ts'

const MAGIC = Buffer.from('atpridx1', 'latin1')
const FIXED_BYTES = 8 + 4 * 8 + 4

/** The index file's name: its segment's, with `.idx` for `.seg`. */
export function segmentIndexFileName(firstSeq: number): string {
  return segmentFileName(firstSeq).replace(/\.seg$/, '.idx')
}

/** The first seq an index file name claims, or null if it is not an index file name. */
export function parseSegmentIndexFileName(name: string): number | null {
  return name.endsWith('.idx') ? parseSegmentFileName(`${name.slice(0, -4)}.seg`) : null
}

export function encodeSegmentIndex(index: SealedIndex): Buffer {
  const n = index.offsets.length
  const b = Buffer.allocUnsafe(FIXED_BYTES + n * 8 + 4)
  MAGIC.copy(b, 0)
  let o = 8
  for (const v of [index.firstSeq, index.count, index.size, index.newestTimeMs]) {
    b.writeDoubleBE(v, o)
    o += 8
  }
  b.writeUInt32BE(n, o)
  o += 4
  for (const offset of index.offsets) {
    b.writeDoubleBE(offset, o)
    o += 8
  }
  b.writeUInt32BE(crc32(b.subarray(0, o)), o)
  return b
}

/** The index in `buf`, or null unless it is whole and self-consistent. */
export function decodeSegmentIndex(buf: Buffer): SealedIndex | null {
  if (buf.length < FIXED_BYTES + 4 || !buf.subarray(0, 8).equals(MAGIC)) return null
  const n = buf.readUInt32BE(FIXED_BYTES - 4)
  if (buf.length !== FIXED_BYTES + n * 8 + 4) return null
  if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32BE(buf.length - 4)) return null
  const firstSeq = buf.readDoubleBE(8)
  const count = buf.readDoubleBE(16)
  const size = buf.readDoubleBE(24)
  const newestTimeMs = buf.readDoubleBE(32)
  const offsets: number[] = new Array(n)
  for (let i = 0; i < n; i++) offsets[i] = buf.readDoubleBE(FIXED_BYTES + i * 8)
  if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(count) || count < 0) return null
  if (!Number.isSafeInteger(size) || size < SEGMENT_HEADER_BYTES) return null
  if (n !== Math.ceil(count / INDEX_STRIDE)) return null
  // Retention compares newestTimeMs: NaN would keep the segment for ever.
  if (count === 0 ? newestTimeMs !== Number.NEGATIVE_INFINITY : !Number.isFinite(newestTimeMs))
    return null
  if (n > 0 && offsets[0] !== SEGMENT_HEADER_BYTES) return null
  for (let i = 0; i < n; i++) {
    const offset = offsets[i]!
    if (!Number.isSafeInteger(offset) || offset >= size || (i > 0 && offset <= offsets[i - 1]!))
      return null
  }
  return { firstSeq, count, size, newestTimeMs, offsets }
}

/** Writes the index of a sealed segment (temporary file, then rename; no fsync). */
export async function writeSegmentIndex(dir: string, index: SealedIndex): Promise<void> {
  const path = join(dir, segmentIndexFileName(index.firstSeq))
  await writeFile(`${path}.tmp`, encodeSegmentIndex(index))
  await rename(`${path}.tmp`, path)
}

/** The index file of segment `firstSeq`, or null when it is missing or not whole. */
export async function readSegmentIndex(dir: string, firstSeq: number): Promise<SealedIndex | null> {
  const buf = await readFile(join(dir, segmentIndexFileName(firstSeq))).catch(() => null)
  const index = buf && decodeSegmentIndex(buf)
  return index && index.firstSeq === firstSeq ? index : null
}

/** Deletes the index file of segment `firstSeq` (missing is fine). */
export function removeSegmentIndex(dir: string, firstSeq: number): Promise<void> {
  return rm(join(dir, segmentIndexFileName(firstSeq)), { force: true })
}
