// Upstream sockets on threads of their own (`--upstream-threads`): reading the network (and
// decrypting TLS), the WebSocket framing and each frame's strict CBOR scan and envelope happen
// there, and the main thread gets each frame's bytes (transferred, not copied) with its outcome,
// batched once per turn of the thread's loop. A new line goes to the running thread with the
// fewest.
// Back-pressure: the main thread acknowledges frames (every MiB) once it has handed them on, and
// a thread with more than MAX_UNACKED_BYTES not yet acknowledged stops reading all its sockets
// until the main thread has caught up (socket-worker.ts), so a busy main thread slows the hosts
// down through TCP, as it does when it reads the sockets itself.
// A thread that dies ends its lines as a network failure would (their connections reconnect
// after their backoff, from their cursors) and is replaced; one that keeps dying right after it
// starts is replaced after a growing pause (up to 30 s); dials meanwhile go to the other threads,
// or wait for the replacement (not failing: a dial refused for the relay's own trouble would
// count against the host and could send it offline).
// Deliberately not here: what a line does (remote-line.ts on this side, socket-worker.ts there).
import type { Worker } from 'node:worker_threads'
import { RestartPause } from '../runtime/restart-pause.ts'
import { SupervisedWorker } from '../runtime/supervised-worker.ts'
import { RemoteLine } from './remote-line.ts'
import {
  ACK_EVERY_BYTES,
  envelopeOutcome,
  type FromSocketThread,
  isEnvelopeFrame,
  type SocketThreadData,
  type ToSocketThread,
} from './socket-messages.ts'
import {
  checkDialUrl,
  type LineEvents,
  type SocketDial,
  type SocketOpener,
  type UpstreamLine,
} from './socket-opener.ts'

const WORKER_URL = new URL('./socket-worker.ts', import.meta.url)

export interface SocketThreadsOptions {
  /** How many threads (at least 1). */
  readonly threads: number
  /** Localhost names skip the address guard (development with insecure hosts). */
  readonly allowInsecure: boolean
  /**
   * A thread failed (its lines end and reconnect) or could not be created; for the log. It is
   * replaced after `restartInMs` (runtime/restart-pause.ts).
   */
  readonly onThreadError?: (err: unknown, restartInMs: number) => void
  /** The thread's entry (tests wrap the real one); default socket-worker.ts. */
  readonly workerUrl?: URL
  readonly now?: () => number
}

interface Slot {
  /** Its thread, replaced when it dies. */
  readonly thread: SupervisedWorker<FromSocketThread>
  /** Messages for the thread while a restart waits (dials and their commands), in order. */
  readonly waiting: ToSocketThread[]
  readonly lines: Map<number, RemoteLine>
  /** Back-pressure stalls reported by the current thread, and by the threads before it. */
  stalls: number
  /** Frames' bytes handed on and not yet acknowledged to the current thread. */
  toAck: number
  /** What the current thread last said it had waiting for this one. */
  waitingBytes: number
  endedStalls: number
}

export class SocketThreads implements SocketOpener {
  readonly #onThreadError: (err: unknown, restartInMs: number) => void
  readonly #slots: Slot[] = []
  #nextId = 1
  #closed = false

  constructor(options: SocketThreadsOptions) {
    const workerData: SocketThreadData = { allowInsecure: options.allowInsecure }
    this.#onThreadError = options.onThreadError ?? (() => {})
    for (let i = 0; i < Math.max(1, options.threads); i++) {
      const slot: Slot = {
        thread: new SupervisedWorker<FromSocketThread>({
          url: options.workerUrl ?? WORKER_URL,
          // The name is the OS thread's too: per-thread CPU (top -H, the load generator) shows it.
          workerOptions: { workerData, name: 'upstream' },
          restart: new RestartPause({ now: options.now }),
          life: {
            started: (worker) => this.#started(slot, worker),
            message: (msg, worker) => this.#received(slot, msg, worker),
            lost: (cause, restartInMs, how) => {
              this.#onThreadError(cause, restartInMs)
              // A thread never made had no lines running: their dials wait for the next.
              if (how === 'died') this.#lost(slot, cause)
            },
          },
        }),
        waiting: [],
        lines: new Map(),
        stalls: 0,
        endedStalls: 0,
        toAck: 0,
        waitingBytes: 0,
      }
      this.#slots.push(slot)
      slot.thread.start()
    }
  }

  /** How many threads. */
  get size(): number {
    return this.#slots.length
  }

  /** Threads replaced after they failed. */
  get restarts(): number {
    let n = 0
    for (const s of this.#slots) n += s.thread.restarts
    return n
  }

  /** Times a thread stopped reading because the main thread was behind (back-pressure). */
  get stalls(): number {
    let n = 0
    for (const s of this.#slots) n += s.endedStalls + s.stalls
    return n
  }

  /**
   * Frames' bytes the threads have sent that this thread has not yet acknowledged, as they last
   * said (each thread holds its reading past MAX_UNACKED_BYTES).
   */
  get waitingBytes(): number {
    let n = 0
    for (const s of this.#slots) n += s.waitingBytes
    return n
  }

  /** Lines open now, over all threads. */
  get lines(): number {
    let n = 0
    for (const s of this.#slots) n += s.lines.size
    return n
  }

  /** Busy milliseconds of every socket thread so far (replaced ones included). */
  busyMs(): number {
    let ms = 0
    for (const s of this.#slots) ms += s.thread.busyMs()
    return ms
  }

  open(dial: SocketDial, events: LineEvents): UpstreamLine {
    if (this.#closed) throw new Error('socket threads are closed')
    checkDialUrl(dial.url)
    // The running thread with the fewest lines; a thread waiting to restart only if none runs.
    let slot = this.#slots[0]!
    for (const s of this.#slots) {
      const running = s.thread.worker !== null
      const better = running !== (slot.thread.worker !== null)
      if (better ? running : s.lines.size < slot.lines.size) slot = s
    }
    const owner = slot
    const id = this.#nextId++
    const line = new RemoteLine(id, events, (command) => this.#post(owner, command))
    slot.lines.set(id, line)
    this.#post(slot, { op: 'open', id, dial })
    return line
  }

  /** Ends the threads, and any line still open as ended by this side. Call after hosts stopped. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all(
      this.#slots.map(async (slot) => {
        const worker = slot.thread.close()
        slot.waiting.length = 0
        this.#lose(slot, { why: 'the relay is stopping', error: null })
        await worker?.terminate()
      }),
    )
  }

  #post(slot: Slot, message: ToSocketThread): void {
    const worker = slot.thread.worker
    if (worker === null) slot.waiting.push(message)
    else worker.postMessage(message)
  }

  #started(slot: Slot, worker: Worker): void {
    slot.stalls = 0
    slot.toAck = 0
    slot.waitingBytes = 0
    for (const message of slot.waiting.splice(0)) worker.postMessage(message)
  }

  #received(slot: Slot, msg: FromSocketThread, worker: Worker): void {
    slot.waitingBytes = msg.waitingBytes
    for (const ev of msg.events) {
      // A line missing here was ended on this side by its thread's replacement or by close():
      // it has had its `closed`, and the frames it would have had are asked for again on
      // reconnect. Its frames still count for the acknowledgement.
      if (isEnvelopeFrame(ev)) {
        // The common event, taken apart directly (no object for the event itself).
        slot.toAck += ev[1].byteLength
        slot.lines.get(ev[0])?.deliverFrame(ev[1], envelopeOutcome(ev), ev[2])
        continue
      }
      if (ev.e === 'frame') slot.toAck += ev.raw.byteLength
      const line = slot.lines.get(ev.id)
      if (line === undefined) continue
      if (ev.e === 'closed') slot.lines.delete(ev.id)
      line.deliver(ev)
    }
    slot.stalls = msg.stalls
    if (slot.toAck >= ACK_EVERY_BYTES) {
      worker.postMessage({ op: 'ack', bytes: slot.toAck } satisfies ToSocketThread)
      slot.toAck = 0
    }
  }

  /** The slot's thread died: its lines end as a network failure would (they reconnect). */
  #lost(slot: Slot, cause: unknown): void {
    slot.endedStalls += slot.stalls
    slot.stalls = 0
    slot.waitingBytes = 0
    const error = `socket thread failed: ${cause instanceof Error ? cause.message : String(cause)}`
    this.#lose(slot, { why: null, error })
  }

  /** Ends every line of a thread that is going away. */
  #lose(slot: Slot, how: { why: string | null; error: string | null }): void {
    const lines = [...slot.lines.values()]
    slot.lines.clear()
    for (const line of lines) line.end({ code: 1006, reason: '', ...how })
  }
}
