// Event-stream frames (event stream spec, "Framing"): each WebSocket binary message is two
// DAG-CBOR items back to back, a header `{ op, t? }` and a body. `op: 1` is a message whose type
// is `t` (e.g. `#commit`); `op: -1` is an error whose body is `{ error, message? }`.
// Checks: both items are strict, canonical atproto DAG-CBOR (see cbor/strict.ts) that the decoder
// can represent, the header has a known `op` and, for messages, a string `t`; the body is a map.
// Outcomes of a bad frame (docs/design.md §4 item 10):
// - `undecodable`: the bytes cannot be read as two CBOR items at all. The caller closes the
//   connection (and retries with backoff).
// - `droppable`: the frame decodes (leniently) but breaks a rule; it carries the drop `reason`
//   and whatever `seq` a lenient decode finds, so the caller drops it and moves its cursor past
//   it rather than meeting the same frame after every reconnect.
// Deliberately not checked here: the body's fields (messages.ts does that per type).
import { decode, encode } from '@atcute/cbor'
import { Tokenizer, Type } from 'cborg'
import { DagCborError } from './cbor/dag-cbor-error.ts'
import { dagCborItemEnd } from './cbor/strict.ts'
import type { DropReason } from './drop-reasons.ts'

export type Frame =
  | { readonly op: 1; readonly type: string; readonly body: Record<string, unknown> }
  | { readonly op: -1; readonly error: string; readonly message: string | undefined }

export type FrameProblem = 'undecodable' | 'droppable'

export class FrameError extends Error {
  readonly code: FrameProblem
  /** Why the frame is dropped: 'undecodable-frame' for undecodable ones. */
  readonly reason: DropReason
  /** The message's `seq` if a lenient decode could read one. */
  readonly seq: number | undefined
  constructor(
    code: FrameProblem,
    reason: DropReason,
    message: string,
    seq?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'FrameError'
    this.code = code
    this.reason = reason
    this.seq = seq
  }
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Decodes and checks one frame. Throws `FrameError`. */
export function decodeFrame(bytes: Uint8Array): Frame {
  let header: unknown
  let body: unknown
  try {
    const headerEnd = dagCborItemEnd(bytes, 0)
    const bodyEnd = dagCborItemEnd(bytes, headerEnd)
    if (bodyEnd !== bytes.length) throw new DagCborError('trailing-bytes', bodyEnd)
    // Strict-valid DAG-CBOR the decoder cannot hold (integers past 2^53, CIDs of other codecs)
    // throws here: treated like any other rule the frame breaks.
    header = decode(bytes.subarray(0, headerEnd))
    body = decode(bytes.subarray(headerEnd))
  } catch (err) {
    throw lenientFailure(bytes, err)
  }
  const problem = check(header, body)
  if (problem) throw new FrameError('droppable', problem.reason, problem.message, seqOf(body))
  return frameOf(header as Header, body as Record<string, unknown>)
}

interface Header {
  op: unknown
  t?: unknown
}

function check(header: unknown, body: unknown): { reason: DropReason; message: string } | null {
  if (!isMap(header)) return { reason: 'invalid-message', message: 'frame header is not a map' }
  if (!isMap(body)) return { reason: 'invalid-message', message: 'frame body is not a map' }
  if (header.op === 1) {
    if (typeof header.t !== 'string')
      return { reason: 'invalid-message', message: 'message frame has no type' }
    return null
  }
  if (header.op === -1) {
    if (typeof body.error !== 'string')
      return { reason: 'invalid-message', message: 'error frame has no error name' }
    return null
  }
  return { reason: 'unknown-type', message: `unknown frame op ${String(header.op).slice(0, 20)}` }
}

function frameOf(header: Header, body: Record<string, unknown>): Frame {
  if (header.op === 1) return { op: 1, type: header.t as string, body }
  return {
    op: -1,
    error: body.error as string,
    message: typeof body.message === 'string' ? body.message : undefined,
  }
}

function seqOf(body: unknown): number | undefined {
  return isMap(body) &&
    typeof body.seq === 'number' &&
    Number.isSafeInteger(body.seq) &&
    body.seq >= 0
    ? body.seq
    : undefined
}

// The lenient reading used only after a strict failure: cborg's tokenizer with canonical-form
// checks off (non-minimal numbers, any key order, duplicates, indefinite lengths, floats all
// accepted). @atcute/cbor cannot serve here: it rejects non-canonical input too.
// The tokens are walked with an explicit stack instead of being built into values (cborg's own
// `decode` recurses once per nesting level and allocates every item): a hostile frame of
// thousands of nested arrays would otherwise overflow the call stack, so whether it counted as
// droppable or undecodable depended on how deep the caller's stack already was, and a 5 MB frame
// claiming billions of items made the lenient reading allocate tens of MB only to find a `seq`.
// The walk accepts what cborg's decode accepted: map keys are text, the only tag is 42, a break
// ends only an indefinite-length container (cborg let a stray break stand for a map value or a
// tag's content; here that is malformed, as CBOR says).
const LENIENT = {
  strict: false,
  allowIndefinite: true,
  allowUndefined: true,
  allowInfinity: true,
  allowNaN: true,
  allowBigInt: true,
}

/**
 * Nesting the lenient reading follows (the strict check allows 128). Deeper is undecodable: no
 * PDS nests like that, and following a 5 MB frame of nested arrays level by level cost over a
 * second of main-thread time and hundreds of MB, which one host could repeat at wire speed.
 */
const MAX_LENIENT_DEPTH = 1024
const TOO_DEEP = `nested deeper than ${MAX_LENIENT_DEPTH} levels`

/** Read by `skipLenientItem` when a value other than a terminal token follows the `seq` key. */
const NOT_A_SEQ = Symbol('not a seq')

/**
 * Walks one lenient CBOR item from `tokens` without building it; throws if the bytes are not a
 * complete, well-formed item. Says whether the item is a map and, when it is, the value of its
 * last top-level `seq` key (a terminal token's value, else NOT_A_SEQ; undefined when there is
 * none), which is all a droppable frame needs from its body.
 */
function skipLenientItem(tokens: Tokenizer): { readonly map: boolean; readonly seq: unknown } {
  // Per open container: items still to come (Infinity for indefinite length; a map counts its
  // keys and values separately), whether it is a map, and for maps whether a key comes next.
  const left: number[] = []
  const isMap: boolean[] = []
  const keyNext: boolean[] = []
  let topIsMap = false
  let seqKey = false
  let seq: unknown
  for (;;) {
    if (tokens.done()) throw new Error('input ends inside an item')
    const token = tokens.next()
    const depth = left.length
    const top = depth - 1
    const atKey = depth > 0 && isMap[top] === true && keyNext[top] === true
    if (atKey && !Type.equals(token.type, Type.string) && !Type.equals(token.type, Type.break)) {
      throw new Error('map key is not a text string')
    }
    if (depth === 0) topIsMap = Type.equals(token.type, Type.map)
    else if (depth === 1 && topIsMap && !Type.equals(token.type, Type.break)) {
      if (atKey) seqKey = token.value === 'seq'
      else if (seqKey) seq = token.type.terminal ? token.value : NOT_A_SEQ
    }

    if (Type.equals(token.type, Type.break)) {
      if (depth === 0 || left[top] !== Infinity || (isMap[top] && !atKey)) {
        throw new Error('unexpected break')
      }
      left.pop()
      isMap.pop()
      keyNext.pop()
    } else if (Type.equals(token.type, Type.array) || Type.equals(token.type, Type.map)) {
      const count = token.value as number
      if (count > 0) {
        const map = Type.equals(token.type, Type.map)
        if (left.length >= MAX_LENIENT_DEPTH) throw new Error(TOO_DEEP)
        left.push(map ? count * 2 : count)
        isMap.push(map)
        keyNext.push(map)
        continue
      }
    } else if (Type.equals(token.type, Type.tag)) {
      if (token.value !== 42) throw new Error(`tag ${String(token.value)} is not supported`)
      if (left.length >= MAX_LENIENT_DEPTH) throw new Error(TOO_DEEP)
      left.push(1)
      isMap.push(false)
      keyNext.push(false)
      continue
    }
    // One item is complete: count it off its container(s).
    for (;;) {
      const d = left.length - 1
      if (d < 0) return { map: topIsMap, seq: topIsMap ? seq : undefined }
      if (isMap[d]) keyNext[d] = !keyNext[d]
      left[d]! -= 1
      if (left[d]! > 0) break
      left.pop()
      isMap.pop()
      keyNext.pop()
    }
  }
}

/** After a strict failure: does the frame decode at all? If so it is droppable. */
function lenientFailure(bytes: Uint8Array, strictError: unknown): FrameError {
  const why = strictError instanceof Error ? strictError.message : String(strictError)
  let seq: unknown
  try {
    const tokens = new Tokenizer(bytes, LENIENT)
    skipLenientItem(tokens)
    // Bytes that are not DAG-CBOR and whose second item is not a map are not a frame breaking a
    // rule but no frame at all (garbage often reads leniently as a couple of strings or
    // integers); with no body there is no seq to skip past either.
    const body = skipLenientItem(tokens)
    if (!body.map) throw new Error('the frame body is not a map')
    seq = body.seq
  } catch {
    return new FrameError(
      'undecodable',
      'undecodable-frame',
      `frame does not decode: ${why}`,
      undefined,
      {
        cause: strictError,
      },
    )
  }
  return new FrameError(
    'droppable',
    'non-canonical-cbor',
    `frame is not valid atproto DAG-CBOR: ${why}`,
    seqOf({ seq }),
    {
      cause: strictError,
    },
  )
}

/** Encodes a message frame. `body` must hold only data-model values. */
export function encodeMessageFrame(type: string, body: Record<string, unknown>): Uint8Array {
  return concat(encode({ op: 1, t: type }), encode(body))
}

/** Encodes an error frame (e.g. `FutureCursor`, `ConsumerTooSlow`). */
export function encodeErrorFrame(error: string, message?: string): Uint8Array {
  const body: Record<string, unknown> = { error }
  if (message !== undefined) body.message = message
  return concat(encode({ op: -1 }), encode(body))
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
