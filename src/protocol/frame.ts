// Event-stream frames (event stream spec, "Framing"): each WebSocket binary message is two
// DAG-CBOR items back to back, a header `{ op, t? }` and a body. `op: 1` is a message whose type
// is `t` (e.g. `#commit`); `op: -1` is an error whose body is `{ error, message? }`.
// Checks: both items are strict, canonical atproto DAG-CBOR (see cbor/strict.ts), the header has
// a valid `op` and, for messages, a string `t`; the body is a map. A frame that is well-formed CBOR
// but not canonical is reported as `non-canonical` together with whatever `seq` a lenient decode
// finds, so the caller can drop it and move its cursor past it (DESIGN.md §4 item 10).
// Deliberately not checked here: the body's fields (messages.ts does that per type).
import { decode, encode } from '@atcute/cbor'
import { decodeFirst as lenientDecodeFirst } from 'cborg'
import { DagCborError } from './cbor/dag-cbor-error.ts'
import { dagCborItemEnd } from './cbor/strict.ts'

export type Frame =
  | { readonly op: 1; readonly type: string; readonly body: Record<string, unknown> }
  | { readonly op: -1; readonly error: string; readonly message: string | undefined }

export type FrameProblem = 'undecodable' | 'non-canonical'

export class FrameError extends Error {
  readonly code: FrameProblem
  /** The message's `seq` if a lenient decode could read one (non-canonical frames). */
  readonly seq: number | undefined
  constructor(code: FrameProblem, message: string, seq?: number, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FrameError'
    this.code = code
    this.seq = seq
  }
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Decodes and checks one frame. Throws `FrameError`. */
export function decodeFrame(bytes: Uint8Array): Frame {
  let headerEnd: number
  try {
    headerEnd = dagCborItemEnd(bytes, 0)
    const bodyEnd = dagCborItemEnd(bytes, headerEnd)
    if (bodyEnd !== bytes.length) throw new DagCborError('trailing-bytes', bodyEnd)
  } catch (err) {
    if (!(err instanceof DagCborError)) throw err
    throw lenientFailure(bytes, err)
  }
  const header = decode(bytes.subarray(0, headerEnd)) as unknown
  const body = decode(bytes.subarray(headerEnd)) as unknown
  return interpret(header, body)
}

function interpret(header: unknown, body: unknown): Frame {
  if (!isMap(header)) throw new FrameError('undecodable', 'frame header is not a map')
  if (!isMap(body)) throw new FrameError('undecodable', 'frame body is not a map')
  if (header.op === 1) {
    if (typeof header.t !== 'string')
      throw new FrameError('undecodable', 'message frame has no type')
    return { op: 1, type: header.t, body }
  }
  if (header.op === -1) {
    if (typeof body.error !== 'string')
      throw new FrameError('undecodable', 'error frame has no error name')
    return {
      op: -1,
      error: body.error,
      message: typeof body.message === 'string' ? body.message : undefined,
    }
  }
  throw new FrameError('undecodable', `unknown frame op ${String(header.op)}`)
}

// The lenient reading used only after a strict failure: cborg with canonical-form checks off
// (non-minimal numbers, any key order, duplicates, indefinite lengths, floats all accepted) and
// tag 42 kept as raw bytes. @atcute/cbor cannot serve here: it rejects non-canonical input too.
const LENIENT = {
  strict: false,
  allowIndefinite: true,
  allowUndefined: true,
  allowInfinity: true,
  allowNaN: true,
  rejectDuplicateMapKeys: false,
  tags: Object.assign([], { 42: (b: unknown) => b }),
}

/** After a strict failure: does the frame decode at all? If so it is merely non-canonical. */
function lenientFailure(bytes: Uint8Array, strictError: DagCborError): FrameError {
  try {
    const [header, rest] = lenientDecodeFirst(bytes, LENIENT)
    const [body, tail] = lenientDecodeFirst(rest, LENIENT)
    if (tail.length !== 0) throw new Error('bytes after the body')
    interpret(header, body)
    const seq =
      isMap(body) && typeof body.seq === 'number' && Number.isSafeInteger(body.seq)
        ? body.seq
        : undefined
    return new FrameError(
      'non-canonical',
      `frame is not canonical DAG-CBOR: ${strictError.message}`,
      seq,
      {
        cause: strictError,
      },
    )
  } catch {
    return new FrameError(
      'undecodable',
      `frame does not decode: ${strictError.message}`,
      undefined,
      {
        cause: strictError,
      },
    )
  }
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
