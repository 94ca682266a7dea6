// The messages between the main thread and a socket thread (socket-threads.ts, socket-worker.ts).
// Lines are numbered by the main thread; the thread reports each line's events in the order
// they happened, batched once per turn of its event loop, each frame's bytes transferred.
// Deliberately not here: what either side does with them.
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

export interface FromSocketThread {
  readonly events: readonly LineEvent[]
  /** Times this thread stopped reading because the main thread was behind, so far. */
  readonly stalls: number
}
