// The on-disk byte layout of the event log: a segment header and the framed records after it.
// Every number is big-endian. Seqs and times are float64 (exact for integers below 2^53).
//
//   segment header (16 bytes):  "atprlog1" (8 ASCII bytes) ‖ f64 firstSeq
//   record:   0  u32  len         payload length (everything up to the checksum)
//             4  u8   version     1
//             5  u8   typeLen
//             6  u16  didLen
//             8  u32  hostId
//            12  f64  seq
//            20  f64  timeMs
//            28  f64  upstreamSeq
//            36  type (UTF-8) ‖ did (UTF-8) ‖ frame (the complete frame, seq spliced in)
//   The type field may carry the writer's note after a NUL byte (`#account\0local=takendown`);
//   typeLen counts both. Records without a note are byte-for-byte what they always were.
//         4+len  u32  crc32 of bytes [0, 4+len)  (zlib.crc32, so the length is covered too)
//
// Deliberately not here: files, buffering, or deciding what to do with a bad record (the
// segment scanner and the reader decide that); this file only encodes and checks bytes.
import { crc32 } from 'node:zlib'
import type { LogRecord } from './types.ts'

export const SEGMENT_MAGIC = Buffer.from('atprlog1', 'latin1')
export const SEGMENT_HEADER_BYTES = 16
const RECORD_VERSION = 1
/** Bytes of a record before its type string (length field included). */
export const RECORD_FIXED_BYTES = 36
const CRC_BYTES = 4
/** Largest frame one record stores (upstream frames are capped at 5 MB; this leaves room). */
export const MAX_FRAME_BYTES_STORED = 16 * 1024 * 1024
const MAX_PAYLOAD = RECORD_FIXED_BYTES - 4 + 255 + 0xffff + MAX_FRAME_BYTES_STORED
export const MAX_TYPE_BYTES = 255
export const MAX_DID_BYTES = 0xffff

export interface RecordFields {
  readonly seq: number
  readonly timeMs: number
  readonly hostId: number
  readonly upstreamSeq: number
}

export function encodeSegmentHeader(firstSeq: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES)
  SEGMENT_MAGIC.copy(b, 0)
  b.writeDoubleBE(firstSeq, 8)
  return b
}

/** The firstSeq a segment header names, or null when the bytes are not a segment header. */
export function decodeSegmentHeader(b: Uint8Array): number | null {
  if (b.length < SEGMENT_HEADER_BYTES) return null
  const buf = asBuffer(b)
  if (!buf.subarray(0, 8).equals(SEGMENT_MAGIC)) return null
  const seq = buf.readDoubleBE(8)
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : null
}

/**
 * Encodes one record. `typeBytes` and `didBytes` are already validated for length by the
 * caller; the frame is copied in, and the returned `frame` is a view of the record's bytes. The
 * frame may come in parts (an unsequenced frame's prefix, the seq and its suffix), copied in one
 * after the other: a frame assembled first would be copied twice for every event.
 */
export function encodeRecord(
  f: RecordFields,
  type: string,
  did: string,
  frame: Uint8Array | readonly Uint8Array[],
  note = '',
): { bytes: Buffer; frame: Uint8Array } {
  if (note !== '') type = `${type}\0${note}`
  const typeLen = Buffer.byteLength(type)
  const didLen = Buffer.byteLength(did)
  const parts = frame instanceof Uint8Array ? [frame] : frame
  let frameLength = 0
  for (const part of parts) frameLength += part.length
  const payload = RECORD_FIXED_BYTES - 4 + typeLen + didLen + frameLength
  const total = 4 + payload + CRC_BYTES
  const b = Buffer.allocUnsafe(total)
  b.writeUInt32BE(payload, 0)
  b[4] = RECORD_VERSION
  b[5] = typeLen
  b.writeUInt16BE(didLen, 6)
  b.writeUInt32BE(f.hostId, 8)
  b.writeDoubleBE(f.seq, 12)
  b.writeDoubleBE(f.timeMs, 20)
  b.writeDoubleBE(f.upstreamSeq, 28)
  let o = RECORD_FIXED_BYTES
  o += b.write(type, o, 'utf8')
  o += b.write(did, o, 'utf8')
  for (const part of parts) {
    b.set(part, o)
    o += part.length
  }
  b.writeUInt32BE(crc32(b.subarray(0, o)), o)
  return { bytes: b, frame: b.subarray(o - frameLength, o) }
}

export type ProbeResult =
  | { readonly ok: true; readonly length: number; readonly seq: number; readonly timeMs: number }
  | { readonly ok: false; readonly problem: RecordProblem; readonly need: number }

/**
 * - incomplete: the bytes end inside the record (`need` is its full length when known)
 * - bad-length: the length field is impossible
 * - checksum: the bytes do not match their crc32
 * - bad-fields: the checksum holds but a field is out of range (unknown version, bad seq)
 */
export type RecordProblem = 'incomplete' | 'bad-length' | 'checksum' | 'bad-fields'

/**
 * Checks the record starting at `pos` in `buf[pos, end)`: framing, checksum and field ranges.
 * With `verify` false only the framing is checked (for records a read skips over).
 */
export function probeRecord(buf: Buffer, pos: number, end: number, verify = true): ProbeResult {
  if (end - pos < 4) return { ok: false, problem: 'incomplete', need: 0 }
  const payload = buf.readUInt32BE(pos)
  if (payload < RECORD_FIXED_BYTES - 4 + 2 || payload > MAX_PAYLOAD)
    return { ok: false, problem: 'bad-length', need: 0 }
  const length = 4 + payload + CRC_BYTES
  if (end - pos < length) return { ok: false, problem: 'incomplete', need: length }
  if (!verify) return { ok: true, length, seq: buf.readDoubleBE(pos + 12), timeMs: 0 }
  const sum = crc32(buf.subarray(pos, pos + 4 + payload))
  if (sum !== buf.readUInt32BE(pos + 4 + payload))
    return { ok: false, problem: 'checksum', need: length }
  const typeLen = buf[pos + 5]!
  const didLen = buf.readUInt16BE(pos + 6)
  const seq = buf.readDoubleBE(pos + 12)
  const timeMs = buf.readDoubleBE(pos + 20)
  if (
    buf[pos + 4] !== RECORD_VERSION ||
    typeLen === 0 ||
    didLen === 0 ||
    RECORD_FIXED_BYTES - 4 + typeLen + didLen > payload ||
    !Number.isSafeInteger(seq) ||
    seq < 1 ||
    !Number.isFinite(timeMs)
  )
    return { ok: false, problem: 'bad-fields', need: length }
  return { ok: true, length, seq, timeMs }
}

/**
 * Decodes a record already checked by `probeRecord`. The frame is a view into `buf` (no copy), so
 * the records of one read share its buffer.
 */
export function decodeRecord(buf: Buffer, pos: number, length: number): LogRecord {
  const typeLen = buf[pos + 5]!
  const didLen = buf.readUInt16BE(pos + 6)
  const typeStart = pos + RECORD_FIXED_BYTES
  const didStart = typeStart + typeLen
  const frameStart = didStart + didLen
  const nul = buf.indexOf(0, typeStart)
  const typeEnd = nul >= 0 && nul < didStart ? nul : didStart
  return {
    seq: buf.readDoubleBE(pos + 12),
    timeMs: buf.readDoubleBE(pos + 20),
    hostId: buf.readUInt32BE(pos + 8),
    upstreamSeq: buf.readDoubleBE(pos + 28),
    type: buf.toString('utf8', typeStart, typeEnd),
    ...(typeEnd < didStart ? { note: buf.toString('utf8', typeEnd + 1, didStart) } : {}),
    did: buf.toString('utf8', didStart, frameStart),
    frame: buf.subarray(frameStart, pos + length - CRC_BYTES),
  }
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}
