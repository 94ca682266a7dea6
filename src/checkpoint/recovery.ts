// Start-up recovery (docs/design.md §3): the relay's state as of the last checkpoint, brought up
// to the end of the event log.
// - Output seqs are never reused: a database that has seen seqs past the end of the log means
//   the log was lost or replaced, and the relay refuses to start (LostLogError says how to go on).
// - Account states: every record after the checkpoint covering its account (one for all, or one
//   per account shard: account-checkpoints.ts) is read back as the account
//   event it was (account-replay.ts) and applied with the one account-state rule; the result is
//   written before anything else reads the account table.
// - Host cursors: records above their host's stored cursor were already accepted; their upstream
//   seqs are returned as skip sets (the host's connection passes them silently) and kept in the
//   cursor book until the cursors pass them.
// - A host without a stored cursor (crawled since the last checkpoint, or whose first event was
//   still in flight then) was read from its live head, so nothing says where it was; its records
//   in the log do. It resumes just below the lowest upstream seq of them, with all of them as its
//   skip set: events it sent between them that were still in flight at the crash come again, and
//   none is emitted twice. (Resuming after the highest would lose those in flight; dialling the
//   live head again would lose everything the host sent while the relay was down.)
// Deliberately not here: starting connections or serving (the composition root does that after).

import type { AccountCache } from '../accounts/account-cache.ts'
import { applyAccountEvent } from '../accounts/account-events.ts'
import type { LogRecord } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { readAccountCheckpoints } from './account-checkpoints.ts'
import { replayedEvent } from './account-replay.ts'
import { CURSORS_SCAN_FROM_KEY } from './checkpointer.ts'
import type { CursorBook } from './cursor-book.ts'

/** The database has state past the end of the event log: reusing seqs would mislead consumers. */
export class LostLogError extends Error {
  override readonly name = 'LostLogError'
  readonly logLastSeq: number
  readonly databaseSeq: number

  constructor(persistDir: string, logLastSeq: number, databaseSeq: number) {
    super(
      `the event log in ${persistDir} ends at seq ${logLastSeq}, but the database has state up to seq ${databaseSeq}: the log was lost or replaced. Restore it, or start with --initial-seq-number ${databaseSeq + 1} on an empty log (consumers must then resubscribe).`,
    )
    this.logLastSeq = logLastSeq
    this.databaseSeq = databaseSeq
  }
}

export interface RecoveryDeps {
  readonly persistDir: string
  readonly log: {
    readonly lastSeq: number
    scan(afterSeq: number): AsyncIterable<LogRecord>
    sync(): Promise<void>
  }
  readonly meta: { get(key: string): Promise<string | undefined> }
  readonly accounts: AccountCache
  readonly book: CursorBook
  /** Each known host's stored cursor. */
  readonly hostCursors: ReadonlyMap<number, number | null>
  /** Runs once the recovered account states are written (counts and sets read from them). */
  readonly afterAccounts: () => Promise<void>
}

export interface RecoveryResult {
  readonly recordsReplayed: number
  readonly accountsUpdated: number
  /** Per host, upstream seqs above its stored cursor that are already in the log. */
  readonly skipSeqs: ReadonlyMap<number, ReadonlySet<number>>
  /** Per host without a stored cursor that has records in the log: the cursor to resume from. */
  readonly startCursors: ReadonlyMap<number, number>
}

export async function recoverAtStart(d: RecoveryDeps): Promise<RecoveryResult> {
  const checkpoints = await readAccountCheckpoints(d.meta)
  if (checkpoints.highest > d.log.lastSeq)
    throw new LostLogError(d.persistDir, d.log.lastSeq, checkpoints.highest)
  const cursorsScanFrom = Number((await d.meta.get(CURSORS_SCAN_FROM_KEY)) ?? 1)
  const skipSeqs = new Map<number, Set<number>>()
  const pending: { hostId: number; upstreamSeq: number; seq: number }[] = []
  let recordsReplayed = 0
  let accountsUpdated = 0
  const from = Math.max(0, Math.min(checkpoints.lowest, cursorsScanFrom - 1))
  for await (const record of d.log.scan(from)) {
    recordsReplayed++
    // The relay's own events, and those it made for a host's account (upstream seq 0, a
    // resync's #sync), are not part of any host's upstream sequence.
    if (
      record.hostId !== RELAY_HOST_ID &&
      record.upstreamSeq > 0 &&
      d.hostCursors.has(record.hostId)
    ) {
      const cursor = d.hostCursors.get(record.hostId) ?? null
      if (cursor === null || record.upstreamSeq > cursor) {
        const set = skipSeqs.get(record.hostId) ?? new Set<number>()
        skipSeqs.set(record.hostId, set)
        set.add(record.upstreamSeq)
        pending.push({ hostId: record.hostId, upstreamSeq: record.upstreamSeq, seq: record.seq })
      }
    }
    if (record.seq <= checkpoints.of(record.did)) continue
    const before = await d.accounts.get(record.did)
    const replayed = replayedEvent(record, before)
    if (!replayed) continue
    d.accounts.set(
      applyAccountEvent(before, replayed.did, replayed.event, record.timeMs),
      record.seq,
    )
    accountsUpdated++
  }
  d.book.seed(pending)
  // At once: nothing runs beside recovery, so pacing the write would only make start-up slower.
  await d.accounts.write(d.log.lastSeq, () => d.log.sync(), 'at-once')
  await d.afterAccounts()
  const startCursors = new Map<number, number>()
  for (const [hostId, seqs] of skipSeqs) {
    if ((d.hostCursors.get(hostId) ?? null) !== null) continue
    let lowest = Number.POSITIVE_INFINITY
    for (const s of seqs) if (s < lowest) lowest = s
    startCursors.set(hostId, lowest - 1)
  }
  return { recordsReplayed, accountsUpdated, skipSeqs, startCursors }
}
