// What the host threads reported, on the main thread: the one writer of its copy of every host's
// books (cursor, connection, observed rates; replaced whole by each thread's newest), of each
// thread's totals, and the place their reports meet the main thread's rules: arrivals, states,
// `#info` and error frames and rate holds go to the link notices (hosts/link-notices.ts), drops
// to the drop counter, event counts to the metrics' counter, what a thread logged to the log.
// Arrivals are applied before the notes of the same report, so a connection's end is never
// followed by events it delivered before it ended.
// Deliberately not here: the threads and the calls (host-threads.ts), the rules themselves.
import type { HostLinksDeps } from '../hosts/host-links.ts'
import type { LinkNotices } from '../hosts/link-notices.ts'
import type { HostRates } from '../hosts/rate-limit.ts'
import type { LinkConnectionView } from '../hosts/upstream-links.ts'
import { EVENT_TYPES } from '../observability/event-type-counter.ts'
import type { HostTarget } from '../upstream/types.ts'
import type { HostBook, HostNote, HostThreadReport } from './host-thread-messages.ts'

export interface HostReportsDeps {
  /** An event or frame a link dropped (already complete for its cursor). */
  readonly onDrop: HostLinksDeps['onDrop']
  readonly eventTypes?: { add(hostId: number, type: string, n: number): void }
  /** What a thread logged (a connection that failed to stop). */
  readonly logger: { error(obj: object, msg: string): void }
}

const NO_RATES: HostRates = { perSecond: 0, perHour: 0, perDay: 0 }

interface Known {
  readonly target: HostTarget
  book: HostBook
}

export class HostReports {
  readonly #d: HostReportsDeps
  readonly #known = new Map<number, Known>()
  /** Per thread: events handed to each shard, and rate pauses, as last reported (totals). */
  readonly #handed: (readonly number[])[]
  readonly #ratePauses: number[]
  #notices: LinkNotices | undefined

  constructor(deps: HostReportsDeps, threads: number) {
    this.#d = deps
    this.#handed = Array.from({ length: threads }, () => [])
    this.#ratePauses = Array.from({ length: threads }, () => 0)
  }

  /** The rules the notes go to (the hosts part's, given when it takes the links). */
  set notices(notices: LinkNotices) {
    this.#notices = notices
  }

  /** A host linked: its books are its stored cursor until its thread reports. */
  known(target: HostTarget, storedCursor: number | null): void {
    const book: HostBook = {
      id: target.id,
      cursor: storedCursor,
      connection: null,
      rates: NO_RATES,
    }
    this.#known.set(target.id, { target, book })
  }

  has(hostId: number): boolean {
    return this.#known.has(hostId)
  }

  cursor(hostId: number): number | null {
    return this.#known.get(hostId)?.book.cursor ?? null
  }

  cursors(): Map<number, number | null> {
    const out = new Map<number, number | null>()
    for (const [id, k] of this.#known) out.set(id, k.book.cursor)
    return out
  }

  connection(hostId: number): LinkConnectionView | undefined {
    return this.#known.get(hostId)?.book.connection ?? undefined
  }

  connectedHosts(): number[] {
    const out: number[] = []
    for (const [id, k] of this.#known) if (k.book.connection?.connected) out.push(id)
    return out
  }

  rates(hostId: number): HostRates {
    return this.#known.get(hostId)?.book.rates ?? NO_RATES
  }

  /** Events handed to each shard by every thread, by shard index. */
  handed(shards: number): number[] {
    const out = Array.from({ length: shards }, () => 0)
    for (const byShard of this.#handed) {
      byShard.forEach((n, i) => {
        out[i]! += n
      })
    }
    return out
  }

  get ratePauses(): number {
    return this.#ratePauses.reduce((a, b) => a + b, 0)
  }

  /** One report of thread `thread`: books first, then arrivals, then notes in order. */
  apply(thread: number, r: HostThreadReport): void {
    const books = r.books
    if (books) {
      for (const book of books.hosts) {
        const known = this.#known.get(book.id)
        if (known) known.book = book
      }
      this.#handed[thread] = books.handed
      this.#ratePauses[thread] = books.ratePauses
      const types = books.types
      for (let i = 0; i < types.length; i += 3) {
        this.#d.eventTypes?.add(types[i]!, EVENT_TYPES[types[i + 1]!]!, types[i + 2]!)
      }
    }
    for (const id of r.arrived ?? []) this.#notices?.eventsArrived(id)
    for (const note of r.notes) this.#note(note)
  }

  #note(note: HostNote): void {
    const notices = this.#notices
    switch (note[0]) {
      case 'drop':
        this.#d.onDrop(note[1], note[2], note[3], note[4])
        return
      case 'log':
        this.#d.logger.error(note[2], note[1])
        return
      case 'limited':
        notices?.rateLimited(note[1], note[2])
        return
      case 'ok':
        notices?.rateOk(note[1])
        return
    }
    // Every host a thread reports on was linked here first; a note for another is not acted on.
    const target = this.#known.get(note[1])?.target
    if (!target || !notices) return
    if (note[0] === 'state') notices.stateChange(target, note[2], note[3])
    else if (note[0] === 'info') notices.info(target, note[2], note[3])
    else notices.upstreamError(target, note[2], note[3])
  }
}
