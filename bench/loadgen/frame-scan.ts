// Reads what a load-generator consumer needs from a relay's frame without decoding it: the
// header's `op` and `t`, and the body's `seq` and `rev`. It walks the DAG-CBOR by lengths only
// (byte strings such as `blocks` are skipped, not copied), so ten consumers at thousands of
// events per second cost little of the machine the relay is measured on. Not a validator: a
// frame it cannot walk comes back as null and is counted by the caller.
import { parseTid } from '../../src/protocol/syntax/tid.ts'

export interface ScannedFrame {
  readonly op: number
  readonly type: string | undefined
  readonly seq: number | undefined
  readonly rev: string | undefined
}

const decoder = new TextDecoder()

/** The argument of the item at `o` and where its content starts. */
function head(b: Uint8Array, o: number): { major: number; arg: number; next: number } {
  const first = b[o]
  if (first === undefined) throw new RangeError('truncated')
  const major = first >> 5
  const info = first & 31
  if (info < 24) return { major, arg: info, next: o + 1 }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (size === 0) throw new RangeError('indefinite or reserved length')
  if (o + 1 + size > b.length) throw new RangeError('truncated')
  let arg = 0
  for (let k = 1; k <= size; k++) arg = arg * 256 + b[o + k]!
  return { major, arg, next: o + 1 + size }
}

/** Offset just past the item at `o`. */
function skip(b: Uint8Array, o: number): number {
  const { major, arg, next } = head(b, o)
  switch (major) {
    case 0:
    case 1:
    case 7:
      return next
    case 2:
    case 3:
      return next + arg
    case 4: {
      let p = next
      for (let k = 0; k < arg; k++) p = skip(b, p)
      return p
    }
    case 5: {
      let p = next
      for (let k = 0; k < 2 * arg; k++) p = skip(b, p)
      return p
    }
    default: // 6: a tag and its item
      return skip(b, next)
  }
}

function text(b: Uint8Array, o: number): { value: string; next: number } {
  const h = head(b, o)
  if (h.major !== 3) throw new RangeError('not text')
  return { value: decoder.decode(b.subarray(h.next, h.next + h.arg)), next: h.next + h.arg }
}

/** Walks one map, handing each key and its value's offset to `visit` (which may read it). */
function walkMap(b: Uint8Array, o: number, visit: (key: string, at: number) => void): number {
  const h = head(b, o)
  if (h.major !== 5) throw new RangeError('not a map')
  let p = h.next
  for (let k = 0; k < h.arg; k++) {
    const key = text(b, p)
    visit(key.value, key.next)
    p = skip(b, key.next)
  }
  return p
}

export function scanFrame(b: Uint8Array): ScannedFrame | null {
  try {
    let op = 0
    let type: string | undefined
    let seq: number | undefined
    let rev: string | undefined
    const bodyAt = walkMap(b, 0, (key, at) => {
      if (key === 'op') {
        const h = head(b, at)
        op = h.major === 1 ? -1 - h.arg : h.arg
      } else if (key === 't') type = text(b, at).value
    })
    if (op === 1) {
      walkMap(b, bodyAt, (key, at) => {
        if (key === 'seq') seq = head(b, at).arg
        else if (key === 'rev') rev = text(b, at).value
      })
    }
    return { op, type, seq, rev }
  } catch {
    return null
  }
}

/** The workload index a rev encodes (workload.ts), or -1 when it is not one of ours. */
export function eventIndex(rev: string, baseMicros: number): number {
  try {
    return parseTid(rev).timestampMicros - baseMicros
  } catch {
    return -1
  }
}
