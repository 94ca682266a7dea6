// The relay's outgoing subscribeRepos frames. Bodies carry exactly the Lexicon's fields (unknown
// upstream fields are dropped; `blobs` is always an array; docs/design.md §4 item 4), encoded once as
// canonical DAG-CBOR. The output seq is assigned later, when the event log appends the event, so
// a frame is prepared as a prefix and a suffix around the `seq` value: canonical DAG-CBOR needs
// the shortest integer encoding, so the seq cannot be a fixed-width placeholder; splicing the
// varying-width integer between the two halves gives the same bytes as encoding the whole body.
// A `#commit` that arrives exactly as this would encode it keeps its own bytes instead
// (upstream-frame.ts): the same frame, without the encoding.
// Deliberately not done here: choosing the seq, or deciding which handle an `#identity` carries.
import { BytesWrapper, encode } from '@atcute/cbor'
import { dagCborItemEnd } from './cbor/strict.ts'
import type { AccountMessage, CommitMessage, SyncMessage } from './messages.ts'

/** An encoded frame waiting for its seq: `prefix ‖ uint(seq) ‖ suffix`. */
export interface UnsequencedFrame {
  readonly type: string
  readonly prefix: Uint8Array
  readonly suffix: Uint8Array
}

const SEQ_KEY = new TextEncoder().encode('seq')

/** Encodes header + body (without `seq`) and finds where `seq` goes in the canonical key order. */
export function prepareFrame(
  type: string,
  bodyWithoutSeq: Record<string, unknown>,
): UnsequencedFrame {
  if ('seq' in bodyWithoutSeq) throw new TypeError('body must not contain seq')
  const header = encode({ op: 1, t: type })
  const body = encode(bodyWithoutSeq)
  // Walk the top-level map: its head, then key/value pairs until the first key that sorts after
  // "seq" (length first, then bytewise).
  const major = body[0]! >> 5
  if (major !== 5) throw new TypeError('body must be a map')
  const { count, headLength } = readMapHead(body)
  let pos = headLength
  for (let i = 0; i < count; i++) {
    const keyStart = pos
    const keyEnd = dagCborItemEnd(body, keyStart)
    if (compareKey(body, keyStart, keyEnd) > 0) break
    pos = dagCborItemEnd(body, keyEnd)
  }
  const newHead = mapHead(count + 1)
  const seqKey = encode('seq')
  const prefix = new Uint8Array(header.length + newHead.length + (pos - headLength) + seqKey.length)
  let o = 0
  prefix.set(header, o)
  o += header.length
  prefix.set(newHead, o)
  o += newHead.length
  prefix.set(body.subarray(headLength, pos), o)
  o += pos - headLength
  prefix.set(seqKey, o)
  return { type, prefix, suffix: body.subarray(pos) }
}

/** The complete frame with `seq` spliced in. */
export function frameWithSeq(frame: UnsequencedFrame, seq: number): Uint8Array {
  const head = uintHead(0, seq)
  const out = new Uint8Array(frame.prefix.length + head.length + frame.suffix.length)
  out.set(frame.prefix, 0)
  out.set(head, frame.prefix.length)
  out.set(frame.suffix, frame.prefix.length + head.length)
  return out
}

/** Compares the encoded text key at [start, end) with "seq" in canonical order. */
function compareKey(bytes: Uint8Array, start: number, end: number): number {
  const { length, headLength } = readTextHead(bytes, start)
  if (start + headLength + length !== end) throw new TypeError('map key is not a text string')
  if (length !== SEQ_KEY.length) return length - SEQ_KEY.length
  for (let i = 0; i < length; i++) {
    const d = bytes[start + headLength + i]! - SEQ_KEY[i]!
    if (d !== 0) return d
  }
  throw new TypeError('body already has a seq key')
}

function readArg(bytes: Uint8Array, start: number): { value: number; headLength: number } {
  const info = bytes[start]! & 0x1f
  if (info < 24) return { value: info, headLength: 1 }
  if (info === 24) return { value: bytes[start + 1]!, headLength: 2 }
  if (info === 25) return { value: (bytes[start + 1]! << 8) | bytes[start + 2]!, headLength: 3 }
  if (info === 26) {
    const v = new DataView(bytes.buffer, bytes.byteOffset + start + 1, 4).getUint32(0)
    return { value: v, headLength: 5 }
  }
  throw new TypeError('unsupported length')
}

function readMapHead(bytes: Uint8Array): { count: number; headLength: number } {
  const { value, headLength } = readArg(bytes, 0)
  return { count: value, headLength }
}

function readTextHead(bytes: Uint8Array, start: number): { length: number; headLength: number } {
  if (bytes[start]! >> 5 !== 3) throw new TypeError('map key is not a text string')
  const { value, headLength } = readArg(bytes, start)
  return { length: value, headLength }
}

function mapHead(count: number): Uint8Array {
  return uintHead(5, count)
}

/** Shortest CBOR head for major type `major` and argument `n` (0 ≤ n < 2^53). */
export function uintHead(major: number, n: number): Uint8Array {
  const m = major << 5
  if (n < 24) return Uint8Array.of(m | n)
  if (n < 0x100) return Uint8Array.of(m | 24, n)
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff)
  if (n < 0x100000000)
    return Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
  const out = new Uint8Array(9)
  out[0] = m | 27
  new DataView(out.buffer).setBigUint64(1, BigInt(n))
  return out
}

/** Lexicon body of a `#commit` as the relay re-emits it (no seq). */
export function commitBody(m: CommitMessage): Record<string, unknown> {
  const body: Record<string, unknown> = {
    rebase: m.rebase,
    tooBig: m.tooBig,
    repo: m.repo,
    commit: m.commit,
    rev: m.rev,
    since: m.since,
    blocks: new BytesWrapper(m.blocks),
    ops: m.ops,
    blobs: m.blobs,
    time: m.time,
  }
  if (m.prevData) body.prevData = m.prevData
  return body
}

export function syncBody(m: SyncMessage): Record<string, unknown> {
  return { did: m.did, rev: m.rev, blocks: new BytesWrapper(m.blocks), time: m.time }
}

export function identityBody(
  did: string,
  time: string,
  handle: string | null,
): Record<string, unknown> {
  return handle ? { did, time, handle } : { did, time }
}

export function accountBody(
  m: Pick<AccountMessage, 'did' | 'active' | 'status' | 'time'>,
): Record<string, unknown> {
  return m.status !== undefined
    ? { did: m.did, active: m.active, status: m.status, time: m.time }
    : { did: m.did, active: m.active, time: m.time }
}
