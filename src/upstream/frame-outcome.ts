// What one upstream WebSocket message means for the connection, before any per-socket state
// (seq order, skips) is applied: a repo event, an `#info`, an error frame, or a drop with its
// reason and whether the connection must end (docs/design.md §4 item 10: a frame that decodes but
// breaks a rule, e.g. non-canonical CBOR, is dropped and the cursor moves past it; a frame that
// does not decode at all closes the socket).
// A `#commit` or `#sync` is read only as far as its envelope (protocol/envelope.ts): its body is
// parsed by the verify worker, which drops a message that breaks a rule with the reason it
// would have got here. Any frame that is not a well-formed envelope is parsed here in full.
// Deliberately not here: seq monotonicity, frame size (the socket enforces it), verification.
import type { DropReason } from '../protocol/drop-reasons.ts'
import { readRepoEnvelope, type UpstreamEvent } from '../protocol/envelope.ts'
import { decodeFrame, type Frame, FrameError } from '../protocol/frame.ts'
import { type InfoMessage, MessageError, parseMessage } from '../protocol/messages.ts'

export type FrameOutcome =
  | { readonly kind: 'event'; readonly msg: UpstreamEvent }
  | { readonly kind: 'info'; readonly msg: InfoMessage }
  | { readonly kind: 'error'; readonly error: string; readonly message: string | undefined }
  | {
      readonly kind: 'drop'
      readonly reason: DropReason
      /** The upstream seq when it could be read, so the cursor can move past it. */
      readonly seq: number | undefined
      readonly detail: string
      /** The frame cannot be skipped: the connection ends (and is retried). */
      readonly fatal: boolean
    }

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** Classifies one frame. Never throws: anything unexpected on hostile input is a drop. */
export function readFrame(bytes: Uint8Array): FrameOutcome {
  const envelope = readRepoEnvelope(bytes)
  if (envelope !== null) return { kind: 'event', msg: envelope }
  let frame: Frame
  try {
    frame = decodeFrame(bytes)
  } catch (err) {
    if (err instanceof FrameError && err.code === 'droppable') {
      return { kind: 'drop', reason: err.reason, seq: err.seq, detail: err.message, fatal: false }
    }
    return {
      kind: 'drop',
      reason: 'undecodable-frame',
      seq: undefined,
      detail: message(err),
      fatal: true,
    }
  }
  if (frame.op === -1) return { kind: 'error', error: frame.error, message: frame.message }
  try {
    const msg = parseMessage(frame)
    switch (msg.type) {
      case '#info':
        return { kind: 'info', msg }
      // Not reached while the envelope reads every frame the full parse accepts; kept so the
      // two can never disagree on what reaches ingest.
      case '#commit':
        return { kind: 'event', msg: { type: msg.type, seq: msg.seq, did: msg.repo, rev: msg.rev } }
      case '#sync':
        return { kind: 'event', msg: { type: msg.type, seq: msg.seq, did: msg.did, rev: msg.rev } }
      default:
        return { kind: 'event', msg }
    }
  } catch (err) {
    if (err instanceof MessageError) {
      return { kind: 'drop', reason: err.reason, seq: err.seq, detail: err.message, fatal: false }
    }
    return {
      kind: 'drop',
      reason: 'invalid-message',
      seq: undefined,
      detail: message(err),
      fatal: false,
    }
  }
}
