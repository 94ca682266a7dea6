// The hosts of one host thread (docs/scaling.md, stage 2): their links run here as they would on
// the main thread (hosts/host-links.ts: connection, seq window, flow control, rate limits,
// cursor), and each event goes from here straight to its account's shard, batched once per turn
// of this thread's loop per shard, its frame transferred. The shards tell this thread which
// events are settled; the main thread tells it which the log has written. What the main thread
// must hear (what the links noticed, drops, answers, and every second the hosts' books) goes
// back in reports.
// A host over its rate limits is reported once a second at most while it is held, and once when
// it flows again, not per event.
// Deliberately not here: the worker's messages and ports (host-worker.ts), what the notes mean
// (hosts/link-notices.ts on the main thread).

import type { MessagePort } from 'node:worker_threads'
import { shardOf } from '../accounts/shard-of.ts'
import { HostLinks } from '../hosts/host-links.ts'
import type { LinkNotices } from '../hosts/link-notices.ts'
import { HostRateLimiter } from '../hosts/rate-limit.ts'
import { EVENT_TYPES, typeIndex } from '../observability/event-type-counter.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { EndOfTurn } from '../runtime/end-of-turn.ts'
import { ownBuffer } from '../runtime/own-buffer.ts'
import { ShardLoads } from '../shards/shard-load.ts'
import type { EventItem, HostEvents } from '../shards/shard-messages.ts'
import type { SocketOpener } from '../upstream/socket-opener.ts'
import type {
  HostBook,
  HostBooks,
  HostNote,
  HostThreadReport,
  HostThreadStart,
  ToHostThread,
} from './host-thread-messages.ts'

/** How often a host held back by its rate limits is reported while the hold lasts. */
const LIMITED_EVERY_MS = 1_000

interface Outbox {
  events: EventItem[]
  transfer: ArrayBuffer[]
}

export class ThreadHosts {
  readonly #links: HostLinks
  readonly #shardPorts: readonly MessagePort[]
  readonly #loads: ShardLoads
  readonly #report: (report: HostThreadReport) => void
  readonly #outboxes: (Outbox | undefined)[]
  readonly #handed: number[]
  #notes: HostNote[] = []
  #answers: (readonly [number, unknown])[] = []
  #withBooks = false
  readonly #sends = new EndOfTurn(() => this.#flush())
  /** Hosts with events since the last books, and their counts by type. */
  #arrived = new Set<number>()
  #types = new Map<number, number[]>()
  /** Hosts reported as held back by their rate limits, and when last reported. */
  readonly #held = new Map<number, number>()

  constructor(
    start: HostThreadStart,
    sockets: SocketOpener,
    report: (report: HostThreadReport) => void,
  ) {
    this.#shardPorts = start.shardPorts
    this.#loads = new ShardLoads(start.loads)
    this.#report = report
    this.#outboxes = start.shardPorts.map(() => undefined)
    this.#handed = start.shardPorts.map(() => 0)
    this.#links = new HostLinks({
      userAgent: start.userAgent,
      ...(start.timings && { timings: start.timings }),
      sockets,
      hostConcurrency: start.hostConcurrency,
      logger: {
        error: (obj: unknown, msg?: string) => this.#note(['log', msg ?? 'error', textOf(obj)]),
      },
      notices: this.#notices(),
      limiter: new HostRateLimiter(),
      onEvent: (hostId, msg, raw) => this.#route(hostId, msg, raw),
      onDrop: (hostId, reason, seq, detail) => this.#note(['drop', hostId, reason, seq, detail]),
      eventTypes: {
        add: (hostId, type) => {
          const i = typeIndex(type)
          if (i < 0) return
          let counts = this.#types.get(hostId)
          if (!counts) {
            counts = EVENT_TYPES.map(() => 0)
            this.#types.set(hostId, counts)
          }
          counts[i]!++
        },
      },
    })
  }

  /** A message of the main thread. */
  handle(m: ToHostThread): void {
    const links = this.#links
    switch (m.op) {
      case 'link':
        links.link(m.target, m.cursor)
        return
      case 'limits':
        links.setLimits(m.id, m.limits)
        return
      case 'recover':
        links.recover(m.id, {
          ...(m.cursor !== undefined && { cursor: m.cursor }),
          ...(m.skips && { skips: new Set(m.skips) }),
        })
        return
      case 'forget':
        links.forgetCursor(m.id)
        return
      case 'connect':
        links.connect(m.id, {
          ...(m.skips && { skipSeqs: new Set(m.skips) }),
          ...(m.fromLiveHead && { fromLiveHead: true }),
        })
        return
      case 'disconnect':
        // The books go with the answer: the main thread reads the host as disconnected at once.
        void links.disconnect(m.id).then(() => {
          this.#withBooks = true
          this.#answer(m.call, null)
        })
        return
      case 'written': {
        const { complete, settled } = m
        for (let i = 0; i < settled.length; i += 3) {
          links.settled(settled[i]!, settled[i + 1]!, settled[i + 2] === 1)
        }
        for (let i = 0; i < complete.length; i += 2) links.complete(complete[i]!, complete[i + 1]!)
        return
      }
      case 'books':
        this.#withBooks = true
        this.#answer(m.call, null)
        return
      case 'stop':
        // Answered however the sockets ended: a stop must not look like this thread failing.
        void links
          .stop()
          .catch((err: unknown) =>
            this.#note(['log', 'stopping upstream connections', textOf({ err })]),
          )
          .finally(() => {
            this.#withBooks = true
            this.#answer(m.call, null)
          })
        return
    }
  }

  /** A shard settled these events (flat: host id, upstream seq, 1 if dropped). */
  settled(items: readonly number[]): void {
    for (let i = 0; i < items.length; i += 3) {
      this.#links.settled(items[i]!, items[i + 1]!, items[i + 2] === 1)
    }
  }

  /** The periodic report of the hosts' books. */
  reportBooks(): void {
    this.#withBooks = true
    this.#sends.queue()
  }

  #route(hostId: number, msg: UpstreamEvent, raw: Uint8Array): void {
    const shard = shardOf(msg.did, this.#shardPorts.length)
    let out = this.#outboxes[shard]
    if (!out) {
      out = { events: [], transfer: [] }
      this.#outboxes[shard] = out
      this.#sends.queue()
    }
    const own = ownBuffer(raw)
    out.events.push([hostId, msg, own])
    out.transfer.push(own.buffer)
  }

  #notices(): LinkNotices {
    return {
      eventsArrived: (hostId) => this.#arrived.add(hostId),
      info: (host, name, message) => this.#note(['info', host.id, name, message]),
      upstreamError: (host, error, message) => this.#note(['error', host.id, error, message]),
      stateChange: (host, state, detail) => this.#note(['state', host.id, state, detail]),
      rateLimited: (hostId, heldForMs) => {
        const now = Date.now()
        const last = this.#held.get(hostId)
        if (last !== undefined && now - last < LIMITED_EVERY_MS) return
        this.#held.set(hostId, now)
        this.#note(['limited', hostId, heldForMs])
      },
      rateOk: (hostId) => {
        if (this.#held.size > 0 && this.#held.delete(hostId)) this.#note(['ok', hostId])
      },
    }
  }

  #note(note: HostNote): void {
    this.#notes.push(note)
    this.#sends.queue()
  }

  #answer(call: number, value: unknown): void {
    this.#answers.push([call, value])
    this.#sends.queue()
  }

  #flush(): void {
    this.#outboxes.forEach((out, shard) => {
      if (!out) return
      this.#outboxes[shard] = undefined
      this.#loads.handed(shard, out.events.length)
      this.#handed[shard]! += out.events.length
      this.#shardPorts[shard]!.postMessage(
        { events: out.events } satisfies HostEvents,
        out.transfer,
      )
    })
    if (this.#notes.length === 0 && this.#answers.length === 0 && !this.#withBooks) return
    const arrived = this.#arrived.size > 0 ? [...this.#arrived] : undefined
    this.#arrived = new Set()
    const report: HostThreadReport = {
      ...(arrived && { arrived }),
      notes: this.#notes,
      answers: this.#answers,
      ...(this.#withBooks && { books: this.#books() }),
    }
    this.#notes = []
    this.#answers = []
    this.#withBooks = false
    this.#report(report)
  }

  #books(): HostBooks {
    const hosts: HostBook[] = []
    for (const id of this.#links.ids()) hosts.push(this.#book(id))
    const types: number[] = []
    for (const [hostId, counts] of this.#types) {
      counts.forEach((n, i) => {
        if (n > 0) types.push(hostId, i, n)
      })
    }
    const books: HostBooks = {
      hosts,
      types,
      handed: [...this.#handed],
      ratePauses: this.#links.ratePauses,
    }
    this.#types = new Map()
    return books
  }

  #book(id: number): HostBook {
    const c = this.#links.connection(id)
    return {
      id,
      cursor: this.#links.cursor(id),
      connection: c
        ? {
            state: c.state,
            connected: c.connected,
            paused: c.paused,
            inFlight: c.inFlight,
            cursor: c.cursor,
            stats: {
              framesReceived: c.stats.framesReceived,
              bytesReceived: c.stats.bytesReceived,
              reconnects: c.stats.reconnects,
            },
          }
        : null,
      rates: this.#links.rates(id),
    }
  }
}

/** An error (or whatever was logged) as text and context for the main thread's log. */
function textOf(obj: unknown): object {
  if (typeof obj !== 'object' || obj === null) return { detail: String(obj) }
  const { err, ...rest } = obj as { err?: unknown }
  if (err === undefined) return rest
  return { ...rest, err: err instanceof Error ? (err.stack ?? err.message) : String(err) }
}
