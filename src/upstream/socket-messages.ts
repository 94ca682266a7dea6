// The messages between the main thread and a socket thread (socket-threads.ts, socket-worker.ts).
// Lines are numbered by the main thread; the thread reports each line's events in the order
// they happened, batched once per turn of its event loop, each frame's bytes transferred.
// Deliberately not here: what either side does with them.
import type { RepoEnvelope } from '../protocol/envelope.ts'
import type { FrameOutcome } from './frame-outcome.ts'
import type { SocketDial, SocketEnd } from './socket-opener.ts'

/**
 * Frames' bytes a thread may have posted that the main thread has not yet handed on; past it the
 * thread stops reading its sockets (a single larger frame still goes through).
 */
export const MAX_UNACKED_BYTES = 8 * 1024 * 1024

/**
 * The main thread acknowledges frames once this many bytes are handed on (one message per MiB,
 * not per batch): well under the half of MAX_UNACKED_BYTES a stopped thread waits for, so a
 * thread always resumes once the main thread has caught up.
 */
export const ACK_EVERY_BYTES = MAX_UNACKED_BYTES / 8

/** Given to the thread when it starts. */
export interface SocketThreadData {
  /** Localhost names skip the address guard (development with insecure hosts). */
  readonly allowInsecure: boolean
}

export type ToSocketThread =
  | { readonly op: 'open'; readonly id: number; readonly dial: SocketDial }
  | { readonly op: 'pause'; readonly id: number; readonly paused: boolean }
  | { readonly op: 'fail'; readonly id: number; readonly error: string }
  | { readonly op: 'close'; readonly id: number; readonly why: string }
  /** The main thread has handed on frames of this many bytes (back-pressure credit). */
  | { readonly op: 'ack'; readonly bytes: number }

export type LineEvent =
  | { readonly id: number; readonly e: 'refused'; readonly reason: string }
  | { readonly id: number; readonly e: 'open' }
  | { readonly id: number; readonly e: 'received'; readonly n: number }
  | {
      readonly id: number
      readonly e: 'frame'
      readonly raw: Uint8Array
      readonly outcome: FrameOutcome
      /** The frame's `received` is this event (the usual case: one message instead of two). */
      readonly received: boolean
    }
  | { readonly id: number; readonly e: 'tooLarge'; readonly detail: string }
  | { readonly id: number; readonly e: 'closed'; readonly end: SocketEnd }

/**
 * The common event, a frame holding a `#commit` or `#sync` envelope, as a flat array: a third of
 * the cost of the same as nested objects to pass between threads (the values are the same).
 */
export type EnvelopeFrame = readonly [
  id: number,
  raw: Uint8Array,
  received: boolean,
  type: RepoEnvelope['type'],
  seq: number,
  did: string,
  rev: string,
]

type FrameEvent = Extract<LineEvent, { e: 'frame' }>

/** A frame event as it is sent: flat when it holds a repo envelope. */
export function packFrame(ev: FrameEvent): FrameEvent | EnvelopeFrame {
  const out = ev.outcome
  if (out.kind !== 'event' || (out.msg.type !== '#commit' && out.msg.type !== '#sync')) return ev
  const m = out.msg
  return [ev.id, ev.raw, ev.received, m.type, m.seq, m.did, m.rev]
}

export function isEnvelopeFrame(ev: LineEvent | EnvelopeFrame): ev is EnvelopeFrame {
  return Array.isArray(ev)
}

/** The outcome a flat frame carries. */
export function envelopeOutcome(f: EnvelopeFrame): FrameOutcome {
  return { kind: 'event', msg: { type: f[3], seq: f[4], did: f[5], rev: f[6] } }
}

/** A sent event in its object form (the main thread takes a flat frame's parts directly). */
export function unpackEvent(ev: LineEvent | EnvelopeFrame): LineEvent {
  if (!isEnvelopeFrame(ev)) return ev
  return { id: ev[0], e: 'frame', raw: ev[1], received: ev[2], outcome: envelopeOutcome(ev) }
}

export interface FromSocketThread {
  readonly events: readonly (LineEvent | EnvelopeFrame)[]
  /** Times this thread stopped reading because the main thread was behind, so far. */
  readonly stalls: number
  /** Frames' bytes posted (this batch included) not yet acknowledged by the main thread. */
  readonly waitingBytes: number
}
