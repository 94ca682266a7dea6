// A `#commit` frame re-emitted from the upstream frame's own bytes. The relay's output frame is
// the Lexicon's fields encoded as canonical DAG-CBOR (output.ts); when the upstream frame already
// is exactly that (strictly canonical, which decodeFrame has checked, with exactly the fields the
// relay emits and none of the spellings parseMessage normalises), re-encoding it would give its
// own bytes back, so its bytes around `seq` are the output's prefix and suffix. This saves the
// verify worker a whole encode of every commit (blocks included) and the scan for `seq`.
// Which spellings are normalised (each falls back to encoding): `rebase` or `tooBig` absent or
// null (emitted as false), `blobs` absent or null (emitted as []), `prevData` null (left out),
// an op's `prev` null (left out), a delete op without `cid` (emitted as null), any field the
// Lexicon does not name (dropped), and a header other than exactly {op: 1, t: '#commit'}.
// Deliberately not here: parsing or checking the message (messages.ts), encoding (output.ts).
import { encode } from '@atcute/cbor'
import { dagCborItemEnd } from './cbor/strict.ts'
import type { UnsequencedFrame } from './output.ts'

const COMMIT_HEADER = encode({ op: 1, t: '#commit' })
/** The body's keys as the relay emits them (prevData only when it is a link), plus seq. */
const COMMIT_KEYS = new Set([
  'seq',
  'rebase',
  'tooBig',
  'repo',
  'commit',
  'rev',
  'since',
  'blocks',
  'ops',
  'blobs',
  'time',
  'prevData',
])
const OP_KEYS = new Set(['action', 'path', 'cid', 'prev'])
// "seq" as a CBOR text string: 0x63 's' 'e' 'q'.
const SEQ_KEY = Uint8Array.of(0x63, 0x73, 0x65, 0x71)

/**
 * The output frame of a `#commit` taken from its upstream bytes `raw` (views of them), or null
 * when the relay's own encoding would differ. `body` is `raw`'s decoded body, which
 * parseMessage has accepted as a `#commit`.
 */
export function reusedCommitFrame(
  raw: Uint8Array,
  body: Readonly<Record<string, unknown>>,
): UnsequencedFrame | null {
  if (!emitsAsIs(body)) return null
  for (let i = 0; i < COMMIT_HEADER.length; i++) if (raw[i] !== COMMIT_HEADER[i]) return null
  const seq = seqValue(raw, COMMIT_HEADER.length)
  if (seq === null) return null
  return { type: '#commit', prefix: raw.subarray(0, seq.start), suffix: raw.subarray(seq.end) }
}

/** Whether commitBody would give back exactly the fields and values `body` has (but seq). */
function emitsAsIs(body: Readonly<Record<string, unknown>>): boolean {
  let keys = 0
  for (const key in body) {
    if (!COMMIT_KEYS.has(key)) return false
    keys++
  }
  // Known keys only, so 11 of them without prevData (or 12 with it) are every one of them: what
  // is left to check is the values parseMessage would have changed (a null blobs becomes [];
  // ops is an array, or it would have refused the message).
  const prevData = 'prevData' in body
  if (keys !== (prevData ? 12 : 11)) return false
  if (prevData && body.prevData === null) return false
  if (typeof body.rebase !== 'boolean' || typeof body.tooBig !== 'boolean') return false
  if (!Array.isArray(body.blobs) || !Array.isArray(body.ops)) return false
  for (const op of body.ops as readonly Record<string, unknown>[]) {
    let opKeys = 0
    for (const key in op) {
      if (!OP_KEYS.has(key)) return false
      opKeys++
    }
    // action and path are always there (parseMessage requires them), so three known keys without
    // prev are action, path and cid, and four are all of them.
    if ('prev' in op ? op.prev === null || opKeys !== 4 : opKeys !== 3) return false
  }
  return true
}

/** Where the value of the body map's `seq` key lies in `raw` (the body starts at `at`). */
function seqValue(raw: Uint8Array, at: number): { start: number; end: number } | null {
  const head = raw[at]!
  if (head >> 5 !== 5) return null
  const info = head & 0x1f
  // 11 or 12 pairs: always a one-byte map head.
  if (info > 23) return null
  let pos = at + 1
  for (let i = 0; i < info; i++) {
    const keyEnd = dagCborItemEnd(raw, pos)
    const valueEnd = dagCborItemEnd(raw, keyEnd)
    if (keyEnd - pos === SEQ_KEY.length && isSeqKey(raw, pos))
      return { start: keyEnd, end: valueEnd }
    pos = valueEnd
  }
  return null
}

function isSeqKey(raw: Uint8Array, at: number): boolean {
  for (let i = 0; i < SEQ_KEY.length; i++) if (raw[at + i] !== SEQ_KEY[i]) return false
  return true
}
