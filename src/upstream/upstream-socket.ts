// One WebSocket attempt to a host's subscription URL, from dial to close: the upgrade request
// (User-Agent, frame-size cap, handshake timeout, no compression, no redirects), a hook on the
// upgrade response (to refuse relays), liveness pings, a frame left unfinished too long
// (frame-stall.ts), pausing, holding (a socket thread's own back-pressure: reading stops, the
// liveness rules go on), and ending it politely (close frame, then destroy after a timeout) or
// at once. Frames are copied once into their own buffer and handed over in order, never while
// paused: frames the socket had already read when it was paused wait in a queue (bounded by
// what one socket read held) and are handed over on resume, or discarded if the socket ends
// first.
// Deliberately not here: what frames mean, seqs, reconnecting (host-connection.ts).
import type { IncomingMessage } from 'node:http'
import type { LookupFunction, Socket } from 'node:net'
import { type RawData, WebSocket } from 'ws'
import { FrameStallWatch } from './frame-stall.ts'
import { Heartbeat } from './heartbeat.ts'

export interface UpstreamSocketOptions {
  readonly url: string
  readonly userAgent: string
  readonly maxFrameBytes: number
  readonly connectTimeoutMs: number
  readonly pingIntervalMs: number
  /** A frame whose first bytes arrived must be whole within this time. */
  readonly frameTimeoutMs: number
  readonly closeTimeoutMs: number
  readonly now: () => number
  /** Resolves the host's name on each dial (the caller's address guard); default plain DNS. */
  readonly lookup?: LookupFunction
}

/** How a socket ended. */
export interface SocketEnd {
  readonly code: number
  readonly reason: string
  /** Why this side ended it; null when the peer or the network did. */
  readonly why: string | null
  /** Set when it ended because something went wrong. */
  readonly error: string | null
}

export interface SocketEvents {
  /** The upgrade response: return a reason to refuse the connection, or null to accept it. */
  upgrade(res: IncomingMessage): string | null
  open(): void
  /** A frame arrived from the network (counted even if it is later discarded). */
  received(byteLength: number): void
  /** A frame to handle, in order; `raw` owns its ArrayBuffer. */
  frame(raw: Uint8Array): void
  /** A frame over the size limit arrived; the socket fails right after. */
  tooLarge(detail: string): void
  /** Exactly once. */
  closed(end: SocketEnd): void
}

export class UpstreamSocket {
  readonly url: string
  readonly closed: Promise<void>
  readonly #ws: WebSocket
  readonly #events: SocketEvents
  readonly #heartbeat: Heartbeat
  readonly #stall: FrameStallWatch
  readonly #frameTimeoutMs: number
  /** The connection under the WebSocket, known from the upgrade response. */
  #wire: Socket | null = null
  readonly #closeTimeoutMs: number
  readonly #now: () => number
  readonly #queue: Uint8Array[] = []
  #openedAt: number | null = null
  #why: string | null = null
  #error: string | null = null
  #paused = false
  /** Reading held back for the reader's own back-pressure (not the caller's pause). */
  #held = false
  #draining = false
  #closeTimer: ReturnType<typeof setTimeout> | null = null
  #markClosed = (): void => {}

  /** Dials at once. Throws if the URL is unusable (nothing is then left open). */
  constructor(opts: UpstreamSocketOptions, events: SocketEvents) {
    this.url = opts.url
    this.#events = events
    this.#closeTimeoutMs = opts.closeTimeoutMs
    this.#now = opts.now
    this.closed = new Promise<void>((resolve) => {
      this.#markClosed = resolve
    })
    const ws = new WebSocket(opts.url, {
      headers: { 'User-Agent': opts.userAgent },
      maxPayload: opts.maxFrameBytes,
      handshakeTimeout: opts.connectTimeoutMs,
      perMessageDeflate: false,
      followRedirects: false,
      ...(opts.lookup && { lookup: opts.lookup }),
    })
    this.#ws = ws
    this.#frameTimeoutMs = opts.frameTimeoutMs
    this.#stall = new FrameStallWatch(opts.frameTimeoutMs)
    // The heartbeat's tick (suspended while paused, as the stall rule must be) also checks for a
    // frame left unfinished: one timer per socket, not two.
    this.#heartbeat = new Heartbeat(
      opts.pingIntervalMs,
      () => {
        if (this.#stall.check(this.#now())) {
          this.fail(`a frame stayed unfinished for over ${this.#frameTimeoutMs} ms`)
        } else ws.ping()
      },
      () => this.fail(`no pong within ${opts.pingIntervalMs} ms`),
    )
    ws.binaryType = 'nodebuffer'
    ws.on('upgrade', (res) => {
      const refusal = this.#events.upgrade(res)
      if (refusal !== null) return this.fail(refusal)
      this.#wire = res.socket
    })
    ws.on('ping', (data: Buffer) => this.#stall.control(data.byteLength))
    ws.on('open', () => this.#onOpen())
    ws.on('message', (data: RawData) => this.#onMessage(data))
    ws.on('pong', (data: Buffer) => {
      this.#stall.control(data.byteLength)
      this.#heartbeat.alive()
    })
    ws.on('error', (err: Error & { code?: string }) => this.#onError(err))
    ws.on('close', (code: number, reason: Buffer) => this.#onClose(code, reason))
  }

  /** Open, and not being ended by this side. */
  get open(): boolean {
    return this.#openedAt !== null && this.#why === null
  }

  get ending(): boolean {
    return this.#why !== null
  }

  setPaused(paused: boolean): void {
    this.#paused = paused
    if (this.#openedAt === null || this.#why !== null) return
    this.#heartbeat.setPaused(paused)
    this.#stall.reset()
    this.#applyReading()
    if (!paused) this.#drain()
  }

  /**
   * Holds reading back, or lets it go on, for the reader's own back-pressure (a socket thread
   * whose frames wait for the main thread). Unlike a pause it leaves the liveness rules alone:
   * a hold is short (the main thread catching up), and one that outlasts a ping interval or the
   * frame timeout ends the connection, which resumes from its cursor.
   */
  setHeld(held: boolean): void {
    this.#held = held
    if (this.#openedAt === null || this.#why !== null) return
    this.#applyReading()
  }

  #applyReading(): void {
    if (this.#paused || this.#held) this.#ws.pause()
    else this.#ws.resume()
  }

  /** Ends it at once because something went wrong. */
  fail(error: string): void {
    if (this.#why !== null) return
    this.#error = error
    this.#stopReading(error)
    this.#ws.terminate()
  }

  /** Ends it politely (close frame); destroyed if the peer does not answer in time. */
  close(why: string): void {
    if (this.#why !== null) return
    this.#stopReading(why)
    this.#ws.resume() // a paused socket could not read the peer's close frame
    this.#ws.close(1000)
    this.#closeTimer = setTimeout(() => this.#ws.terminate(), this.#closeTimeoutMs)
  }

  #stopReading(why: string): void {
    this.#why = why
    this.#queue.length = 0
    this.#heartbeat.stop()
  }

  #onOpen(): void {
    if (this.#why !== null) return
    this.#openedAt = this.#now()
    this.#heartbeat.start()
    // The same decrypted bytes the WebSocket parser reads, counted just before it reads them.
    this.#wire?.prependListener('data', (chunk: Buffer) => this.#stall.read(chunk.byteLength))
    if (this.#paused) this.#heartbeat.setPaused(true)
    if (this.#paused || this.#held) this.#ws.pause()
    this.#events.open()
  }

  #onMessage(data: RawData): void {
    if (this.#why !== null) return
    const raw = copyFrame(data)
    this.#stall.frame()
    this.#heartbeat.alive()
    this.#events.received(raw.byteLength)
    if (this.#paused || this.#queue.length > 0) this.#queue.push(raw)
    else this.#events.frame(raw)
  }

  #drain(): void {
    if (this.#draining) return
    this.#draining = true
    try {
      while (!this.#paused && this.#why === null) {
        const raw = this.#queue.shift()
        if (raw === undefined) break
        this.#events.frame(raw)
      }
    } finally {
      this.#draining = false
    }
  }

  #onError(err: Error & { code?: string }): void {
    if (this.#why !== null) return
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#events.tooLarge(err.message)
    this.fail(err.message)
  }

  #onClose(code: number, reason: Buffer): void {
    if (this.#closeTimer !== null) clearTimeout(this.#closeTimer)
    this.#heartbeat.stop()
    this.#queue.length = 0
    this.#markClosed()
    this.#events.closed({
      code,
      reason: reason.toString('utf8').slice(0, 200),
      why: this.#why,
      error: this.#error,
    })
  }
}

/** The frame's bytes in an ArrayBuffer of their own (a ws Buffer may view a shared pool). */
function copyFrame(data: RawData): Uint8Array {
  const parts = Array.isArray(data) ? data : [data]
  let length = 0
  for (const p of parts) length += p.byteLength
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    const bytes = p instanceof ArrayBuffer ? new Uint8Array(p) : p
    out.set(bytes, at)
    at += bytes.byteLength
  }
  return out
}
