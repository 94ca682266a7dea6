// What a host's upstream link reports beside its events, and what the relay does with it: the
// status machine hears of events, rate holds, connections and their failures; `#info` messages
// are counted under known names and logged; an upstream FutureCursor (the PDS reset its
// sequence) is retried with the same cursor, and only after repeated answers over at least an
// hour is the host's cursor reset to its live head (logged and counted).
// The links report here wherever they run: on the main thread directly (host-links.ts), or on a
// host thread, whose reports the main thread hands to the same rules (host-threads/), so there
// is one rule whichever thread reads the sockets.
// Deliberately not here: the links, the rate limits themselves (rate-limit.ts), SQL.
import type { Logger } from '../observability/logger.ts'
import { INFO_NAMES } from '../protocol/messages.ts'
import type { ConnectionState, HostTarget } from '../upstream/types.ts'
import type { HostStatusMachine } from './host-status.ts'

/** What a link reports beside its events. Calls must not throw (the socket's read path). */
export interface LinkNotices {
  /** Events of the host arrived: each one on this thread, or once per report from a host thread. */
  eventsArrived(hostId: number): void
  /** An upstream `#info` (its name and text come from the PDS). */
  info(host: HostTarget, name: string, message: string | undefined): void
  /** An upstream error frame (e.g. `FutureCursor`); the connection ends and is retried. */
  upstreamError(host: HostTarget, error: string, message: string | undefined): void
  stateChange(host: HostTarget, state: ConnectionState, detail: string): void
  /** The host's events are held back by its rate limits, continuously for `heldForMs`. */
  rateLimited(hostId: number, heldForMs: number): void
  /**
   * An event passed within the host's rate limits: each one on this thread, once after a hold
   * from a host thread.
   */
  rateOk(hostId: number): void
}

/** `#info` names counted as themselves; any other (a PDS controls the text) is `other`. */
const KNOWN_INFO: ReadonlySet<string> = new Set(INFO_NAMES)

export interface HostNoticesDeps {
  readonly logger: Logger
  readonly now: () => number
  readonly status: HostStatusMachine
  /** FutureCursor answers needed, spread over at least `afterMs`, before a cursor reset. */
  readonly futureCursorResets: { readonly count: number; readonly afterMs: number }
  /** Repeated FutureCursor: the owner resets the host's cursor to its live head. */
  readonly onCursorExpired: (hostId: number) => void
  /** A host the status machine put offline after a failed dial: its connection stops. */
  readonly disconnect: (hostId: number) => void
}

/** The main thread's rules for what links report. */
export class HostNotices implements LinkNotices {
  readonly #d: HostNoticesDeps
  readonly #infoCounts = new Map<string, number>()
  /** FutureCursor answers since the host last sent an event: when the first came, and how many. */
  readonly #futureCursor = new Map<number, { readonly first: number; count: number }>()
  #cursorResets = 0

  constructor(deps: HostNoticesDeps) {
    this.#d = deps
  }

  /** Upstream `#info` messages received, by name. */
  get infoCounts(): ReadonlyMap<string, number> {
    return this.#infoCounts
  }

  /** Cursors reset to the live head after repeated FutureCursor answers, since start. */
  get cursorResets(): number {
    return this.#cursorResets
  }

  /** FutureCursor answers counted for the host since its last event. */
  futureCursorAnswers(hostId: number): number {
    return this.#futureCursor.get(hostId)?.count ?? 0
  }

  eventsArrived(hostId: number): void {
    if (this.#futureCursor.size > 0) this.#futureCursor.delete(hostId)
    this.#d.status.event(hostId)
  }

  info(host: HostTarget, name: string, message: string | undefined): void {
    const known = KNOWN_INFO.has(name) ? name : 'other'
    this.#infoCounts.set(known, (this.#infoCounts.get(known) ?? 0) + 1)
    this.#d.logger.info(
      { host: host.hostname, name: known, message: message?.slice(0, 200) },
      'upstream #info',
    )
  }

  upstreamError(host: HostTarget, error: string, message: string | undefined): void {
    this.#d.logger.warn({ host: host.hostname, error, message }, 'upstream error frame')
    if (error === 'FutureCursor') this.#onFutureCursor(host)
  }

  stateChange(host: HostTarget, state: ConnectionState, detail: string): void {
    const { status } = this.#d
    this.#d.logger.info({ host: host.hostname, state, detail }, 'upstream connection')
    if (state === 'connected') status.connected(host.id)
    else if (state === 'disconnected' || state === 'refused') {
      status.connectFailed(host.id, detail)
      // An offline host is dialled only when its retry comes due (hours apart at most), not
      // on the connection's own backoff: a retry that failed stops here.
      if (status.status(host.id) === 'offline') this.#d.disconnect(host.id)
    }
  }

  rateLimited(hostId: number, heldForMs: number): void {
    this.#d.status.rateLimited(hostId, heldForMs)
  }

  /**
   * Checked for every event that passes (a map lookup): the hold ends, whether or not it lasted
   * long enough to throttle the host. Cleared only once throttled, the start of a hold that
   * ended early would throttle the host at a later status check as if it were still held.
   */
  rateOk(hostId: number): void {
    const { status } = this.#d
    if (status.rateHeld(hostId)) status.rateOk(hostId)
  }

  #onFutureCursor(host: HostTarget): void {
    const now = this.#d.now()
    const rule = this.#d.futureCursorResets
    const track = this.#futureCursor.get(host.id) ?? { first: now, count: 0 }
    track.count++
    this.#futureCursor.set(host.id, track)
    this.#d.status.futureCursor(host.id)
    if (track.count < rule.count || now - track.first < rule.afterMs) return
    this.#futureCursor.delete(host.id)
    this.#cursorResets++
    this.#d.logger.warn(
      { host: host.hostname, answers: track.count, sinceMs: now - track.first },
      'repeated FutureCursor: resetting the upstream cursor to the live head',
    )
    this.#d.onCursorExpired(host.id)
  }
}
