// Which accepted events a host's stored cursor does not cover yet. A host's cursor only passes
// events that are complete (written to the log, or dropped), in upstream seq order, so an event
// of a slow account can hold it back while later ones are already in the log. So that a restart
// does not receive and emit those again, the book keeps, per host, the log records above its
// cursor; the checkpoint stores the oldest log seq still needed (`cursors_scan_from`), and
// start-up recovery rebuilds the skip sets from there.
// Deliberately not here: the cursors themselves (hosts/ derives them) or writing anything.
import type { LogRecord } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'

/** Per host, the flushed records whose upstream seq is not yet covered by the host's cursor. */
export class CursorBook {
  readonly #pending = new Map<number, { upstreamSeq: number; seq: number }[]>()

  /** At start: records recovery found above their host's stored cursor. */
  seed(records: readonly { hostId: number; upstreamSeq: number; seq: number }[]): void {
    this.flushed(records)
  }

  /** The log's flush listener calls this with every written batch. */
  flushed(records: readonly Pick<LogRecord, 'hostId' | 'upstreamSeq' | 'seq'>[]): void {
    for (const r of records) {
      // The relay's own events, and those it made for a host's account (upstream seq 0, a
      // resync's #sync), are not part of any host's upstream sequence.
      if (r.hostId === RELAY_HOST_ID || r.upstreamSeq === 0) continue
      let list = this.#pending.get(r.hostId)
      if (!list) {
        list = []
        this.#pending.set(r.hostId, list)
      }
      list.push({ upstreamSeq: r.upstreamSeq, seq: r.seq })
    }
  }

  /** After a host's cursor reset: its old records no longer say anything about its new seqs. */
  forget(hostId: number): void {
    this.#pending.delete(hostId)
  }

  /** Forgets records the cursors now cover; returns the oldest log seq still needed (or null). */
  settle(cursors: ReadonlyMap<number, number | null>): number | null {
    let oldest: number | null = null
    for (const [hostId, list] of this.#pending) {
      const cursor = cursors.get(hostId) ?? null
      const rest = cursor === null ? list : list.filter((e) => e.upstreamSeq > cursor)
      if (rest.length === 0) {
        this.#pending.delete(hostId)
        continue
      }
      this.#pending.set(hostId, rest)
      for (const e of rest) if (oldest === null || e.seq < oldest) oldest = e.seq
    }
    return oldest
  }
}
