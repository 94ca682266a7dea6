// Periodic checkpoints (docs/design.md §3): account states and upstream cursors are written to the
// database every few seconds, each with the event-log position they are consistent with, so a
// restart after a crash replays only the log written since.
// - Accounts: a snapshot of every changed state is consistent with the log's last seq at that
//   moment; the log is synced first, then states and `accounts_checkpoint_seq` are written in one
//   transaction.
// - Cursors: a host's cursor only covers events that are complete (written to the log or
//   dropped). Events accepted above a host's cursor (completed out of order) are in the log; so
//   that a restart does not receive and emit them twice, `cursors_scan_from` remembers the oldest
//   log seq holding such an event, and recovery rebuilds the skip sets from there.
import type { AccountCache } from '../accounts/account-cache.ts'
import type { LogRecord } from '../eventlog/types.ts'

export const ACCOUNTS_CHECKPOINT_KEY = 'accounts_checkpoint_seq'
export const CURSORS_SCAN_FROM_KEY = 'cursors_scan_from'

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
      if (r.hostId === 0) continue
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

export interface CheckpointDeps {
  readonly accounts: AccountCache
  readonly log: { readonly lastSeq: number; sync(): Promise<void> }
  readonly cursors: () => ReadonlyMap<number, number | null>
  readonly book: CursorBook
  /** Writes host cursors and the scan-from position (one transaction). */
  readonly saveCursors: (cursors: ReadonlyMap<number, number>, scanFrom: number) => Promise<void>
}

/** One checkpoint: sync the log, then write accounts and cursors. Returns accounts written. */
export async function checkpoint(d: CheckpointDeps): Promise<number> {
  const seq = d.log.lastSeq
  const cursors = d.cursors()
  const written = await d.accounts.write(seq, () => d.log.sync())
  const known = new Map<number, number>()
  for (const [id, c] of cursors) if (c !== null) known.set(id, c)
  const scanFrom = d.book.settle(cursors) ?? seq + 1
  await d.saveCursors(known, scanFrom)
  return written
}
