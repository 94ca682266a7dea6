// UTF-8 validation of a byte range in place, for text strings inside DAG-CBOR (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF). Short and ASCII runs are checked in JS,
// which beats a native call (and its subarray) for the short keys and values that make up most
// of a frame; long or non-ASCII-heavy runs go to node:buffer `isUtf8` (SIMD). The thresholds come
// from strict.bench.ts. It does not decode, normalise or judge the text in any way.

import { isUtf8 } from 'node:buffer'

/** Ranges at least this long go straight to the native validator (see strict.bench.ts). */
export const NATIVE_UTF8_MIN_LENGTH = 128
/** After an ASCII prefix, a non-ASCII rest at least this long goes to the native validator. */
export const NATIVE_UTF8_REST_MIN_LENGTH = 24

/** Whether bytes[start, end) is well-formed UTF-8. The range must lie inside `bytes`. */
export function isValidUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start >= NATIVE_UTF8_MIN_LENGTH) return isUtf8(bytes.subarray(start, end))
  const i = asciiPrefixEnd(bytes, start, end)
  if (i === end) return true
  if (end - i >= NATIVE_UTF8_REST_MIN_LENGTH) return isUtf8(bytes.subarray(i, end))
  return isValidUtf8Js(bytes, i, end)
}

/** The offset of the first non-ASCII byte in bytes[start, end), or `end`. */
function asciiPrefixEnd(bytes: Uint8Array, start: number, end: number): number {
  let i = start
  // four bytes at a time: about 2.5x faster than byte by byte
  while (
    i + 4 <= end &&
    ((bytes[i]! | bytes[i + 1]! | bytes[i + 2]! | bytes[i + 3]!) & 0x80) === 0
  ) {
    i += 4
  }
  while (i < end && bytes[i]! < 0x80) i++
  return i
}

/** The pure-JS path of `isValidUtf8`, exported for the benchmark and tests. */
export function isValidUtf8Js(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start
  while (i < end) {
    i = asciiPrefixEnd(bytes, i, end)
    if (i === end) break
    const b0 = bytes[i]!
    if (b0 < 0x80) {
      i++
      continue
    }
    if (b0 < 0xc2) return false // continuation byte first, or overlong 2-byte lead (C0, C1)
    if (b0 < 0xe0) {
      if (i + 1 >= end || (bytes[i + 1]! & 0xc0) !== 0x80) return false
      i += 2
      continue
    }
    if (b0 < 0xf0) {
      if (i + 2 >= end) return false
      const b1 = bytes[i + 1]!
      // E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates)
      const lo = b0 === 0xe0 ? 0xa0 : 0x80
      const hi = b0 === 0xed ? 0x9f : 0xbf
      if (b1 < lo || b1 > hi || (bytes[i + 2]! & 0xc0) !== 0x80) return false
      i += 3
      continue
    }
    if (b0 < 0xf5) {
      if (i + 3 >= end) return false
      const b1 = bytes[i + 1]!
      // F0 needs 90..BF (no overlong), F4 needs 80..8F (nothing above U+10FFFF)
      const lo = b0 === 0xf0 ? 0x90 : 0x80
      const hi = b0 === 0xf4 ? 0x8f : 0xbf
      if (b1 < lo || b1 > hi) return false
      if ((bytes[i + 2]! & 0xc0) !== 0x80 || (bytes[i + 3]! & 0xc0) !== 0x80) return false
      i += 4
      continue
    }
    return false
  }
  return true
}
