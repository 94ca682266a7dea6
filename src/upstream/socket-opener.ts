// Where a host connection's WebSocket runs. `HostConnection` dials through a `SocketOpener` and
// gets back an `UpstreamLine`: the socket as seen from the connection, which reports each frame
// already classified (frame-outcome.ts) and the relay-refusal rule already applied. Two openers
// exist: `LocalSockets` runs the socket on the calling thread (the default), and `SocketThreads`
// (socket-threads.ts) runs it on a thread of its own, so that reading the network, the
// WebSocket framing and the frame scan leave the main thread (`--upstream-threads`).
// Both give the same events in the same order; a test suite runs the connection over each.
// Deliberately not here: seqs, reconnecting and what an event means (host-connection.ts).
import type { LookupFunction } from 'node:net'
import { type FrameOutcome, readFrame } from './frame-outcome.ts'
import { type SocketEnd, UpstreamSocket, type UpstreamSocketOptions } from './upstream-socket.ts'

export type { SocketEnd } from './upstream-socket.ts'

/**
 * What a dial needs: the socket's options but the two that cannot cross to another thread (the
 * clock and the lookup: the opener brings its own), and the host's name (with any `:port`) for
 * the address guard.
 */
export type SocketDial = Omit<UpstreamSocketOptions, 'now' | 'lookup'> & {
  readonly hostname: string
}

/** What a line reports, in order; `closed` exactly once and last. */
export interface LineEvents {
  /** The host answered as a relay (never subscribed to: loops); `closed` follows. */
  refused(reason: string): void
  open(): void
  /** A frame arrived from the network (counted even if it is later discarded). */
  received(byteLength: number): void
  /** A frame to handle, in order; `raw` owns its ArrayBuffer. */
  frame(raw: Uint8Array, outcome: FrameOutcome): void
  /** A frame over the size limit arrived; the line fails right after. */
  tooLarge(detail: string): void
  closed(end: SocketEnd): void
}

/** One dialled socket, wherever it runs. */
export interface UpstreamLine {
  /** Open, and not being ended by this side. */
  readonly open: boolean
  readonly closed: Promise<void>
  /** Stops reading; frames already read are handed over, in order, on resume. */
  setPaused(paused: boolean): void
  /** Ends it at once because something went wrong. */
  fail(error: string): void
  /** Ends it politely (close frame), destroyed if the peer does not answer in time. */
  close(why: string): void
}

/** A line whose reader may also hold its reading back (its own back-pressure). */
export interface HeldLine extends UpstreamLine {
  /** Stops or restarts reading without the liveness rules a pause suspends. */
  setHeld(held: boolean): void
}

export interface SocketOpener {
  /** Dials at once. Throws if the URL is unusable (nothing is then left open). */
  open(dial: SocketDial, events: LineEvents): UpstreamLine
}

const RELAY_SERVER = /atproto-relay/i

/**
 * Throws unless `url` is a `ws:` or `wss:` URL: the only kinds a subscription uses. (The
 * WebSocket library would also take `http:`, and `ws+unix:`, which connects without the address
 * guard's lookup; neither is dialled, wherever the socket runs.)
 */
export function checkDialUrl(url: string): void {
  const { protocol } = new URL(url)
  if (protocol !== 'ws:' && protocol !== 'wss:') {
    throw new SyntaxError(`not a WebSocket URL: ${url}`)
  }
}

/**
 * Why a host must not be subscribed to, from its upgrade response's `Server` header: a relay
 * (docs/design.md §4 item 5: subscribing to a relay makes loops). Null when it may be.
 */
export function relayRefusal(header: string | string[] | undefined): string | null {
  const server = Array.isArray(header) ? header.join(', ') : (header ?? '')
  if (!RELAY_SERVER.test(server)) return null
  return `refused: the host is a relay (Server: ${server.slice(0, 100)})`
}

/** Sockets on the calling thread. */
export class LocalSockets implements SocketOpener {
  readonly #lookupFor: (hostname: string) => LookupFunction | undefined
  readonly #now: () => number

  /**
   * @param lookupFor how each dial resolves the host's name (the address guard); undefined
   *   resolves with plain DNS
   * @param now the clock of the frame-stall rule
   */
  constructor(
    lookupFor: (hostname: string) => LookupFunction | undefined = () => undefined,
    now: () => number = Date.now,
  ) {
    this.#lookupFor = lookupFor
    this.#now = now
  }

  open(dial: SocketDial, events: LineEvents): HeldLine {
    checkDialUrl(dial.url)
    const lookup = this.#lookupFor(dial.hostname)
    const { hostname: _, ...opts } = dial
    return new UpstreamSocket(
      { ...opts, now: this.#now, ...(lookup && { lookup }) },
      {
        upgrade: (res) => {
          const refusal = relayRefusal(res.headers.server)
          if (refusal !== null) events.refused(refusal)
          return refusal
        },
        open: () => events.open(),
        received: (n) => events.received(n),
        frame: (raw) => events.frame(raw, readFrame(raw)),
        tooLarge: (detail) => events.tooLarge(detail),
        closed: (end) => events.closed(end),
      },
    )
  }
}
