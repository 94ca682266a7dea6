// One upstream PDS host's `subscribeRepos` stream: dialling (User-Agent, frame-size cap,
// handshake timeout), refusing relays (a `Server` header containing `atproto-relay`, docs/design.md
// §4 item 5), liveness pings, reconnecting with exponential backoff and full jitter from the
// last seq that arrived (a connection that delivered events, or lasted a minute, starts the
// backoff again), pausing (TCP backpressure), per-host seq order, and the cursor that may
// be persisted (it only passes events the caller completed, in seq order). The socket itself is
// upstream-socket.ts, run where the `SocketOpener` runs it (socket-opener.ts: on this thread, or
// on a socket thread); this file decides what its frames mean and when to dial again.
// Every upstream event gets one outcome: `onEvent` (the caller later calls `complete(seq)`) or
// `onDrop` (complete at once). Frames read but not yet handled when a socket ends are asked for
// again on reconnect (they never counted as arrived). While paused, a reconnect that comes due
// waits for resume.
// Deliberately not here: SQL, verification, host policy (states idle/offline/throttled, what to
// do after `FutureCursor`: the caller decides, e.g. by stopping), rate limits, and when to pause:
// the caller's flow control decides, from `window` (hosts/flow-control.ts).
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { MAX_FRAME_BYTES } from '../protocol/limits.ts'
import { Backoff } from './backoff.ts'
import type { FrameOutcome } from './frame-outcome.ts'
import { RecoveredSeqs } from './recovered-seqs.ts'
import { SeqWindow } from './seq-window.ts'
import {
  LocalSockets,
  type SocketEnd,
  type SocketOpener,
  type UpstreamLine,
} from './socket-opener.ts'
import { subscribeReposUrl } from './subscribe-url.ts'
import type {
  ConnectionState,
  HostConnectionOptions,
  HostConnectionStats,
  HostTarget,
  UpstreamHandlers,
} from './types.ts'

export type { HostConnectionOptions, HostConnectionStats } from './types.ts'

export class HostConnection {
  readonly host: HostTarget
  readonly #handlers: UpstreamHandlers
  readonly #userAgent: string
  readonly #maxFrameBytes: number
  readonly #connectTimeoutMs: number
  readonly #pingIntervalMs: number
  readonly #frameTimeoutMs: number
  readonly #sockets: SocketOpener
  readonly #healthyAfterMs: number
  readonly #closeTimeoutMs: number
  readonly #now: () => number
  readonly #backoff: Backoff
  readonly #window: SeqWindow
  readonly #recovered: RecoveredSeqs
  #state: ConnectionState = 'disconnected'
  #socket: UpstreamLine | null = null
  /** When the current socket opened, by this connection's clock. */
  #openedAt: number | null = null
  #running = false
  #refused = false
  #dialled = false
  /** A dial came due while paused; it happens on resume. */
  #dialDue = false
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null
  #callerPaused = false
  #framesReceived = 0
  #bytesReceived = 0
  #reconnects = 0
  #consecutiveFailures = 0
  #skipped = 0
  #lastFrameAt: number | null = null
  #lastError: string | null = null
  /** The current socket delivered at least one new event (the host is working, if flaky). */
  #progressed = false

  constructor(opts: HostConnectionOptions) {
    this.host = opts.host
    this.#handlers = opts.handlers
    this.#userAgent = opts.userAgent
    this.#maxFrameBytes = opts.maxFrameBytes ?? MAX_FRAME_BYTES
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000
    this.#pingIntervalMs = opts.pingIntervalMs ?? 30_000
    this.#frameTimeoutMs = opts.frameTimeoutMs ?? 60_000
    this.#healthyAfterMs = opts.healthyAfterMs ?? 60_000
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 5_000
    this.#now = opts.now ?? Date.now
    this.#sockets = opts.sockets ?? new LocalSockets(undefined, this.#now)
    const backoff = opts.backoff ?? { initialMs: 1_000, maxMs: 300_000 }
    this.#backoff = new Backoff(
      opts.random === undefined ? backoff : { ...backoff, random: opts.random },
    )
    this.#window = new SeqWindow(opts.startCursor)
    this.#recovered = new RecoveredSeqs(opts.skipSeqs ?? new Set(), opts.startCursor)
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

  /**
   * The seq window: events delivered and not complete, and the completed ones behind the oldest
   * incomplete one. What the caller bounds by pausing.
   */
  get window(): number {
    return this.#window.size
  }

  get connected(): boolean {
    return this.#socket?.open ?? false
  }

  get paused(): boolean {
    return this.#callerPaused
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
    const socket = this.#socket
    if (socket === null) {
      if (this.#state !== 'stopped') this.#setState('stopped', 'stopped')
      return
    }
    socket.close('stopped')
    await socket.closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  /** Stops reading the socket; frames it had already read are handled, in order, on resume. */
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
    this.#window.complete(seq)
  }

  #setState(state: ConnectionState, detail: string): void {
    this.#state = state
    this.#handlers.onStateChange(this.host, state, detail)
  }

  #dial(): void {
    this.#reconnectTimer = null
    if (!this.#running || this.#socket !== null) return
    if (this.paused) {
      this.#dialDue = true
      return
    }
    this.#dialDue = false
    if (this.#dialled) this.#reconnects++
    this.#dialled = true
    const url = subscribeReposUrl(this.host, this.#window.last)
    this.#progressed = false
    this.#openedAt = null
    let socket: UpstreamLine
    try {
      socket = this.#sockets.open(
        {
          url,
          hostname: this.host.hostname,
          userAgent: this.#userAgent,
          maxFrameBytes: this.#maxFrameBytes,
          connectTimeoutMs: this.#connectTimeoutMs,
          pingIntervalMs: this.#pingIntervalMs,
          frameTimeoutMs: this.#frameTimeoutMs,
          closeTimeoutMs: this.#closeTimeoutMs,
        },
        {
          // docs/design.md §4 item 5: never subscribe to a relay (loops).
          refused: () => {
            this.#refused = true
          },
          open: () => {
            this.#openedAt = this.#now()
            this.#setState('connected', url)
          },
          received: (n) => {
            this.#framesReceived++
            this.#bytesReceived += n
            this.#lastFrameAt = this.#now()
          },
          frame: (raw, outcome) => this.#handle(socket, raw, outcome),
          tooLarge: (detail) => {
            this.#handlers.onDrop(this.host, 'frame-too-large', undefined, detail)
            socket.fail(`frame-too-large after seq ${this.#window.last ?? 'none'}: ${detail}`)
          },
          closed: (end) => this.#onClosed(socket, end),
        },
      )
    } catch (err) {
      this.#lastError = `cannot dial ${url}: ${err instanceof Error ? err.message : String(err)}`
      this.#consecutiveFailures++
      this.#setState('disconnected', this.#lastError)
      this.#scheduleReconnect()
      return
    }
    this.#socket = socket
    this.#setState('connecting', url)
  }

  #onClosed(socket: UpstreamLine, end: SocketEnd): void {
    if (this.#socket === socket) this.#socket = null
    const openedAt = this.#openedAt
    this.#openedAt = null
    if (end.error !== null) this.#lastError = end.error
    // A connection that stayed up long enough, or that delivered new events, resets the backoff:
    // a host dropping its connection every few seconds while it does send events would
    // otherwise wait longer and longer (up to 5 min) between connections and fall far behind.
    const lasted = openedAt !== null && this.#now() - openedAt >= this.#healthyAfterMs
    if (lasted || this.#progressed) {
      this.#backoff.reset()
      this.#consecutiveFailures = 0
    } else if (this.#running) {
      this.#consecutiveFailures++
    }
    const detail =
      end.why ?? `closed by host (code ${end.code}${end.reason ? `: ${end.reason}` : ''})`
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
    // Stopped meanwhile (e.g. by a state handler): nothing to dial, and no timer to outlive it.
    if (!this.#running || this.#reconnectTimer !== null) return
    this.#reconnectTimer = setTimeout(() => this.#dial(), this.#backoff.next())
  }

  #applyPause(): void {
    const paused = this.paused
    this.#socket?.setPaused(paused)
    if (!paused && this.#dialDue) this.#dial()
  }

  #handle(socket: UpstreamLine, raw: Uint8Array, out: FrameOutcome): void {
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
        socket.close(error) // the host closes too; the stream is over either way
        return
      }
      case 'drop': {
        const last = this.#window.last
        this.#drop(out.reason, out.seq, out.detail)
        if (out.fatal) socket.fail(`${out.reason} after seq ${last ?? 'none'}: ${out.detail}`)
        return
      }
    }
  }

  #onRepoEvent(msg: UpstreamEvent, raw: Uint8Array): void {
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
    if (this.#recovered.take(msg.seq)) {
      this.#window.pass(msg.seq)
      this.#skipped++
      return
    }
    this.#window.deliver(msg.seq)
    this.#progressed = true
    this.#handlers.onEvent(this.host, msg, raw)
  }

  /** A dropped event: complete at once when its seq moves the window forward. */
  #drop(reason: DropReason, seq: number | undefined, detail: string): void {
    const last = this.#window.last
    if (seq !== undefined && (last === null || seq > last)) this.#window.pass(seq)
    this.#handlers.onDrop(this.host, reason, seq, detail)
  }
}
