// A frame that never finishes: a host can send the first bytes of a frame and then dribble the
// rest, a few bytes at a time, for ever, while answering every ping. The heartbeat alone never
// notices (pongs keep arriving), the frame is capped in size but its events never come, and the
// host's socket is held open indefinitely. This watch counts the bytes of data frames not yet
// whole: everything read from the socket, less what whole frames and control frames (pings,
// pongs) account for. When such bytes have been waiting for longer than `timeoutMs` with no
// frame completed meanwhile, the connection is stalled and the caller ends it.
// Deliberately not here: the socket, timers (the caller calls `check` on its own clock).

export class FrameStallWatch {
  readonly #timeoutMs: number
  /** Bytes read since the last whole frame, less the control frames among them. */
  #pending = 0
  /** When bytes of an unfinished frame were first seen waiting; null when none are. */
  #since: number | null = null

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Bytes arrived from the socket (before the WebSocket parser saw them). */
  read(bytes: number): void {
    this.#pending += bytes
  }

  /** A control frame arrived whole: `payloadBytes` plus its 2-byte header were not data. */
  control(payloadBytes: number): void {
    this.#pending = Math.max(0, this.#pending - 2 - payloadBytes)
  }

  /**
   * A data frame arrived whole. What was read up to now belongs to it (or, harmlessly, to the
   * start of the next frame, which is then counted from its next bytes only).
   */
  frame(): void {
    this.#pending = 0
    this.#since = null
  }

  /** Reading stopped (paused): waiting bytes are not the host's fault until it resumes. */
  reset(): void {
    this.#since = null
  }

  /** True once an unfinished frame has waited longer than the timeout. */
  check(now: number): boolean {
    if (this.#pending === 0) {
      this.#since = null
      return false
    }
    if (this.#since === null) {
      this.#since = now
      return false
    }
    return now - this.#since >= this.#timeoutMs
  }
}
