// The upstream side of every host, run on this thread: one HostLink per known host (connection,
// flow control, cursor), and the per-event path from a host's socket to ingest. For each event:
// the link notices hear of it (the status machine), it is counted against the host's rate
// limits (over them, the host is held back, never dropped), it is handed to ingest, and the flow
// control bounds what is in flight. Everything else a connection reports goes to the notices
// (link-notices.ts: states, `#info`, error frames). The same class runs on a host thread when
// the host threads own the hosts (host-threads/), with notices that report to the main thread.
// Deliberately not here: which hosts are connected (hosts.ts decides), what events mean (ingest),
// what the notices do, SQL.

import type { Logger } from '../observability/logger.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type { HostConnection } from '../upstream/host-connection.ts'
import type { SocketOpener } from '../upstream/socket-opener.ts'
import type { HostTarget, UpstreamHandlers, UpstreamTimings } from '../upstream/types.ts'
import { HostLink } from './host-link.ts'
import type { LinkNotices } from './link-notices.ts'
import type { HostLimits, HostRateLimiter, HostRates } from './rate-limit.ts'
import type { UpstreamLinks } from './upstream-links.ts'

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
  /** Where a connection that fails to stop is reported. */
  readonly logger: Pick<Logger, 'error'>
  /** What the links report beside events (link-notices.ts). */
  readonly notices: LinkNotices
  /** The hosts' rate limits, counted here (the one place events of a host are read). */
  readonly limiter: HostRateLimiter
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
}

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

/**
 * Dials `hostIds` spread evenly over `spreadMs` (a restart does not dial all at once; see
 * resubscribeSpreadMs for the default), asking `stillWanted` again when a host's turn comes (an
 * operator may have blocked it meanwhile). The timers are kept in `timers` for the caller to
 * clear when it stops.
 */
export function connectSpread(
  hostIds: readonly number[],
  spreadMs: number,
  stillWanted: (hostId: number) => boolean,
  connect: (hostId: number) => void,
  timers: Set<NodeJS.Timeout>,
): void {
  hostIds.forEach((id, i) => {
    const delay = hostIds.length <= 1 ? 0 : Math.floor((spreadMs * i) / hostIds.length)
    if (delay === 0) {
      connect(id)
      return
    }
    const t = setTimeout(() => {
      timers.delete(t)
      if (stillWanted(id)) connect(id)
    }, delay)
    timers.add(t)
  })
}

export class HostLinks implements UpstreamLinks {
  readonly #d: HostLinksDeps
  readonly #links = new Map<number, HostLink>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #handlers: UpstreamHandlers
  #ratePauses = 0
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

  /** The known hosts' ids. */
  ids(): IterableIterator<number> {
    return this.#links.keys()
  }

  get(hostId: number): HostLink | undefined {
    return this.#links.get(hostId)
  }

  connection(hostId: number): HostConnection | undefined {
    return this.#links.get(hostId)?.connection ?? undefined
  }

  setLimits(hostId: number, limits: HostLimits): void {
    this.#d.limiter.set(hostId, limits)
  }

  rates(hostId: number): HostRates {
    return this.#d.limiter.rates(hostId)
  }

  recover(hostId: number, found: { cursor?: number; skips?: ReadonlySet<number> }): void {
    const link = this.#links.get(hostId)
    if (found.cursor !== undefined) link?.recoverCursor(found.cursor)
    link?.recoverSkips(found.skips)
  }

  forgetCursor(hostId: number): void {
    this.#links.get(hostId)?.forgetCursor()
  }

  cursor(hostId: number): number | null {
    return this.#links.get(hostId)?.cursor ?? null
  }

  /** Times a host was held back for its rate limits since start. */
  get ratePauses(): number {
    return this.#ratePauses
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
    connectSpread(hostIds, spreadMs, stillWanted, (id) => this.connect(id), this.#timers)
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
    const { limiter, notices } = this.#d
    const id = link.target.id
    const wait = limiter.take(id)
    if (wait > 0) {
      notices.rateLimited(id, limiter.throttledFor(id))
      if (link.flow.holdForRate(wait)) this.#ratePauses++
    } else {
      notices.rateOk(id)
    }
  }

  #makeHandlers(): UpstreamHandlers {
    const { notices } = this.#d
    const linkOf = (host: HostTarget) => this.#links.get(host.id)
    return {
      onEvent: (host: HostTarget, msg: UpstreamEvent, raw: Uint8Array) => {
        const link = linkOf(host)
        if (!link) {
          // Not reachable (links are never removed), but never a silent loss either.
          this.#d.onDrop(host.id, 'host-banned', msg.seq, 'host is not registered')
          return
        }
        notices.eventsArrived(host.id)
        this.#d.eventTypes?.add(host.id, msg.type)
        this.#rateCheck(link)
        link.flow.delivered(link.connection?.window ?? 0)
        this.#d.onEvent(host.id, msg, raw)
      },
      onInfo: (host, msg) => notices.info(host, msg.name, msg.message),
      onDrop: (host, reason, seq, detail) => {
        this.#d.onDrop(host.id, reason, seq, detail)
        const link = linkOf(host)
        // A frame dropped before ingest still cost the relay its reading and decoding: it counts
        // against the host's limits like an event, so a host cannot send bad frames at wire
        // speed.
        if (link) this.#rateCheck(link)
        if (link?.connection) link.flow.window(link.connection.window)
      },
      onUpstreamError: (host, error, message) => notices.upstreamError(host, error, message),
      onStateChange: (host, state, detail) => notices.stateChange(host, state, detail),
    }
  }
}
