// Liveness of one open socket: every interval, if nothing (a pong or any frame) arrived since
// the previous ping, the connection is declared dead; otherwise another ping is sent. While the
// socket is paused nothing can be read (pongs included), so the check is suspended and starts
// afresh on resume.
// Deliberately not here: closing the socket (the `onDead` callback does that).

export class Heartbeat {
  readonly #intervalMs: number
  readonly #ping: () => void
  readonly #onDead: () => void
  #timer: ReturnType<typeof setInterval> | null = null
  #awaiting = false
  #paused = false

  constructor(intervalMs: number, ping: () => void, onDead: () => void) {
    this.#intervalMs = intervalMs
    this.#ping = ping
    this.#onDead = onDead
  }

  start(): void {
    if (this.#timer !== null) return
    this.#awaiting = false
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs)
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** Something arrived from the peer. */
  alive(): void {
    this.#awaiting = false
  }

  setPaused(paused: boolean): void {
    this.#paused = paused
    this.#awaiting = false
  }

  #tick(): void {
    if (this.#paused) return
    if (this.#awaiting) {
      this.stop()
      this.#onDead()
      return
    }
    this.#awaiting = true
    this.#ping()
  }
}
