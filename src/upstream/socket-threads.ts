// Upstream sockets on threads of their own (`--upstream-threads`): reading the network (and
// decrypting TLS), the WebSocket framing and each frame's strict CBOR scan and envelope happen
// there, and the main thread gets each frame's bytes (transferred, not copied) with its outcome,
// batched once per turn of the thread's loop. A new line goes to the thread with the fewest.
// A thread that dies ends its lines as a network failure would (their connections reconnect
// after their backoff, from their cursors) and is replaced for the next dials.
// Deliberately not here: what a line does (remote-line.ts on this side, socket-worker.ts there).
import { Worker } from 'node:worker_threads'
import { ThreadBusyTime } from '../runtime/thread-busy.ts'
import { RemoteLine } from './remote-line.ts'
import type { FromSocketThread, SocketThreadData, ToSocketThread } from './socket-messages.ts'
import type { LineEvents, SocketDial, SocketOpener, UpstreamLine } from './socket-opener.ts'

const WORKER_URL = new URL('./socket-worker.ts', import.meta.url)

export interface SocketThreadsOptions {
  /** How many threads (at least 1). */
  readonly threads: number
  /** Localhost names skip the address guard (development with insecure hosts). */
  readonly allowInsecure: boolean
  /** A thread failed (its lines end and reconnect); for the log. */
  readonly onThreadError?: (err: unknown) => void
  /** The thread's entry (tests wrap the real one); default socket-worker.ts. */
  readonly workerUrl?: URL
}

interface Slot {
  worker: Worker
  readonly busy: ThreadBusyTime
  readonly lines: Map<number, RemoteLine>
}

export class SocketThreads implements SocketOpener {
  readonly #data: SocketThreadData
  readonly #onThreadError: (err: unknown) => void
  readonly #workerUrl: URL
  readonly #slots: Slot[] = []
  #nextId = 1
  #closed = false
  #restarts = 0

  constructor(options: SocketThreadsOptions) {
    this.#data = { allowInsecure: options.allowInsecure }
    this.#onThreadError = options.onThreadError ?? (() => {})
    this.#workerUrl = options.workerUrl ?? WORKER_URL
    for (let i = 0; i < Math.max(1, options.threads); i++) this.#slots.push(this.#spawn())
  }

  /** How many threads. */
  get size(): number {
    return this.#slots.length
  }

  /** Threads replaced after they failed. */
  get restarts(): number {
    return this.#restarts
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
    for (const s of this.#slots) ms += s.busy.read(s.worker)
    return ms
  }

  open(dial: SocketDial, events: LineEvents): UpstreamLine {
    if (this.#closed) throw new Error('socket threads are closed')
    // What a local socket would refuse at once, refused here at once too.
    const url = new URL(dial.url)
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new SyntaxError(`not a WebSocket URL: ${dial.url}`)
    }
    let slot = this.#slots[0]!
    for (const s of this.#slots) if (s.lines.size < slot.lines.size) slot = s
    const id = this.#nextId++
    const owner = slot
    const line = new RemoteLine(id, events, (command) => owner.worker.postMessage(command))
    slot.lines.set(id, line)
    slot.worker.postMessage({ op: 'open', id, dial } satisfies ToSocketThread)
    return line
  }

  /** Ends the threads; lines still open end as closed by this side. Call after hosts stopped. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all(
      this.#slots.map(async (slot) => {
        this.#lose(slot, 'the relay is stopping')
        await slot.worker.terminate()
      }),
    )
  }

  #spawn(busy = new ThreadBusyTime()): Slot {
    // The name is the OS thread's too: per-thread CPU (top -H, the load generator) shows it.
    const worker = new Worker(this.#workerUrl, { workerData: this.#data, name: 'upstream' })
    const slot: Slot = { worker, busy, lines: new Map() }
    worker.unref()
    worker.on('message', (msg: FromSocketThread) => {
      for (const ev of msg.events) {
        const line = slot.lines.get(ev.id)
        if (line === undefined) continue
        if (ev.e === 'closed') slot.lines.delete(ev.id)
        line.deliver(ev)
      }
    })
    worker.on('error', (err) => this.#replace(slot, err))
    worker.on('exit', (code) => {
      if (!this.#closed) this.#replace(slot, new Error(`socket thread exited with code ${code}`))
    })
    return slot
  }

  #replace(slot: Slot, cause: unknown): void {
    const idx = this.#slots.indexOf(slot)
    if (idx === -1 || this.#closed) return
    this.#onThreadError(cause)
    slot.busy.replaced(slot.worker)
    void slot.worker.terminate()
    this.#restarts++
    this.#slots[idx] = this.#spawn(slot.busy)
    this.#lose(slot, `socket thread failed: ${cause instanceof Error ? cause.message : cause}`)
  }

  /** Ends every line of a thread that is going away. */
  #lose(slot: Slot, error: string): void {
    const lines = [...slot.lines.values()]
    slot.lines.clear()
    for (const line of lines) line.end({ code: 1006, reason: '', why: null, error, openedAt: null })
  }
}
