// Wiring between the host registry, the upstream connections and ingest: one HostConnection per
// subscribed host, its events handed to ingest, its own drops counted, its state logged, and
// hosts resubscribed at start spread over a few seconds rather than all at once.
// Connection states, events and FutureCursor answers are reported to the host status machine.
// Upstream FutureCursor (docs/design.md §4 item 13: the PDS reset its sequence): the host is retried
// with the same cursor (the connection's backoff); only after repeated answers over at least an
// hour is its cursor reset to the live head, logged and counted.
import type { HostRow } from './db/hosts.ts'
import type { DropCounter } from './ingest/drop-counter.ts'
import type { Ingest } from './ingest/ingest.ts'
import type { Logger } from './observability/logger.ts'
import { HostConnection } from './upstream/host-connection.ts'
import type { HostTarget, UpstreamHandlers } from './upstream/types.ts'

export interface UpstreamSetDeps {
  readonly ingest: Ingest
  readonly drops: DropCounter
  readonly userAgent: string
  readonly logger: Logger
  readonly onInfo?: (hostId: number, name: string) => void
  /** Counts events received per host and type (metrics). */
  readonly eventTypes?: { add(hostId: number, type: string): void }
  /** A host's cursor was reset to the live head: what was kept for its old sequence is void. */
  readonly onCursorReset?: (hostId: number) => void
  /** Told what happens on each host's connection (the host status machine). */
  readonly status?: {
    connected(hostId: number): void
    connectFailed(hostId: number, error: string): void
    event(hostId: number): void
    futureCursor(hostId: number): void
  }
  readonly now?: () => number
  /**
   * Records one event of a host against its rate limits; returns 0, or how long to pause the
   * host's socket (the event itself is processed: hosts are slowed, never dropped).
   */
  readonly rateLimit?: (hostId: number) => number
  /** FutureCursor answers needed, spread over at least `afterMs`, before a reset. */
  readonly futureCursorResets?: { readonly count: number; readonly afterMs: number }
}

interface FutureCursorTrack {
  first: number
  count: number
}

const KNOWN_INFO: ReadonlySet<string> = new Set(['OutdatedCursor'])

const maxCursor = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b)

export class UpstreamSet {
  readonly #d: UpstreamSetDeps
  readonly #connections = new Map<number, HostConnection>()
  readonly #infoCounts = new Map<string, number>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #futureCursor = new Map<number, FutureCursorTrack>()
  /** Why each paused host is paused ('ingest': too many in flight; 'rate': over its limits). */
  readonly #pausedFor = new Map<number, Set<string>>()
  readonly #rateTimers = new Map<number, NodeJS.Timeout>()
  /** The last seq delivered by each host's stopped connection (resumed from on resubscribe). */
  readonly #stoppedAt = new Map<number, number>()
  #ratePauses = 0
  readonly #hosts = new Map<number, HostRow>()
  #cursorResets = 0
  #stopped = false

  constructor(deps: UpstreamSetDeps) {
    this.#d = deps
  }

  get(hostId: number): HostConnection | undefined {
    return this.#connections.get(hostId)
  }

  get infoCounts(): ReadonlyMap<string, number> {
    return this.#infoCounts
  }

  /** The controls ingest uses for a host: completion, and pausing while too much is in flight. */
  controls(
    hostId: number,
  ): { complete(seq: number): void; pause(): void; resume(): void } | undefined {
    const c = this.#connections.get(hostId)
    if (!c) return undefined
    return {
      complete: (seq) => c.complete(seq),
      pause: () => this.#pause(hostId, 'ingest'),
      resume: () => this.#resume(hostId, 'ingest'),
    }
  }

  /** Hosts currently held back by their rate limits. */
  rateLimitedHosts(): number[] {
    return [...this.#rateTimers.keys()]
  }

  #pause(hostId: number, why: string): void {
    let reasons = this.#pausedFor.get(hostId)
    if (!reasons) {
      reasons = new Set()
      this.#pausedFor.set(hostId, reasons)
    }
    reasons.add(why)
    this.#connections.get(hostId)?.pause()
  }

  #resume(hostId: number, why: string): void {
    const reasons = this.#pausedFor.get(hostId)
    if (!reasons?.delete(why) || reasons.size > 0) return
    this.#pausedFor.delete(hostId)
    this.#connections.get(hostId)?.resume()
  }

  /** How many times a host was paused for its rate limits since start. */
  get ratePauses(): number {
    return this.#ratePauses
  }

  #rateCheck(hostId: number): void {
    const wait = this.#d.rateLimit?.(hostId) ?? 0
    if (wait <= 0 || this.#rateTimers.has(hostId)) return
    this.#ratePauses++
    this.#pause(hostId, 'rate')
    const t = setTimeout(() => {
      this.#rateTimers.delete(hostId)
      this.#resume(hostId, 'rate')
    }, wait)
    this.#rateTimers.set(hostId, t)
  }

  /** How many times a host's cursor was reset to the live head after repeated FutureCursor. */
  get cursorResets(): number {
    return this.#cursorResets
  }

  /** Every connection's cursor (what may be persisted). */
  cursors(): Map<number, number | null> {
    const out = new Map<number, number | null>()
    for (const [id, c] of this.#connections) out.set(id, c.cursor)
    return out
  }

  connectedHosts(): number[] {
    return [...this.#connections].filter(([, c]) => c.connected).map(([id]) => id)
  }

  /** Subscribes to a host (restarting its connection if there is one). */
  subscribe(
    host: HostRow,
    skipSeqs?: ReadonlySet<number>,
    opts: { fromLiveHead?: boolean } = {},
  ): void {
    if (this.#stopped) return
    this.#hosts.set(host.id, host)
    const old = this.#connections.get(host.id)
    // A live connection is kept (a repeated requestCrawl must not restart it and lose the events
    // it has in flight); only a cursor reset replaces it.
    if (old && !opts.fromLiveHead && old.state !== 'stopped' && old.state !== 'refused') return
    if (opts.fromLiveHead) this.#d.onCursorReset?.(host.id)
    // Resume after the last event delivered (not merely completed): events still in flight
    // from a stopped connection finish through ingest and must not be received twice.
    const stopped = this.#stoppedAt.get(host.id)
    this.#stoppedAt.delete(host.id)
    const startCursor = opts.fromLiveHead
      ? null
      : (old?.lastSeq ?? maxCursor(stopped ?? null, host.cursor))
    if (old) void old.stop()
    const connection = new HostConnection({
      host: { id: host.id, hostname: host.hostname, ssl: host.ssl },
      startCursor,
      skipSeqs,
      userAgent: this.#d.userAgent,
      handlers: this.#handlers(),
    })
    this.#connections.set(host.id, connection)
    if ((this.#pausedFor.get(host.id)?.size ?? 0) > 0) connection.pause()
    connection.start()
  }

  /** Subscribes to many hosts, spread evenly over `spreadMs`. */
  subscribeAll(
    hosts: readonly HostRow[],
    skip: ReadonlyMap<number, Set<number>>,
    spreadMs: number,
  ): void {
    hosts.forEach((host, i) => {
      const delay = hosts.length <= 1 ? 0 : Math.floor((spreadMs * i) / hosts.length)
      if (delay === 0) {
        this.subscribe(host, skip.get(host.id))
        return
      }
      const t = setTimeout(() => {
        this.#timers.delete(t)
        this.subscribe(host, skip.get(host.id))
      }, delay)
      this.#timers.add(t)
    })
  }

  async unsubscribe(hostId: number): Promise<void> {
    const c = this.#connections.get(hostId)
    this.#connections.delete(hostId)
    if (c?.lastSeq != null) this.#stoppedAt.set(hostId, c.lastSeq)
    clearTimeout(this.#rateTimers.get(hostId))
    this.#rateTimers.delete(hostId)
    // Ingest's pause (too many in flight) outlives the connection: a new one starts paused.
    this.#pausedFor.get(hostId)?.delete('rate')
    await c?.stop()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    for (const t of this.#rateTimers.values()) clearTimeout(t)
    this.#rateTimers.clear()
    await Promise.all([...this.#connections.values()].map((c) => c.stop()))
  }

  #onFutureCursor(host: HostTarget): void {
    const now = (this.#d.now ?? Date.now)()
    const rule = this.#d.futureCursorResets ?? { count: 3, afterMs: 3600_000 }
    const track = this.#futureCursor.get(host.id) ?? { first: now, count: 0 }
    track.count++
    this.#futureCursor.set(host.id, track)
    this.#d.status?.futureCursor(host.id)
    if (track.count < rule.count || now - track.first < rule.afterMs) return
    const row = this.#hosts.get(host.id)
    if (!row) return
    this.#futureCursor.delete(host.id)
    this.#cursorResets++
    this.#d.logger.warn(
      { host: host.hostname, answers: track.count, sinceMs: now - track.first },
      'repeated FutureCursor: resetting the upstream cursor to the live head',
    )
    this.subscribe({ ...row, cursor: null }, undefined, { fromLiveHead: true })
  }

  #handlers(): UpstreamHandlers {
    const log = this.#d.logger
    return {
      onEvent: (host: HostTarget, msg, raw) => {
        if (this.#futureCursor.size > 0) this.#futureCursor.delete(host.id)
        this.#d.status?.event(host.id)
        this.#d.eventTypes?.add(host.id, msg.type)
        this.#rateCheck(host.id)
        this.#d.ingest.handle(host.id, msg, raw)
      },
      onInfo: (host, msg) => {
        // Counted under known names only (a PDS controls the text): bounded memory and labels.
        const name = KNOWN_INFO.has(msg.name) ? msg.name : 'other'
        this.#infoCounts.set(name, (this.#infoCounts.get(name) ?? 0) + 1)
        this.#d.onInfo?.(host.id, name)
        log.info(
          { host: host.hostname, name, message: msg.message?.slice(0, 200) },
          'upstream #info',
        )
      },
      onDrop: (host, reason, seq, detail) => {
        this.#d.drops.record({ hostId: host.id, reason, did: null, seq, detail })
      },
      onUpstreamError: (host, error, message) => {
        log.warn({ host: host.hostname, error, message }, 'upstream error frame')
        if (error === 'FutureCursor') this.#onFutureCursor(host)
      },
      onStateChange: (host, state, detail) => {
        log.info({ host: host.hostname, state, detail }, 'upstream connection')
        if (state === 'connected') this.#d.status?.connected(host.id)
        else if (state === 'disconnected' || state === 'refused')
          this.#d.status?.connectFailed(host.id, detail)
      },
    }
  }
}
