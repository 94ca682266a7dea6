// One upstream PDS host's `subscribeRepos` stream: dialling (User-Agent, frame-size cap,
// handshake timeout), refusing relays (a `Server` header containing `atproto-relay`, DESIGN.md
// §4 item 5), liveness pings, reconnecting with exponential backoff and full jitter from the
// last seq that arrived, pausing (TCP backpressure), per-host seq order, and the cursor that may
// be persisted (it only passes events the caller completed, in seq order).
// Every upstream event gets one outcome: `onEvent` (the caller later calls `complete(seq)`) or
// `onDrop` (complete at once). Frames the socket had already read when it was paused wait in a
// small queue (at most what one socket read held) and are handled in order on resume; they are
// discarded if the socket ends first, and asked for again on reconnect (they never counted as
// arrived). The seq window is bounded by `maxInFlight`: when full, the connection pauses itself
// until completions drain it to half.
// Deliberately not here: SQL, verification, host policy (states idle/offline/throttled, what to
// do after `FutureCursor`: the caller decides, e.g. by stopping), rate limits.
import { type RawData, WebSocket } from 'ws'
import type { DropReason } from '../protocol/drop-reasons.ts'
import { MAX_FRAME_BYTES } from '../protocol/limits.ts'
import type { RepoEvent } from '../protocol/messages.ts'
import { Backoff } from './backoff.ts'
import { readFrame } from './frame-outcome.ts'
import { Heartbeat } from './heartbeat.ts'
import { SeqWindow } from './seq-window.ts'
import { subscribeReposUrl } from './subscribe-url.ts'
import type { ConnectionState, HostTarget, UpstreamHandlers } from './types.ts'

export interface HostConnectionOptions {
  readonly host: HostTarget
  /** Persisted cursor (null: start live). */
  readonly startCursor: number | null
  /** Seqs above `startCursor` accepted before a crash: completed silently, never delivered. */
  readonly skipSeqs?: ReadonlySet<number>
  /** Sent on every request. */
  readonly userAgent: string
  readonly handlers: UpstreamHandlers
  /** Larger frames end the connection (drop reason `frame-too-large`). Default MAX_FRAME_BYTES. */
  readonly maxFrameBytes?: number
  /** Reconnect delays: exponential with full jitter. Default 1 s .. 5 min. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number }
  /** Opening handshake limit. Default 10 s. */
  readonly connectTimeoutMs?: number
  /** Ping interval; a ping unanswered by the next one ends the connection. Default 30 s. */
  readonly pingIntervalMs?: number
  /** A connection open at least this long resets the backoff when it ends. Default 60 s. */
  readonly healthyAfterMs?: number
  /** Seq window bound (in flight plus completed behind them). Default 20,000. */
  readonly maxInFlight?: number
  /** How long a polite close may take before the socket is destroyed. Default 5 s. */
  readonly closeTimeoutMs?: number
  readonly now?: () => number
  /** Jitter source, uniform in [0, 1). */
  readonly random?: () => number
}

export interface HostConnectionStats {
  readonly framesReceived: number
  readonly bytesReceived: number
  /** Dials after the first. */
  readonly reconnects: number
  /** Connections in a row that failed or ended before they were healthy. */
  readonly consecutiveFailures: number
  readonly skippedAfterRecovery: number
  readonly lastFrameAt: number | null
  readonly lastError: string | null
}

interface Session {
  readonly ws: WebSocket
  readonly url: string
  readonly heartbeat: Heartbeat
  openedAt: number | null
  /** Why the connection decided to end this socket; later frames are ignored. */
  ending: string | null
  /** Frames read while paused, oldest first. */
  readonly queue: Uint8Array[]
  closeTimer: ReturnType<typeof setTimeout> | null
  readonly closed: Promise<void>
  readonly markClosed: () => void
}

const RELAY_SERVER = /atproto-relay/i

export class HostConnection {
  readonly host: HostTarget
  readonly #handlers: UpstreamHandlers
  readonly #userAgent: string
  readonly #maxFrameBytes: number
  readonly #connectTimeoutMs: number
  readonly #pingIntervalMs: number
  readonly #healthyAfterMs: number
  readonly #maxInFlight: number
  readonly #closeTimeoutMs: number
  readonly #now: () => number
  readonly #backoff: Backoff
  readonly #window: SeqWindow
  readonly #skip: readonly number[]
  #skipAt = 0
  #state: ConnectionState = 'disconnected'
  #session: Session | null = null
  #running = false
  #refused = false
  #dialled = false
  /** A dial came due while paused; it happens on resume. */
  #dialDue = false
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null
  #callerPaused = false
  #windowFull = false
  #draining = false
  #framesReceived = 0
  #bytesReceived = 0
  #reconnects = 0
  #consecutiveFailures = 0
  #skipped = 0
  #lastFrameAt: number | null = null
  #lastError: string | null = null

  constructor(opts: HostConnectionOptions) {
    this.host = opts.host
    this.#handlers = opts.handlers
    this.#userAgent = opts.userAgent
    this.#maxFrameBytes = opts.maxFrameBytes ?? MAX_FRAME_BYTES
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000
    this.#pingIntervalMs = opts.pingIntervalMs ?? 30_000
    this.#healthyAfterMs = opts.healthyAfterMs ?? 60_000
    this.#maxInFlight = Math.max(2, opts.maxInFlight ?? 20_000)
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 5_000
    this.#now = opts.now ?? Date.now
    const backoff = opts.backoff ?? { initialMs: 1_000, maxMs: 300_000 }
    this.#backoff = new Backoff(
      opts.random === undefined ? backoff : { ...backoff, random: opts.random },
    )
    this.#window = new SeqWindow(opts.startCursor)
    const start = opts.startCursor ?? -1
    this.#skip = [...(opts.skipSeqs ?? [])].filter((s) => s > start).sort((a, b) => a - b)
  }

  get state(): ConnectionState {
    return this.#state
  }

  /** Highest seq such that every delivered event at or below it is complete (persist this). */
  get cursor(): number | null {
    return this.#window.cursor
  }

  /** Highest seq that arrived (delivered or dropped); reconnects resume from here. */
  get lastSeq(): number | null {
    return this.#window.last
  }

  /** Delivered, not yet completed. */
  get inFlight(): number {
    return this.#window.inFlight
  }

  get connected(): boolean {
    const s = this.#session
    return s !== null && s.openedAt !== null && s.ending === null
  }

  get paused(): boolean {
    return this.#callerPaused || this.#windowFull
  }

  get stats(): HostConnectionStats {
    return {
      framesReceived: this.#framesReceived,
      bytesReceived: this.#bytesReceived,
      reconnects: this.#reconnects,
      consecutiveFailures: this.#consecutiveFailures,
      skippedAfterRecovery: this.#skipped,
      lastFrameAt: this.#lastFrameAt,
      lastError: this.#lastError,
    }
  }

  /** Connects (again, after `stop()` or a refusal). No-op while running. */
  start(): void {
    if (this.#running) return
    this.#running = true
    this.#refused = false
    this.#dial()
  }

  /** Closes the socket and cancels reconnects; resolves once the socket is closed. */
  async stop(): Promise<void> {
    this.#running = false
    this.#dialDue = false
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = null
    const session = this.#session
    if (session === null) {
      if (this.#state !== 'stopped') this.#setState('stopped', 'stopped')
      return
    }
    this.#end(session, 'stopped', 'close')
    await session.closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  /** Stops reading the socket; frames already read are handled, in order, on `resume()`. */
  pause(): void {
    this.#callerPaused = true
    this.#applyPause()
  }

  resume(): void {
    this.#callerPaused = false
    this.#applyPause()
  }

  /** The caller finished with a delivered event (written to the log or dropped). */
  complete(seq: number): void {
    if (this.#window.complete(seq)) this.#checkWindow()
  }

  #setState(state: ConnectionState, detail: string): void {
    this.#state = state
    this.#handlers.onStateChange(this.host, state, detail)
  }

  #dial(): void {
    this.#reconnectTimer = null
    if (!this.#running || this.#session !== null) return
    if (this.paused) {
      this.#dialDue = true
      return
    }
    this.#dialDue = false
    if (this.#dialled) this.#reconnects++
    this.#dialled = true
    const url = subscribeReposUrl(this.host, this.#window.last)
    let ws: WebSocket
    try {
      ws = new WebSocket(url, {
        headers: { 'User-Agent': this.#userAgent },
        maxPayload: this.#maxFrameBytes,
        handshakeTimeout: this.#connectTimeoutMs,
        perMessageDeflate: false,
        followRedirects: false,
      })
    } catch (err) {
      this.#lastError = `cannot dial ${url}: ${err instanceof Error ? err.message : String(err)}`
      this.#consecutiveFailures++
      this.#setState('disconnected', this.#lastError)
      this.#scheduleReconnect()
      return
    }
    let markClosed = (): void => {}
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve
    })
    const session: Session = {
      ws,
      url,
      heartbeat: new Heartbeat(
        this.#pingIntervalMs,
        () => ws.ping(),
        () => this.#fail(session, `no pong within ${this.#pingIntervalMs} ms`),
      ),
      openedAt: null,
      ending: null,
      queue: [],
      closeTimer: null,
      closed,
      markClosed,
    }
    this.#session = session
    ws.binaryType = 'nodebuffer'
    ws.on('upgrade', (res) => {
      const server = res.headers.server
      if (typeof server === 'string' && RELAY_SERVER.test(server)) {
        this.#refused = true
        this.#fail(session, `refused: the host is a relay (Server: ${server.slice(0, 100)})`)
      }
    })
    ws.on('open', () => this.#onOpen(session))
    ws.on('message', (data: RawData) => this.#onMessage(session, data))
    ws.on('pong', () => session.heartbeat.alive())
    ws.on('error', (err: Error & { code?: string }) => this.#onError(session, err))
    ws.on('close', (code: number, reason: Buffer) => this.#onClose(session, code, reason))
    this.#setState('connecting', url)
  }

  #onOpen(s: Session): void {
    if (s.ending !== null) return
    s.openedAt = this.#now()
    s.heartbeat.start()
    if (this.paused) {
      s.ws.pause()
      s.heartbeat.setPaused(true)
    }
    this.#setState('connected', s.url)
  }

  #onMessage(s: Session, data: RawData): void {
    if (s.ending !== null) return
    const raw = copyFrame(data)
    this.#framesReceived++
    this.#bytesReceived += raw.byteLength
    this.#lastFrameAt = this.#now()
    s.heartbeat.alive()
    if (this.paused || s.queue.length > 0) s.queue.push(raw)
    else this.#handle(s, raw)
  }

  #onError(s: Session, err: Error & { code?: string }): void {
    if (s.ending !== null) return
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      const detail = `frame larger than ${this.#maxFrameBytes} bytes`
      this.#handlers.onDrop(this.host, 'frame-too-large', undefined, detail)
      this.#fail(s, `frame-too-large after seq ${this.#window.last ?? 'none'}: ${detail}`)
      return
    }
    this.#fail(s, err.message)
  }

  #onClose(s: Session, code: number, reason: Buffer): void {
    if (s.closeTimer !== null) clearTimeout(s.closeTimer)
    s.heartbeat.stop()
    s.queue.length = 0
    if (this.#session === s) this.#session = null
    const healthy = s.openedAt !== null && this.#now() - s.openedAt >= this.#healthyAfterMs
    if (healthy) {
      this.#backoff.reset()
      this.#consecutiveFailures = 0
    } else if (this.#running) {
      this.#consecutiveFailures++
    }
    const text = reason.length > 0 ? `: ${reason.toString('utf8').slice(0, 200)}` : ''
    const detail = s.ending ?? `closed by host (code ${code}${text})`
    s.markClosed()
    if (!this.#running) {
      this.#setState('stopped', 'stopped')
    } else if (this.#refused) {
      this.#running = false
      this.#setState('refused', detail)
    } else {
      this.#setState('disconnected', detail)
      this.#scheduleReconnect()
    }
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer !== null) return
    this.#reconnectTimer = setTimeout(() => this.#dial(), this.#backoff.next())
  }

  /** Ends a socket because something went wrong: recorded in `lastError`, destroyed at once. */
  #fail(s: Session, error: string): void {
    if (s.ending !== null) return
    this.#lastError = error
    this.#end(s, error, 'terminate')
  }

  #end(s: Session, why: string, how: 'close' | 'terminate'): void {
    if (s.ending !== null) {
      if (how === 'terminate') s.ws.terminate()
      return
    }
    s.ending = why
    s.queue.length = 0
    s.heartbeat.stop()
    if (how === 'terminate') {
      s.ws.terminate()
      return
    }
    s.ws.resume() // a paused socket could not read the peer's close frame
    s.ws.close(1000)
    s.closeTimer = setTimeout(() => s.ws.terminate(), this.#closeTimeoutMs)
  }

  #applyPause(): void {
    const paused = this.paused
    const s = this.#session
    if (s !== null && s.ending === null && s.openedAt !== null) {
      s.heartbeat.setPaused(paused)
      if (paused) s.ws.pause()
      else {
        s.ws.resume()
        this.#drain(s)
      }
    }
    if (!paused && this.#dialDue) this.#dial()
  }

  #drain(s: Session): void {
    if (this.#draining) return
    this.#draining = true
    try {
      while (!this.paused && s.ending === null) {
        const raw = s.queue.shift()
        if (raw === undefined) break
        this.#handle(s, raw)
      }
    } finally {
      this.#draining = false
    }
  }

  #checkWindow(): void {
    const size = this.#window.size
    if (!this.#windowFull && size >= this.#maxInFlight) {
      this.#windowFull = true
      this.#applyPause()
    } else if (this.#windowFull && size <= this.#maxInFlight >> 1) {
      this.#windowFull = false
      this.#applyPause()
    }
  }

  #handle(s: Session, raw: Uint8Array): void {
    const out = readFrame(raw)
    switch (out.kind) {
      case 'event':
        this.#onRepoEvent(out.msg, raw)
        return
      case 'info':
        this.#handlers.onInfo(this.host, out.msg)
        return
      case 'error': {
        const error = `upstream error ${out.error}${out.message === undefined ? '' : `: ${out.message}`}`
        this.#lastError = error
        this.#handlers.onUpstreamError(this.host, out.error, out.message)
        this.#end(s, error, 'close')
        return
      }
      case 'drop': {
        const last = this.#window.last
        this.#drop(out.reason, out.seq, out.detail)
        if (out.fatal) this.#fail(s, `${out.reason} after seq ${last ?? 'none'}: ${out.detail}`)
        return
      }
    }
  }

  #onRepoEvent(msg: RepoEvent, raw: Uint8Array): void {
    const last = this.#window.last
    if (last !== null && msg.seq <= last) {
      this.#handlers.onDrop(
        this.host,
        'seq-not-increasing',
        msg.seq,
        `seq ${msg.seq} after ${last}`,
      )
      return
    }
    if (this.#isSkipped(msg.seq)) {
      this.#window.pass(msg.seq)
      this.#skipped++
      this.#checkWindow()
      return
    }
    this.#window.deliver(msg.seq)
    this.#checkWindow()
    this.#handlers.onEvent(this.host, msg, raw)
  }

  /** A dropped event: complete at once when its seq moves the window forward. */
  #drop(reason: DropReason, seq: number | undefined, detail: string): void {
    const last = this.#window.last
    if (seq !== undefined && (last === null || seq > last)) {
      this.#window.pass(seq)
      this.#checkWindow()
    }
    this.#handlers.onDrop(this.host, reason, seq, detail)
  }

  #isSkipped(seq: number): boolean {
    const skip = this.#skip
    while (this.#skipAt < skip.length && (skip[this.#skipAt] ?? 0) < seq) this.#skipAt++
    if (skip[this.#skipAt] !== seq) return false
    this.#skipAt++
    return true
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
