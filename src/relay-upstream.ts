// Wiring between the host registry, the upstream connections and ingest: one HostConnection per
// subscribed host, its events handed to ingest, its own drops counted, its state logged, and
// hosts resubscribed at start spread over a few seconds rather than all at once.
// Upstream FutureCursor (DESIGN.md §4 item 13: the PDS reset its sequence): the host goes `idle`
// and is retried with the same cursor (the connection's backoff); only after repeated answers
// over at least an hour is its cursor reset to the live head, logged and counted. Any event from
// the host makes it `active` again.
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
  /** Host status changes (idle on FutureCursor, active again on events). */
  readonly setStatus?: (hostId: number, status: 'active' | 'idle', reason: string | null) => void
  readonly now?: () => number
  /** FutureCursor answers needed, spread over at least `afterMs`, before a reset. */
  readonly futureCursorResets?: { readonly count: number; readonly afterMs: number }
}

interface FutureCursorTrack {
  first: number
  count: number
}

export class UpstreamSet {
  readonly #d: UpstreamSetDeps
  readonly #connections = new Map<number, HostConnection>()
  readonly #infoCounts = new Map<string, number>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #futureCursor = new Map<number, FutureCursorTrack>()
  /** Hosts marked idle by this set (made active again by their next event). */
  readonly #idle = new Set<number>()
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
    const startCursor = opts.fromLiveHead ? null : (old?.lastSeq ?? host.cursor)
    if (old) void old.stop()
    const connection = new HostConnection({
      host: { id: host.id, hostname: host.hostname, ssl: host.ssl },
      startCursor,
      skipSeqs,
      userAgent: this.#d.userAgent,
      handlers: this.#handlers(),
    })
    this.#connections.set(host.id, connection)
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
    await c?.stop()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    await Promise.all([...this.#connections.values()].map((c) => c.stop()))
  }

  #onFutureCursor(host: HostTarget): void {
    const now = (this.#d.now ?? Date.now)()
    const rule = this.#d.futureCursorResets ?? { count: 3, afterMs: 3600_000 }
    const track = this.#futureCursor.get(host.id) ?? { first: now, count: 0 }
    track.count++
    this.#futureCursor.set(host.id, track)
    this.#idle.add(host.id)
    this.#d.setStatus?.(
      host.id,
      'idle',
      'the PDS answered FutureCursor (did it reset its sequence?)',
    )
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
        if (this.#idle.size > 0 && this.#idle.delete(host.id)) {
          this.#futureCursor.delete(host.id)
          this.#d.setStatus?.(host.id, 'active', null)
        }
        this.#d.ingest.handle(host.id, msg, raw)
      },
      onInfo: (host, msg) => {
        this.#infoCounts.set(msg.name, (this.#infoCounts.get(msg.name) ?? 0) + 1)
        this.#d.onInfo?.(host.id, msg.name)
        log.info({ host: host.hostname, name: msg.name, message: msg.message }, 'upstream #info')
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
      },
    }
  }
}
