// The relay's link to one host: its upstream connection (at most one at a time), its flow
// control, and its cursor. The cursor is derived here and nowhere else:
// - while an earlier (stopped) connection still has events in flight, the cursor it reaches as
//   they complete (so a graceful stop stores everything that finished, and a new connection
//   never carries the cursor past an event that is not written yet);
// - otherwise the running connection's cursor (it only passes completed events);
// - otherwise the stored one.
// A new connection starts after the last event the previous one delivered (not merely
// completed): events still in flight from a stopped connection finish through ingest and must
// not be received twice.
// Deliberately not here: why a host is connected or not (hosts.ts decides), what its events
// mean (the handlers given), and persistence (the checkpoint stores `cursor`).
import { HostConnection } from '../upstream/host-connection.ts'
import type { SocketOpener } from '../upstream/socket-opener.ts'
import type { HostTarget, UpstreamHandlers, UpstreamTimings } from '../upstream/types.ts'
import { FlowControl } from './flow-control.ts'

export interface ConnectOptions {
  readonly userAgent: string
  readonly handlers: UpstreamHandlers
  /** Liveness and dial timings (tests of silent hosts shorten them). */
  readonly timings?: UpstreamTimings
  /** Where the socket runs, and how the host's name is resolved on each dial (the guard). */
  readonly sockets?: SocketOpener
  /** Upstream seqs above the start cursor already in the log (start-up recovery). */
  readonly skipSeqs?: ReadonlySet<number>
  /** Start at the host's live head, forgetting the cursor (a reset). */
  readonly fromLiveHead?: boolean
}

const maxCursor = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b)

export class HostLink {
  readonly target: HostTarget
  readonly flow: FlowControl
  #connection: HostConnection | null = null
  /**
   * Earlier connections, oldest first, whose delivered events are not all complete yet. Their
   * seq ranges are disjoint and below the current connection's (each one starts after the last
   * seq of the one before), so a completion belongs to the first one whose last seq covers it.
   * Bounded by the reconnects made while events were in flight (a log flush completes them).
   */
  #draining: HostConnection[] = []
  #cursor: number | null
  /**
   * Start-up recovery's skip set, given to every connection until the host's resume point has
   * passed its highest seq (a first dial that fails, or is stopped before any event, must not
   * lose it), or the cursor is reset to the live head.
   */
  #restartSkips: ReadonlySet<number> | undefined
  #restartSkipsMax = 0
  #resumeAfter: number | null = null
  readonly #onError: (err: unknown) => void

  constructor(
    target: HostTarget,
    storedCursor: number | null,
    hostConcurrency: number,
    onError: (err: unknown) => void,
  ) {
    this.target = target
    this.#cursor = storedCursor
    this.#onError = onError
    this.flow = new FlowControl(hostConcurrency, (paused) => {
      if (paused) this.#connection?.pause()
      else this.#connection?.resume()
    })
  }

  get connection(): HostConnection | null {
    return this.#connection
  }

  /**
   * The host's cursor: the last upstream seq up to which every event is complete. While an
   * earlier connection still has events in flight, its cursor (the current connection's starts
   * above events that are not complete yet).
   */
  get cursor(): number | null {
    const pending = this.#draining[0]
    if (pending) return pending.cursor ?? this.#cursor
    return this.#connection?.cursor ?? this.#cursor
  }

  /** Whether a connection is running (connecting, connected, or waiting to reconnect). */
  get running(): boolean {
    const state = this.#connection?.state
    return state !== undefined && state !== 'stopped' && state !== 'refused'
  }

  /**
   * Starts a connection, unless one is running (a repeated crawl request must not restart it and
   * lose the events it has in flight); `fromLiveHead` replaces a running one.
   */
  connect(opts: ConnectOptions): void {
    if (this.running && !opts.fromLiveHead) return
    const old = this.#connection
    this.#connection = null
    if (old) {
      this.#retire(old)
      old.stop().catch(this.#onError)
    }
    if (opts.fromLiveHead) this.forgetCursor()
    const startCursor = opts.fromLiveHead ? null : this.#resumePoint()
    if (startCursor !== null && startCursor >= this.#restartSkipsMax) this.#restartSkips = undefined
    const connection = new HostConnection({
      host: this.target,
      startCursor,
      skipSeqs: opts.skipSeqs ?? this.#restartSkips,
      userAgent: opts.userAgent,
      handlers: opts.handlers,
      ...opts.timings,
      ...(opts.sockets && { sockets: opts.sockets }),
    })
    this.#connection = connection
    if (this.flow.paused) connection.pause()
    connection.start()
  }

  /** Stops the connection, keeping the cursor it reached; resolves once its socket is closed. */
  async disconnect(): Promise<void> {
    const c = this.#connection
    this.#connection = null
    this.flow.connectionEnded()
    if (!c) return
    // Its events in flight still complete and move the cursor.
    this.#retire(c)
    await c.stop()
  }

  /**
   * Start-up recovery found this host's events in the log though it had no stored cursor (the
   * relay stopped before its first checkpoint): the first connection resumes from `cursor`
   * instead of the live head. Ignored once a cursor or a connection exists.
   */
  recoverCursor(cursor: number): void {
    if (this.#cursor === null && this.#connection === null) this.#cursor = cursor
  }

  /**
   * Start-up recovery found these upstream seqs of the host already in the log (above its stored
   * cursor): connections after the restart skip them, whichever dials first (the restart's
   * spread, the offline-retry clock, a crawl request) and however many it takes, so none is
   * emitted twice.
   */
  recoverSkips(skips: ReadonlySet<number> | undefined): void {
    if (this.#connection !== null || skips === undefined || skips.size === 0) return
    this.#restartSkips = skips
    let max = 0
    for (const seq of skips) if (seq > max) max = seq
    this.#restartSkipsMax = max
  }

  /** Forgets the cursor: the next connection starts at the host's live head. */
  forgetCursor(): void {
    this.#restartSkips = undefined // seqs from before the reset mean nothing after it
    this.#cursor = null
    this.#resumeAfter = null
    this.#draining = []
  }

  /** A delivered event is complete (written to the log or dropped). */
  complete(seq: number): void {
    for (const d of this.#draining) {
      if (d.lastSeq !== null && seq <= d.lastSeq) {
        d.complete(seq)
        this.#prune()
        return
      }
    }
    const c = this.#connection
    if (c) {
      c.complete(seq)
      this.flow.window(c.window)
    }
  }

  /** Where the next connection starts: after the last seq any earlier connection received. */
  #resumePoint(): number | null {
    let point = maxCursor(this.#resumeAfter, this.#cursor)
    for (const d of this.#draining) point = maxCursor(point, d.lastSeq)
    return point
  }

  #retire(c: HostConnection): void {
    this.#draining.push(c)
    this.#prune()
  }

  /** Earlier connections whose events are all complete give their cursor and leave. */
  #prune(): void {
    while (this.#draining.length > 0 && this.#draining[0]!.inFlight === 0) {
      const c = this.#draining.shift()!
      this.#cursor = c.cursor ?? this.#cursor
      this.#resumeAfter = maxCursor(this.#resumeAfter, c.lastSeq)
    }
  }
}
