// Strict DAG-CBOR validation for the atproto data model: one pass over the bytes, no decoding and
// no allocation (the container stack lives in fixed typed arrays sized by MAX_DAG_CBOR_DEPTH).
// It rejects what DAG-CBOR and atproto forbid: floats of any width, non-shortest integers and
// lengths, indefinite lengths, non-text or duplicate or unsorted map keys, tags other than 42,
// tag 42 not wrapping 0x00 + a binary CIDv1, simple values other than false/true/null, invalid
// UTF-8, integers outside signed 64-bit, truncation, trailing bytes and excessive nesting.
// Declared lengths are compared with the remaining input before anything inside them is read.
// It deliberately does not check CID "blessed" formats (codec, hash), `$type`/blob shapes,
// record or frame schemas, or whether integers fit in a JS number: those belong to callers.

import { DagCborError } from './dag-cbor-error.ts'
import { isValidUtf8 } from './utf8.ts'

/** The deepest nesting of arrays and maps accepted; the top-level container is depth 1. */
export const MAX_DAG_CBOR_DEPTH = 128

// Per-level container state, indexed by depth (1..MAX). Safe as module state: a scan is
// synchronous and never calls back into user code.
const ARRAY = 0
const MAP_KEY = 1
const MAP_VALUE = 2
const levelState = new Uint8Array(MAX_DAG_CBOR_DEPTH + 1)
/** Items (arrays) or entries (maps) still to come at each level. */
const levelLeft = new Float64Array(MAX_DAG_CBOR_DEPTH + 1)
/** Offset and length of the previous key at each map level; length -1 before the first key. */
const prevKeyStart = new Float64Array(MAX_DAG_CBOR_DEPTH + 1)
const prevKeyLength = new Float64Array(MAX_DAG_CBOR_DEPTH + 1)

// Results of `readArgument` beyond its return value.
let argEnd = 0
let argHigh = 0

/**
 * Reads the argument of a head whose additional information is 24..31, starting at `pos` (just
 * past the initial byte). Returns the argument and leaves the offset after it in `argEnd` and
 * the high 32 bits of an 8-byte argument in `argHigh`.
 */
function readArgument(
  bytes: Uint8Array,
  pos: number,
  end: number,
  major: number,
  info: number,
): number {
  const head = pos - 1
  argHigh = 0
  switch (info) {
    case 24: {
      if (pos + 1 > end) throw new DagCborError('truncated', end)
      const v = bytes[pos]!
      if (v < 24) throw new DagCborError('non-minimal', head, `${v} in 2 bytes`)
      argEnd = pos + 1
      return v
    }
    case 25: {
      if (pos + 2 > end) throw new DagCborError('truncated', end)
      const v = (bytes[pos]! << 8) | bytes[pos + 1]!
      if (v < 0x100) throw new DagCborError('non-minimal', head, `${v} in 3 bytes`)
      argEnd = pos + 2
      return v
    }
    case 26: {
      if (pos + 4 > end) throw new DagCborError('truncated', end)
      const v =
        bytes[pos]! * 0x1000000 +
        ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!)
      if (v < 0x10000) throw new DagCborError('non-minimal', head, `${v} in 5 bytes`)
      argEnd = pos + 4
      return v
    }
    case 27: {
      if (pos + 8 > end) throw new DagCborError('truncated', end)
      const hi =
        bytes[pos]! * 0x1000000 +
        ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!)
      if (hi === 0) throw new DagCborError('non-minimal', head, 'value below 2^32 in 9 bytes')
      const lo =
        bytes[pos + 4]! * 0x1000000 +
        ((bytes[pos + 5]! << 16) | (bytes[pos + 6]! << 8) | bytes[pos + 7]!)
      argHigh = hi
      argEnd = pos + 8
      return hi * 0x100000000 + lo
    }
    case 31:
      if (major >= 2 && major <= 5) throw new DagCborError('indefinite-length', head)
      throw new DagCborError('reserved-info', head, `major type ${major} with info 31`)
    default:
      throw new DagCborError('reserved-info', head, `major type ${major} with info ${info}`)
  }
}

// Result of `readVarint` beyond its return value.
let varintEnd = 0

/** Reads a minimal unsigned varint (multiformats, at most 9 bytes) in [pos, end); -1 if bad. */
function readVarint(bytes: Uint8Array, pos: number, end: number): number {
  let value = 0
  let scale = 1
  for (let i = 0; i < 9 && pos + i < end; i++) {
    const b = bytes[pos + i]!
    value += (b & 0x7f) * scale
    if (b < 0x80) {
      if (b === 0 && i > 0) return -1 // a trailing zero group means a longer form than needed
      varintEnd = pos + i + 1
      return value
    }
    scale *= 128
  }
  return -1
}

/** Checks that bytes[start, end) is 0x00 followed by exactly one binary CIDv1. */
function checkCidBytes(bytes: Uint8Array, start: number, end: number, head: number): void {
  if (start >= end || bytes[start] !== 0) {
    throw new DagCborError('bad-cid', head, 'missing 0x00 multibase prefix')
  }
  const version = readVarint(bytes, start + 1, end)
  if (version !== 1) throw new DagCborError('bad-cid', head, 'not a CIDv1')
  const codec = readVarint(bytes, varintEnd, end)
  if (codec < 0) throw new DagCborError('bad-cid', head, 'bad codec varint')
  const hashCode = readVarint(bytes, varintEnd, end)
  if (hashCode < 0) throw new DagCborError('bad-cid', head, 'bad multihash code varint')
  const digestLength = readVarint(bytes, varintEnd, end)
  if (digestLength < 0) throw new DagCborError('bad-cid', head, 'bad multihash length varint')
  if (digestLength !== end - varintEnd) {
    throw new DagCborError(
      'bad-cid',
      head,
      `digest is ${end - varintEnd} bytes, not ${digestLength}`,
    )
  }
}

/**
 * Validates one complete DAG-CBOR data item starting at `start` in bytes[start, end) and returns
 * the offset just past it. Throws DagCborError on the first rule it breaks.
 */
function scanItem(bytes: Uint8Array, start: number, end: number): number {
  let pos = start
  let depth = 0
  for (;;) {
    if (pos >= end) throw new DagCborError('truncated', end)
    const head = pos
    const initial = bytes[pos]!
    const major = initial >> 5
    const info = initial & 0x1f
    pos++

    if (depth > 0 && levelState[depth] === MAP_KEY) {
      if (major !== 3) throw new DagCborError('non-string-key', head, `major type ${major}`)
      let length = info
      if (info >= 24) {
        length = readArgument(bytes, pos, end, 3, info)
        pos = argEnd
      }
      if (length > end - pos) throw new DagCborError('length-exceeds-input', head)
      const prevLength = prevKeyLength[depth]!
      if (prevLength >= 0) {
        let cmp = length - prevLength
        if (cmp === 0) {
          const prev = prevKeyStart[depth]!
          for (let i = 0; i < length; i++) {
            cmp = bytes[pos + i]! - bytes[prev + i]!
            if (cmp !== 0) break
          }
          if (cmp === 0) throw new DagCborError('duplicate-key', head)
        }
        if (cmp < 0) throw new DagCborError('unsorted-keys', head)
      }
      if (!isValidUtf8(bytes, pos, pos + length)) throw new DagCborError('invalid-utf8', head)
      prevKeyStart[depth] = pos
      prevKeyLength[depth] = length
      levelState[depth] = MAP_VALUE
      pos += length
      continue
    }

    if (major === 7) {
      if (info >= 20 && info <= 22) {
        // false, true, null: complete below
      } else if (info >= 25 && info <= 27) {
        throw new DagCborError('float', head, `${2 << (info - 25)}-byte float`)
      } else if (info === 31) {
        throw new DagCborError('indefinite-length', head, 'break code')
      } else if (info >= 28) {
        throw new DagCborError('reserved-info', head, `major type 7 with info ${info}`)
      } else {
        throw new DagCborError(
          'bad-simple',
          head,
          info === 24 ? 'one-byte simple value' : `${info}`,
        )
      }
    } else {
      let arg = info
      if (info >= 24) {
        arg = readArgument(bytes, pos, end, major, info)
        pos = argEnd
      }
      switch (major) {
        case 0:
        case 1:
          if (info === 27 && argHigh >= 0x80000000) {
            throw new DagCborError('int-out-of-range', head)
          }
          break
        case 2:
          if (arg > end - pos) throw new DagCborError('length-exceeds-input', head)
          pos += arg
          break
        case 3:
          if (arg > end - pos) throw new DagCborError('length-exceeds-input', head)
          if (!isValidUtf8(bytes, pos, pos + arg)) throw new DagCborError('invalid-utf8', head)
          pos += arg
          break
        case 4:
        case 5: {
          // every item takes at least one byte, every map entry at least two
          const minBytes = major === 4 ? arg : arg * 2
          if (minBytes > end - pos) throw new DagCborError('length-exceeds-input', head)
          if (arg === 0) break
          if (depth === MAX_DAG_CBOR_DEPTH) {
            throw new DagCborError('too-deep', head, `more than ${MAX_DAG_CBOR_DEPTH} levels`)
          }
          depth++
          levelLeft[depth] = arg
          if (major === 4) {
            levelState[depth] = ARRAY
          } else {
            levelState[depth] = MAP_KEY
            prevKeyLength[depth] = -1
          }
          continue
        }
        default: {
          // major 6: the only tag is 42, written as d8 2a
          if (arg !== 42) throw new DagCborError('bad-tag', head, `tag ${arg}`)
          if (pos >= end) throw new DagCborError('truncated', end)
          const inner = bytes[pos]!
          if (inner >> 5 !== 2) {
            throw new DagCborError('bad-cid', head, `content is major type ${inner >> 5}`)
          }
          pos++
          let length = inner & 0x1f
          if (length >= 24) {
            length = readArgument(bytes, pos, end, 2, length)
            pos = argEnd
          }
          if (length > end - pos) throw new DagCborError('length-exceeds-input', head)
          checkCidBytes(bytes, pos, pos + length, head)
          pos += length
        }
      }
    }

    // One item is complete: count it off its container(s).
    while (depth > 0) {
      if (levelState[depth] === MAP_VALUE) levelState[depth] = MAP_KEY
      const left = levelLeft[depth]! - 1
      levelLeft[depth] = left
      if (left > 0) break
      depth--
    }
    if (depth === 0) return pos
  }
}

function checkRange(bytes: Uint8Array, start: number, end: number): void {
  if (!(start >= 0 && start <= end && end <= bytes.length)) {
    throw new RangeError(`bad range [${start}, ${end}) for ${bytes.length} bytes`)
  }
}

/**
 * Validates ONE complete data item starting at `start` and returns the offset just past it.
 * Bytes after the item are not looked at (an event-stream frame is two items back to back).
 */
export function dagCborItemEnd(bytes: Uint8Array, start: number): number {
  checkRange(bytes, start, bytes.length)
  return scanItem(bytes, start, bytes.length)
}

/** Requires bytes[start, end) to be exactly one strict DAG-CBOR data item. */
export function checkDagCbor(bytes: Uint8Array, start = 0, end: number = bytes.length): void {
  checkRange(bytes, start, end)
  const itemEnd = scanItem(bytes, start, end)
  if (itemEnd !== end) {
    throw new DagCborError('trailing-bytes', itemEnd, `${end - itemEnd} bytes after the item`)
  }
}
