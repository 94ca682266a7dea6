// Reads what a load-generator consumer needs from a relay's frame without decoding it: the
// header's `op` and `t`, and the body's `seq` and the timestamp of its `rev`. It walks the
// DAG-CBOR by lengths only (byte strings such as `blocks` are skipped, not copied), compares map
// keys as bytes, and reads the rev's TID digits straight from the frame: a frame costs one small
// result object and no string but the type of a non-commit event (<1% of them). Ten consumers at
// thousands of events per second so take as little as possible of the machine the relay is
// measured on; a scanner that decoded every key into a string and made an object per item kept
// the consumers' thread ~5 times busier (BENCHMARKS.md, session 23). Not a validator: a frame it
// cannot walk comes back as null and is counted by the caller.

export interface ScannedFrame {
  readonly op: number
  readonly type: string | undefined
  readonly seq: number | undefined
  /** The rev's TID timestamp in µs; -1 when the rev is not a TID, undefined without a rev. */
  readonly revMicros: number | undefined
}

// The cursor: `at` is the offset of the next item; `head` leaves the item's argument in `arg`
// and moves `at` to the item's content. Module state, not an object per item: the consumers'
// thread scans one frame at a time, synchronously.
let at = 0
let arg = 0

/** Reads the head of the item at `at`; returns its major type. Throws on a truncated frame. */
function head(b: Uint8Array): number {
  const first = b[at]
  if (first === undefined) throw new RangeError('truncated')
  const info = first & 31
  if (info < 24) {
    arg = info
    at += 1
    return first >> 5
  }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (size === 0) throw new RangeError('indefinite or reserved length')
  if (at + 1 + size > b.length) throw new RangeError('truncated')
  let n = 0
  for (let k = 1; k <= size; k++) n = n * 256 + b[at + k]!
  arg = n
  at += 1 + size
  return first >> 5
}

/** Moves `at` past the item there. */
function skip(b: Uint8Array): void {
  const major = head(b)
  switch (major) {
    case 0:
    case 1:
    case 7:
      return
    case 2:
    case 3:
      at += arg
      if (at > b.length) throw new RangeError('truncated')
      return
    case 4: {
      const n = arg
      for (let k = 0; k < n; k++) skip(b)
      return
    }
    case 5: {
      const n = 2 * arg
      for (let k = 0; k < n; k++) skip(b)
      return
    }
    default: // 6: a tag and its item
      skip(b)
  }
}

// Map keys and event types compared as bytes (all ASCII).
const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0))
const KEY_OP = bytesOf('op')
const KEY_T = bytesOf('t')
const KEY_SEQ = bytesOf('seq')
const KEY_REV = bytesOf('rev')
const COMMIT = bytesOf('#commit')

/** True when the `len` bytes at `from` are `want`. */
function equals(b: Uint8Array, from: number, len: number, want: Uint8Array): boolean {
  if (len !== want.length) return false
  for (let i = 0; i < len; i++) if (b[from + i] !== want[i]) return false
  return true
}

/** Reads the text item at `at` as a string (the event type; ASCII in every relay's frames). */
function text(b: Uint8Array): string {
  if (head(b) !== 3) throw new RangeError('not text')
  const from = at
  at += arg
  if (at > b.length) throw new RangeError('truncated')
  if (equals(b, from, arg, COMMIT)) return '#commit'
  return Buffer.from(b.buffer, b.byteOffset + from, arg).toString('latin1')
}

/** The TID timestamp (µs) of the text item at `at`, or -1 when it is not a TID (tid.ts's rules:
 * 13 base32-sortable characters, the first within `234567abcdefghij`). */
function tidMicros(b: Uint8Array): number {
  if (head(b) !== 3) throw new RangeError('not text')
  const from = at
  const len = arg
  at += len
  if (at > b.length) throw new RangeError('truncated')
  if (len !== 13) return -1
  const first = b[from]!
  if (!((first >= 0x32 && first <= 0x37) || (first >= 0x61 && first <= 0x6a))) return -1
  let ts = 0
  for (let i = 0; i < 13; i++) {
    const c = b[from + i]!
    let d: number
    if (c >= 0x61 && c <= 0x7a) d = c - 0x61 + 6
    else if (c >= 0x32 && c <= 0x37) d = c - 0x32
    else return -1
    if (i < 11) ts = ts * 32 + d
  }
  return ts
}

/** Reads the map key at `at` (text): returns where its bytes start, its length left in `arg`. */
function mapKey(b: Uint8Array): number {
  if (head(b) !== 3) throw new RangeError('a map key that is not text')
  const from = at
  at += arg
  return from
}

export function scanFrame(b: Uint8Array): ScannedFrame | null {
  try {
    at = 0
    let op = 0
    let type: string | undefined
    let seq: number | undefined
    let revMicros: number | undefined
    if (head(b) !== 5) return null
    for (let k = arg; k > 0; k--) {
      const keyAt = mapKey(b)
      const keyLen = arg
      if (equals(b, keyAt, keyLen, KEY_OP)) {
        const major = head(b)
        if (major !== 0 && major !== 1) return null
        op = major === 1 ? -1 - arg : arg
      } else if (equals(b, keyAt, keyLen, KEY_T)) type = text(b)
      else skip(b)
    }
    if (op === 1) {
      if (head(b) !== 5) return null
      for (let k = arg; k > 0; k--) {
        const keyAt = mapKey(b)
        const keyLen = arg
        if (equals(b, keyAt, keyLen, KEY_SEQ)) {
          if (head(b) !== 0) return null
          seq = arg
        } else if (equals(b, keyAt, keyLen, KEY_REV)) revMicros = tidMicros(b)
        else skip(b)
      }
    }
    return { op, type, seq, revMicros }
  } catch {
    return null
  }
}

/** The workload index a rev's timestamp encodes (workload.ts), or -1 when it is not one of ours. */
export function eventIndex(revMicros: number, baseMicros: number): number {
  return revMicros < 0 ? -1 : revMicros - baseMicros
}
