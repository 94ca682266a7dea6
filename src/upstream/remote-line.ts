// The main thread's side of a socket that runs on a socket thread: what `HostConnection` holds.
// It keeps the rules of a local socket (upstream-socket.ts) where the thread boundary could break
// them. Frames are handed over in order and never while paused: frames the thread sent before it
// learnt of a pause wait here (bounded by what the thread read before the pause reached it) and
// are handed over on resume. Nothing is reported after this side ended the line but `closed`,
// and the end says why this side ended it, as a local socket's does.
// Deliberately not here: the thread and its messages (socket-threads.ts).
import type { FrameOutcome } from './frame-outcome.ts'
import type { LineEvent, ToSocketThread } from './socket-messages.ts'
import type { LineEvents, SocketEnd, UpstreamLine } from './socket-opener.ts'

type Command = Exclude<ToSocketThread, { op: 'open' | 'ack' }>

export class RemoteLine implements UpstreamLine {
  readonly closed: Promise<void>
  readonly #events: LineEvents
  readonly #send: (command: Command) => void
  readonly #id: number
  #opened = false
  #why: string | null = null
  #error: string | null = null
  #paused = false
  #draining = false
  #ended = false
  #queue: [Uint8Array, FrameOutcome][] = []
  #markClosed = (): void => {}

  constructor(id: number, events: LineEvents, send: (command: Command) => void) {
    this.#id = id
    this.#events = events
    this.#send = send
    this.closed = new Promise<void>((resolve) => {
      this.#markClosed = resolve
    })
  }

  get open(): boolean {
    return this.#opened && this.#why === null
  }

  setPaused(paused: boolean): void {
    this.#paused = paused
    if (this.#ended || this.#why !== null) return
    this.#send({ op: 'pause', id: this.#id, paused })
    if (!paused) this.#drain()
  }

  fail(error: string): void {
    if (this.#why !== null || this.#ended) return
    this.#why = error
    this.#error = error
    this.#queue = []
    this.#send({ op: 'fail', id: this.#id, error })
  }

  close(why: string): void {
    if (this.#why !== null || this.#ended) return
    this.#why = why
    this.#queue = []
    this.#send({ op: 'close', id: this.#id, why })
  }

  /** An event the thread reported for this line. */
  deliver(ev: LineEvent): void {
    if (this.#ended) return
    if (ev.e === 'closed') {
      this.end(ev.end)
    } else if (this.#why !== null) {
      // Ended by this side: nothing more but `closed`, as a local socket.
    } else if (ev.e === 'refused') {
      this.#events.refused(ev.reason)
    } else if (ev.e === 'frame') {
      this.deliverFrame(ev.raw, ev.outcome, ev.received)
    } else if (ev.e === 'open') {
      this.#opened = true
      this.#events.open()
    } else if (ev.e === 'received') {
      this.#events.received(ev.n)
    } else {
      this.#events.tooLarge(ev.detail)
    }
  }

  /** A frame the thread read; `received`: it also stands for the frame's `received` event. */
  deliverFrame(raw: Uint8Array, outcome: FrameOutcome, received: boolean): void {
    if (this.#ended || this.#why !== null) return
    if (received) this.#events.received(raw.byteLength)
    if (this.#paused || this.#queue.length > 0) this.#queue.push([raw, outcome])
    else this.#events.frame(raw, outcome)
  }

  /** The line is over (reported by the thread, or the thread is gone): exactly once. */
  end(end: SocketEnd): void {
    if (this.#ended) return
    this.#ended = true
    this.#queue = []
    this.#markClosed()
    this.#events.closed({
      ...end,
      why: this.#why ?? end.why,
      error: this.#error ?? end.error,
    })
  }

  #drain(): void {
    if (this.#draining) return
    this.#draining = true
    try {
      while (!this.#paused && this.#why === null && !this.#ended) {
        const next = this.#queue.shift()
        if (next === undefined) break
        this.#events.frame(next[0], next[1])
      }
    } finally {
      this.#draining = false
    }
  }
}
