// The relay's link to one host: its upstream connection (at most one at a time), its flow
// control, and its cursor. The cursor is derived here and nowhere else:
// - while a connection runs, the connection's cursor (it only passes completed events);
// - after it stopped, the cursor that connection still reaches as its events in flight
//   complete (so a graceful stop stores everything that finished);
// - otherwise the stored one.
// A new connection starts after the last event the previous one delivered (not merely
// completed): events still in flight from a stopped connection finish through ingest and must
// not be received twice.
// Deliberately not here: why a host is connected or not (hosts.ts decides), what its events
// mean (the handlers given), and persistence (the checkpoint stores `cursor`).
import { HostConnection } from '../upstream/host-connection.ts'
import type { HostTarget, UpstreamHandlers } from '../upstream/types.ts'
import { FlowControl } from './flow-control.ts'

export interface ConnectOptions {
  readonly userAgent: string
  readonly handlers: UpstreamHandlers
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
  /** The last connection stopped, still completing its events in flight (it advances `cursor`). */
  #stopped: HostConnection | null = null
  #cursor: number | null
  #resumeAfter: number | null = null
  readonly #onError: (err: unknown) => void
  /** FutureCursor answers since the host last sent an event: when the first came, and how many. */
  futureCursor: { readonly first: number; count: number } | null = null

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

  /** The host's cursor: the last upstream seq up to which every event is complete. */
  get cursor(): number | null {
    return (this.#connection ?? this.#stopped)?.cursor ?? this.#cursor
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
    if (opts.fromLiveHead) this.forgetCursor()
    else if (this.#stopped) this.#remember(this.#stopped)
    this.#stopped = null
    const start = opts.fromLiveHead
      ? null
      : (old?.lastSeq ?? maxCursor(this.#resumeAfter, this.#cursor))
    if (old) {
      if (!opts.fromLiveHead) this.#remember(old)
      old.stop().catch(this.#onError)
    }
    this.#resumeAfter = null
    const connection = new HostConnection({
      host: this.target,
      startCursor: start,
      skipSeqs: opts.skipSeqs,
      userAgent: opts.userAgent,
      handlers: opts.handlers,
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
    // Kept until the next connection: its events in flight still complete and move the cursor.
    this.#stopped = c
    await c.stop()
  }

  /** Forgets the cursor: the next connection starts at the host's live head. */
  forgetCursor(): void {
    this.#cursor = null
    this.#resumeAfter = null
    this.#stopped = null
  }

  /** A delivered event is complete (written to the log or dropped). */
  complete(seq: number): void {
    const c = this.#connection
    if (c) {
      c.complete(seq)
      this.flow.window(c.window)
    } else {
      this.#stopped?.complete(seq)
    }
  }

  #remember(c: HostConnection): void {
    this.#cursor = c.cursor ?? this.#cursor
    this.#resumeAfter = maxCursor(this.#resumeAfter, c.lastSeq)
  }
}
