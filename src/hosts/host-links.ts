// The upstream side of every host: one HostLink per known host (connection, flow control,
// cursor), and the per-event path from a host's socket to ingest. For each event: the host's
// status machine hears of it, it is counted against the host's rate limits (over them, the host
// is held back, never dropped), it is handed to ingest, and the flow control bounds what is in
// flight. Connection states reach the status machine; `#info` messages are counted under known
// names; an upstream FutureCursor (the PDS reset its sequence) is retried with the same cursor,
// and only after repeated answers over at least an hour is the host's cursor reset to its live
// head (logged and counted).
// Deliberately not here: which hosts are connected (hosts.ts decides), what events mean (ingest),
// SQL.

import type { Logger } from '../observability/logger.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { INFO_NAMES } from '../protocol/messages.ts'
import type { HostConnection } from '../upstream/host-connection.ts'
import type { SocketOpener } from '../upstream/socket-opener.ts'
import type { HostTarget, UpstreamHandlers, UpstreamTimings } from '../upstream/types.ts'
import { HostLink } from './host-link.ts'
import type { HostStatusMachine } from './host-status.ts'
import type { HostRateLimiter } from './rate-limit.ts'

export interface HostLinksDeps {
  readonly userAgent: string
  /** Liveness and dial timings of upstream sockets (defaults: upstream/host-connection.ts). */
  readonly timings?: UpstreamTimings
  /**
   * Where upstream sockets run and how a host's name is resolved on each dial (default: this
   * thread, plain DNS). The composition root's opener applies the address guard, so a host that
   * passed its crawl check cannot point its DNS at a private address later.
   */
  readonly sockets?: SocketOpener
  readonly hostConcurrency: number
  readonly logger: Logger
  readonly now: () => number
  readonly status: HostStatusMachine
  readonly limiter: HostRateLimiter
  /** FutureCursor answers needed, spread over at least `afterMs`, before a cursor reset. */
  readonly futureCursorResets: { readonly count: number; readonly afterMs: number }
  /** Hands an event to ingest. */
  readonly onEvent: (hostId: number, msg: UpstreamEvent, raw: Uint8Array) => void
  /** An event the connection itself dropped (already complete for the cursor). */
  readonly onDrop: (
    hostId: number,
    reason: DropReason,
    seq: number | undefined,
    detail: string,
  ) => void
  /** Counts events received per host and type (metrics). */
  readonly eventTypes?: { add(hostId: number, type: string): void }
  /** Repeated FutureCursor: the owner resets the host's cursor to its live head. */
  readonly onCursorExpired: (hostId: number) => void
}

/** `#info` names counted as themselves; any other (a PDS controls the text) is `other`. */
const KNOWN_INFO: ReadonlySet<string> = new Set(INFO_NAMES)

/** Hosts dialled per second at most when a restart resubscribes to all of them. */
export const RESUBSCRIBE_PER_SECOND = 100
const MIN_RESUBSCRIBE_SPREAD_MS = 5_000

/**
 * Over how long a restart spreads its dials to `hosts` hosts: at least 5 s, and long enough to
 * stay at RESUBSCRIBE_PER_SECOND (3,000 hosts: 30 s). Each dial is a DNS lookup and a TLS
 * handshake here and a new subscriber at the host; a host dialled late loses nothing, as it
 * resumes from its stored cursor.
 */
export function resubscribeSpreadMs(hosts: number): number {
  return Math.max(MIN_RESUBSCRIBE_SPREAD_MS, Math.ceil((hosts * 1000) / RESUBSCRIBE_PER_SECOND))
}

export class HostLinks {
  readonly #d: HostLinksDeps
  readonly #links = new Map<number, HostLink>()
  readonly #infoCounts = new Map<string, number>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #handlers: UpstreamHandlers
  #ratePauses = 0
  #cursorResets = 0
  #stopped = false

  constructor(deps: HostLinksDeps) {
    this.#d = deps
    this.#handlers = this.#makeHandlers()
  }

  /** The link of a known host, made on first use. */
  link(target: HostTarget, storedCursor: number | null): HostLink {
    let l = this.#links.get(target.id)
    if (!l) {
      l = new HostLink(target, storedCursor, this.#d.hostConcurrency, (err) =>
        this.#d.logger.error({ err, host: target.hostname }, 'stopping an upstream connection'),
      )
      this.#links.set(target.id, l)
    }
    return l
  }

  get(hostId: number): HostLink | undefined {
    return this.#links.get(hostId)
  }

  connection(hostId: number): HostConnection | undefined {
    return this.#links.get(hostId)?.connection ?? undefined
  }

  get infoCounts(): ReadonlyMap<string, number> {
    return this.#infoCounts
  }

  /** Times a host was held back for its rate limits since start. */
  get ratePauses(): number {
    return this.#ratePauses
  }

  /** Cursors reset to the live head after repeated FutureCursor answers, since start. */
  get cursorResets(): number {
    return this.#cursorResets
  }

  /** Hosts with an open connection. */
  connectedHosts(): number[] {
    return [...this.#links].filter(([, l]) => l.connection?.connected).map(([id]) => id)
  }

  /** Connects (unless connected; `fromLiveHead` replaces a connection). No-op once stopped. */
  connect(
    hostId: number,
    opts: { skipSeqs?: ReadonlySet<number>; fromLiveHead?: boolean } = {},
  ): void {
    if (this.#stopped) return
    const link = this.#links.get(hostId)
    if (!link) return
    link.connect({
      ...opts,
      userAgent: this.#d.userAgent,
      timings: this.#d.timings,
      ...(this.#d.sockets && { sockets: this.#d.sockets }),
      handlers: this.#handlers,
    })
  }

  /**
   * Connects many hosts spread evenly over `spreadMs` (a restart does not dial all at once; see
   * resubscribeSpreadMs for the default). Start-up recovery's skip sets are already on the links
   * (HostLink.recoverSkips), so whichever connection comes first uses them.
   */
  connectAll(
    hostIds: readonly number[],
    spreadMs: number,
    /** Asked again when a host's turn comes: an operator may have blocked it meanwhile. */
    stillWanted: (hostId: number) => boolean = () => true,
  ): void {
    hostIds.forEach((id, i) => {
      const delay = hostIds.length <= 1 ? 0 : Math.floor((spreadMs * i) / hostIds.length)
      if (delay === 0) {
        this.connect(id)
        return
      }
      const t = setTimeout(() => {
        this.#timers.delete(t)
        if (stillWanted(id)) this.connect(id)
      }, delay)
      this.#timers.add(t)
    })
  }

  /** Stops a host's connection, keeping its cursor; failures are logged, never thrown. */
  async disconnect(hostId: number): Promise<void> {
    const link = this.#links.get(hostId)
    await link
      ?.disconnect()
      .catch((err: unknown) =>
        this.#d.logger.error(
          { err, host: link.target.hostname },
          'stopping an upstream connection',
        ),
      )
  }

  /** Ingest settled an event: flow control, and a dropped one is complete for the cursor. */
  settled(hostId: number, seq: number, dropped: boolean): void {
    const link = this.#links.get(hostId)
    if (!link) return
    link.flow.settled()
    if (dropped) link.complete(seq)
  }

  /** An accepted event is written to the log: complete for the cursor. */
  complete(hostId: number, seq: number): void {
    this.#links.get(hostId)?.complete(seq)
  }

  /** The cursor of each known host. */
  cursors(): Map<number, number | null> {
    const out = new Map<number, number | null>()
    for (const [id, l] of this.#links) out.set(id, l.cursor)
    return out
  }

  async stop(): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    for (const l of this.#links.values()) l.flow.close()
    await Promise.all([...this.#links.values()].map((l) => l.disconnect()))
  }

  /** Records one event against the host's limits; over them, holds the host back for a while. */
  #rateCheck(link: HostLink): void {
    const { limiter, status } = this.#d
    const id = link.target.id
    const wait = limiter.take(id)
    if (wait > 0) {
      status.rateLimited(id, limiter.throttledFor(id))
      if (link.flow.holdForRate(wait)) this.#ratePauses++
    } else if (status.status(id) === 'throttled') {
      status.rateOk(id)
    }
  }

  #onFutureCursor(link: HostLink): void {
    const now = this.#d.now()
    const rule = this.#d.futureCursorResets
    const track = link.futureCursor ?? { first: now, count: 0 }
    track.count++
    link.futureCursor = track
    this.#d.status.futureCursor(link.target.id)
    if (track.count < rule.count || now - track.first < rule.afterMs) return
    link.futureCursor = null
    this.#cursorResets++
    this.#d.logger.warn(
      { host: link.target.hostname, answers: track.count, sinceMs: now - track.first },
      'repeated FutureCursor: resetting the upstream cursor to the live head',
    )
    this.#d.onCursorExpired(link.target.id)
  }

  #makeHandlers(): UpstreamHandlers {
    const { logger: log, status } = this.#d
    const linkOf = (host: HostTarget) => this.#links.get(host.id)
    return {
      onEvent: (host: HostTarget, msg: UpstreamEvent, raw: Uint8Array) => {
        const link = linkOf(host)
        if (!link) {
          // Not reachable (links are never removed), but never a silent loss either.
          this.#d.onDrop(host.id, 'host-banned', msg.seq, 'host is not registered')
          return
        }
        link.futureCursor = null
        status.event(host.id)
        this.#d.eventTypes?.add(host.id, msg.type)
        this.#rateCheck(link)
        link.flow.delivered(link.connection?.window ?? 0)
        this.#d.onEvent(host.id, msg, raw)
      },
      onInfo: (host, msg) => {
        const name = KNOWN_INFO.has(msg.name) ? msg.name : 'other'
        this.#infoCounts.set(name, (this.#infoCounts.get(name) ?? 0) + 1)
        log.info(
          { host: host.hostname, name, message: msg.message?.slice(0, 200) },
          'upstream #info',
        )
      },
      onDrop: (host, reason, seq, detail) => {
        this.#d.onDrop(host.id, reason, seq, detail)
        const link = linkOf(host)
        // A frame dropped before ingest still cost the relay its reading and decoding: it counts
        // against the host's limits like an event, so a host cannot send bad frames at wire
        // speed.
        if (link) this.#rateCheck(link)
        if (link?.connection) link.flow.window(link.connection.window)
      },
      onUpstreamError: (host, error, message) => {
        log.warn({ host: host.hostname, error, message }, 'upstream error frame')
        const link = linkOf(host)
        if (error === 'FutureCursor' && link) this.#onFutureCursor(link)
      },
      onStateChange: (host, state, detail) => {
        log.info({ host: host.hostname, state, detail }, 'upstream connection')
        if (state === 'connected') status.connected(host.id)
        else if (state === 'disconnected' || state === 'refused') {
          status.connectFailed(host.id, detail)
          // An offline host is dialled only when its retry comes due (hours apart at most), not
          // on the connection's own backoff: a retry that failed stops here.
          if (status.status(host.id) === 'offline') void this.disconnect(host.id)
        }
      },
    }
  }
}
